"""Files an attacker or a careless user would give: each is refused with one line naming file, line and field,
or (the last table) accepted with the right values."""

import json
import os

import pytest

from lexiclass.data.user_files import load_user_dataset, read_labelled
from lexiclass.errors import DataError

FIFO, LOOP, BROKEN = object(), object(), object()  # special entries of a folder tree


def good_rows(n: int = 6, labels=("a", "b")) -> bytes:
    """``n`` valid CSV rows (no header), alternating labels, lines 2..n+1 after a header."""
    return b"".join(f"text number {i},{labels[i % len(labels)]}\n".encode() for i in range(n))


def jline(record) -> bytes:
    return (json.dumps(record) + "\n").encode()


GOOD_JSONL = b"".join(jline({"text": f"fine {i}", "label": "ab"[i % 2]}) for i in range(4))
HEADER = b"text,label\n"


def tree(**folders):
    """A class-folder tree: ``{"pos/1.txt": b"..."}``; good neg/pos classes are added unless given."""
    files = {f"{cls}/{i}.txt": f"{cls} example {i}".encode() for cls in ("neg", "pos") for i in range(4)}
    files.update({k.replace("__", "/"): v for k, v in folders.items()})
    return files


# (name, file name, content, options, expected fragment, the message names the file)
ERRORS = [
    # --- the file as a whole
    ("empty file", "d.csv", b"", {}, "d.csv is empty", True),
    ("whitespace-only file", "d.csv", b"  \n\r\n\t\n", {}, "d.csv is empty", True),
    ("empty jsonl", "d.jsonl", b"\n\n", {}, "d.jsonl is empty", True),
    ("header only", "d.csv", HEADER, {}, "has a header but no rows", True),
    ("header only, CRLF", "d.csv", b"text,label\r\n", {}, "has a header but no rows", True),
    ("unsupported suffix", "d.xlsx", b"PK\x03\x04", {}, "unsupported file type '.xlsx'", True),
    ("folder named like a csv, no classes", "x.csv", {"README": b"hi"}, {}, "no class subfolders", True),
    ("png given as csv", "d.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "looks like a PNG image", True),
    ("gzip given as csv", "d.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00", {}, "looks like a gzip archive", True),
    ("zip given as jsonl", "d.jsonl", b"PK\x03\x04\x14\x00\x00\x00\x08\x00\xa0", {}, "zip archive", True),
    ("utf-16 read as utf-8", "d.csv", "text,label\nx,a\n".encode("utf-16"), {},
     "utf-16 byte-order mark: pass --encoding utf-16", True),
    ("utf-16 without BOM as latin-1", "d.csv", "text,label\nx,a\n".encode("utf-16-le"), {"encoding": "latin-1"},
     "line 1: NUL character at character 2", True),
    ("NUL byte in a csv", "d.csv", HEADER + good_rows(2) + b"bin\x00ary,a\n", {}, "line 4: NUL character", True),
    ("latin-1 without --encoding", "d.csv", HEADER + good_rows(3) + b"caf\xe9,a\n", {},
     "line 5: bytes not valid utf-8 at byte offset", True),
    ("truncated utf-8 sequence", "d.jsonl", GOOD_JSONL + b'{"text": "\xe2\x82", "label": "a"}\n', {},
     "line 5: bytes not valid utf-8", True),
    # --- settings
    ("unknown encoding", "d.csv", HEADER + good_rows(), {"encoding": "bogus"}, "unknown encoding 'bogus'", False),
    ("encoding that is not text", "d.csv", HEADER + good_rows(), {"encoding": "base64"},
     "'base64' is not a text encoding", False),
    ("empty encoding name", "d.csv", HEADER + good_rows(), {"encoding": ""}, "encoding must be a codec name", False),
    ("unknown encoding_errors", "d.csv", HEADER + good_rows(), {"encoding_errors": "bogus"},
     "unknown encoding_errors 'bogus' (use one of: strict, replace, ignore", False),
    ("surrogateescape is refused", "d.csv", HEADER + good_rows(), {"encoding_errors": "surrogateescape"},
     "encoding_errors 'surrogateescape' turns undecodable bytes into lone surrogates", False),
    ("encode-only handler", "d.csv", HEADER + good_rows(), {"encoding_errors": "xmlcharrefreplace"},
     "unknown encoding_errors", False),
    ("empty text column name", "d.csv", HEADER + good_rows(), {"text_column": ""},
     "text_column must be a non-empty column or field name, got ''", False),
    ("blank label column name", "d.csv", HEADER + good_rows(), {"label_column": "  "},
     "label_column must be a non-empty", False),
    ("text and label the same column", "d.csv", HEADER + good_rows(), {"text_column": "label"},
     "text_column and label_column are both 'label'", False),
    ("val_fraction 0", "d.csv", HEADER + good_rows(20), {"val_fraction": 0}, "val_fraction must be a number"
     " greater than 0 and less than 1 (e.g. 0.2), got 0", False),
    ("val_fraction 1", "d.csv", HEADER + good_rows(20), {"val_fraction": 1.0}, "got 1.0", False),
    ("val_fraction nan", "d.csv", HEADER + good_rows(20), {"val_fraction": float("nan")}, "got nan", False),
    ("val_fraction as text", "d.csv", HEADER + good_rows(20), {"val_fraction": "0.2"}, "got '0.2'", False),
    ("test_fraction 0", "d.csv", HEADER + good_rows(20), {"test_fraction": 0}, "test_fraction must be a number"
     " greater than 0 and less than 1 (e.g. 0.2), got 0 (or give a separate test file with --test-dataset)", False),
    ("negative test_fraction", "d.csv", HEADER + good_rows(20), {"test_fraction": -0.2}, "got -0.2", False),
    # --- header
    ("no text column", "d.csv", b"body,label\nx,a\n", {}, "d.csv, line 1: no column 'text' in the header"
     " (columns: body, label)", True),
    ("header with a stray space", "d.csv", b"text, label\nx,a\n", {}, "did you mean ' label'?", True),
    ("header in capitals", "d.csv", b"Text,Label\nx,a\n", {}, "did you mean 'Text'?", True),
    ("duplicate text column", "d.csv", b"text,label,text\nx,a,y\n", {}, "line 1: column 'text' appears 2 times",
     True),
    ("tsv file that is comma separated", "d.tsv", HEADER + good_rows(), {}, "no column 'text' in the header"
     " (columns: text,label)", True),
    ("custom column missing", "d.csv", HEADER + good_rows(), {"label_column": "y"}, "no column 'y'", True),
    # --- rows
    ("extra cells", "d.csv", HEADER + good_rows(3) + b"bad,b,extra\n", {}, "line 5: 3 fields, the header has 2", True),
    ("missing cell", "d.csv", HEADER + good_rows(3) + b"lonely\n", {}, "line 5: 1 field, the header has 2", True),
    ("whitespace line", "d.csv", HEADER + good_rows(3) + b"   \n", {}, "line 5: 1 field, the header has 2", True),
    ("empty text", "d.csv", HEADER + good_rows(3) + b",a\n", {}, "line 5: field 'text' is empty", True),
    ("whitespace-only text", "d.csv", HEADER + good_rows(3) + b'" \t ",a\n', {}, "line 5: field 'text' is empty",
     True),
    ("empty label", "d.csv", HEADER + good_rows(3) + b"words,\n", {}, "line 5: field 'label' is empty", True),
    ("unclosed quote swallowing the rest", "d.csv", HEADER + good_rows(2) + b'"never closed,a\n' + good_rows(50),
     {}, "line 4: a quoted field starts here and its closing quote is missing", True),
    ("text after a closing quote", "d.csv", HEADER + good_rows(2) + b'"quoted"tail,a\n', {},
     "line 4: bad quoting", True),
    ("tsv with an unclosed quote", "d.tsv", b'text\tlabel\n"He said hi\tpos\nok\tneg\n', {},
     "line 2: a quoted field starts here", True),
    ("multi-line record reported where it starts", "d.csv",
     HEADER + b'"one\ntwo\nthree",a\n"four\nfive",\n', {}, "line 5: field 'label' is empty", True),
    # --- labels and classes
    ("one class only", "d.csv", HEADER + good_rows(6, labels=("a",)), {}, "only one class ('a')", True),
    ("two-row file", "d.csv", HEADER + b"good film,pos\nbad film,neg\n", {},
     "class 'neg' has a single example (", True),
    ("class with a single example", "d.csv", HEADER + good_rows(6) + b"rare,c\n", {},
     "class 'c' has a single example (", True),
    ("class with two examples", "d.csv", HEADER + good_rows(6) + b"rare,c\nrarer,c\n", {},
     "class 'c' has only 2 examples: each class needs at least 3", True),
    ("one integer written two ways", "d.csv", HEADER + good_rows(6, labels=("1", "01", "2")), {},
     "labels '01' and '1' are the same number written two ways", True),
    ("swapped columns", "d.csv", HEADER + good_rows(30), {"text_column": "label", "label_column": "text"},
     "are text_column and label_column swapped?", True),
    # --- JSON Lines
    ("broken json line", "d.jsonl", GOOD_JSONL + b'{"text": "oops"\n', {}, "line 5: not valid JSON", True),
    ("pretty-printed object", "d.jsonl", b'{\n  "text": "x",\n  "label": "a"\n}\n', {},
     "line 1: not valid JSON (Expecting property name", True),
    ("jsonl of arrays", "d.jsonl", b'["x", "a"]\n["y", "b"]\n', {},
     "line 1: expected a JSON object with fields 'text' and 'label', got list", True),
    ("jsonl of strings", "d.jsonl", GOOD_JSONL + b'"just text"\n', {}, "line 5: expected a JSON object", True),
    ("missing label field", "d.jsonl", GOOD_JSONL + jline({"text": "x"}), {},
     "line 5: no field 'label' (fields: text)", True),
    ("text is null", "d.jsonl", GOOD_JSONL + jline({"text": None, "label": "a"}), {},
     "line 5: field 'text' must be text, got NoneType None", True),
    ("text is a number", "d.jsonl", GOOD_JSONL + jline({"text": 3.5, "label": "a"}), {},
     "line 5: field 'text' must be text, got float 3.5", True),
    ("text is a list", "d.jsonl", GOOD_JSONL + jline({"text": ["a", "b"], "label": "a"}), {},
     "line 5: field 'text' must be text, got list", True),
    ("text is an object", "d.jsonl", GOOD_JSONL + jline({"text": {"body": "x" * 500}, "label": "a"}), {},
     "line 5: field 'text' must be text, got dict {'body': 'xxx", True),
    ("label is a float", "d.jsonl", GOOD_JSONL + jline({"text": "x", "label": 1.5}), {},
     "line 5: field 'label' must be a string or integer label, got float 1.5", True),
    ("label is a boolean", "d.jsonl", GOOD_JSONL + jline({"text": "x", "label": True}), {},
     "got bool True", True),
    ("label is null", "d.jsonl", GOOD_JSONL + jline({"text": "x", "label": None}), {}, "got NoneType None", True),
    ("label list holding a list", "d.jsonl", GOOD_JSONL + jline({"text": "x", "label": ["a", ["b"]]}), {},
     "line 5: field 'label[1]' must be a string or integer label, got list ['b']", True),
    ("lone surrogate in text", "d.jsonl", GOOD_JSONL + b'{"text": "ab\\ud800c", "label": "a"}\n', {},
     "line 5: field 'text' has a lone surrogate U+D800 at character 3", True),
    ("low surrogate in label", "d.jsonl", GOOD_JSONL + b'{"text": "x", "label": "\\udfff"}\n', {},
     "line 5: field 'label' has a lone surrogate U+DFFF at character 1", True),
    ("escaped NUL in text", "d.jsonl", GOOD_JSONL + b'{"text": "a\\u0000b", "label": "a"}\n', {},
     "line 5: field 'text' has a NUL character (U+0000) at character 2", True),
    ("duplicate key", "d.jsonl", GOOD_JSONL + b'{"text": "x", "label": "a", "text": "y"}\n', {},
     "line 5: field 'text' appears twice", True),
    ("integer of 5,000 digits", "d.jsonl", GOOD_JSONL + b'{"text": "x", "label": ' + b"9" * 5000 + b"}\n", {},
     "line 5: JSON value not accepted", True),
    ("nesting 100,000 deep", "d.jsonl", GOOD_JSONL + b'{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
     {}, "line 5: JSON value not accepted", True),
    ("json array of arrays", "d.json", b'[["x", "a"], ["y", "b"]]', {}, "item 1: expected a JSON object", True),
    ("json array with a syntax error", "d.json", b'[\n {"text": "x", "label": "a"},\n {"text": }\n]', {},
     "d.json, line 3: not valid JSON", True),
    ("json object that is not an array", "d.json", b'{"data": [{"text": "x", "label": "a"}]}', {},
     "line 1: no field 'text' (fields: data)", True),
    # --- class folders
    ("empty class folder", "ds", tree(empty__=None), {}, "class folder", True),
    ("class folder with only hidden files", "ds", tree(**{"odd__.DS_Store": b"x"}), {}, "is empty", True),
    ("FIFO in a class folder", "ds", tree(pos__pipe=FIFO), {}, "pos/pipe is not a regular file", True),
    ("symlink loop in a class folder", "ds", tree(pos__loop=LOOP), {}, "pos/loop: cannot open", True),
    ("broken symlink in a class folder", "ds", tree(pos__gone=BROKEN), {}, "a broken symbolic link", True),
    ("nested folder in a class folder", "ds", tree(**{"pos__sub__1.txt": b"deep"}), {},
     "pos/sub is a folder inside class folder 'pos'", True),
    ("empty example file", "ds", tree(**{"pos__9.txt": b""}), {}, "pos/9.txt: field 'text' is empty", True),
    ("latin-1 example file", "ds", tree(**{"pos__9.txt": b"caf\xe9"}), {}, "pos/9.txt, line 1: bytes not valid", True),
    ("binary example file", "ds", tree(**{"pos__9.txt": b"\x00\x01\x02"}), {}, "pos/9.txt, line 1: NUL", True),
    ("class folder with one file", "ds", tree(**{"rare__only.txt": b"alone"}), {},
     "class 'rare' has a single example (", True),
]


def materialize(root, name, content):
    path = root / name
    if isinstance(content, bytes):
        path.write_bytes(content)
        return path
    path.mkdir()
    for rel, data in content.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            target.mkdir()
        elif data is FIFO:
            os.mkfifo(target)
        elif data is LOOP:
            os.symlink(target, target)
        elif data is BROKEN:
            os.symlink(path / "nowhere", target)
        else:
            target.write_bytes(data)
    return path


@pytest.mark.parametrize("name, filename, content, options, fragment, names_file", ERRORS, ids=[c[0] for c in ERRORS])
def test_refused_with_one_line_naming_the_problem(tmp_path, name, filename, content, options, fragment, names_file):
    path = materialize(tmp_path, filename, content)
    with pytest.raises(DataError) as info:
        load_user_dataset(path, **options)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    if names_file:
        assert str(path) in message


def test_class_folder_name_that_is_not_utf8(tmp_path):
    path = materialize(tmp_path, "ds", tree())
    os.mkdir(os.fsencode(path) + b"/caf\xe9")
    (path / os.fsdecode(b"caf\xe9") / "1.txt").write_text("x")
    with pytest.raises(DataError, match=r"ds/caf.*: the name is not valid UTF-8"):
        load_user_dataset(path)


def test_the_table_is_large_and_names_are_distinct():
    assert len(ERRORS) + len(ACCEPTED) >= 50
    names = [c[0] for c in ERRORS + ACCEPTED]
    assert len(names) == len(set(names))


# (name, file name, content, options for read_labelled, expected texts, expected labels)
LONG = "x" * 300_000
ACCEPTED = [
    ("csv with a UTF-8 BOM", "d.csv", b"\xef\xbb\xbftext,label\nx,a\n", {}, ["x"], ["a"]),
    ("tsv with a UTF-8 BOM", "d.tsv", b"\xef\xbb\xbftext\tlabel\nx\ta\n", {}, ["x"], ["a"]),
    ("jsonl with a UTF-8 BOM", "d.jsonl", b'\xef\xbb\xbf{"text": "x", "label": "a"}\n', {}, ["x"], ["a"]),
    ("BOM with encoding spelled UTF8", "d.csv", b"\xef\xbb\xbftext,label\nx,a\n", {"encoding": "UTF8"}, ["x"], ["a"]),
    ("class folder files with a BOM", "ds", {"a/1.txt": b"\xef\xbb\xbfone", "b/1.txt": b"two"}, {},
     ["one", "two"], ["a", "b"]),
    ("CRLF csv", "d.csv", b"text,label\r\nx,a\r\ny,b\r\n", {}, ["x", "y"], ["a", "b"]),
    ("CRLF jsonl", "d.jsonl", b'{"text": "x", "label": "a"}\r\n{"text": "y", "label": "b"}\r\n', {},
     ["x", "y"], ["a", "b"]),
    ("old Mac CR csv", "d.csv", b"text,label\rx,a\ry,b\r", {}, ["x", "y"], ["a", "b"]),
    ("field longer than the csv default limit", "d.csv", HEADER + f'"{LONG}",a\n'.encode(), {}, [LONG], ["a"]),
    ("quoted newline and comma", "d.csv", HEADER + b'"one, two\nthree",a\n', {}, ["one, two\nthree"], ["a"]),
    ("tsv with a quoted tab", "d.tsv", b'text\tlabel\n"a\tb"\tpos\n', {}, ["a\tb"], ["pos"]),
    ("tsv with quotes inside a field", "d.tsv", b'text\tlabel\nhe said "hi"\tpos\n', {}, ['he said "hi"'], ["pos"]),
    ("blank lines are skipped", "d.csv", b"text,label\n\nx,a\n\n\ny,b\n", {}, ["x", "y"], ["a", "b"]),
    ("line separator U+2028 inside a JSON string", "d.jsonl",
     '{"text": "a\u2028b\u0085c", "label": "x"}\n'.encode(), {}, ["a\u2028b\u0085c"], ["x"]),
    ("json array", "d.json", b'[{"text": "x", "label": "a"},\n {"text": "y", "label": 2}]', {},
     ["x", "y"], ["a", "2"]),
    ("integer labels become strings", "d.jsonl", b'{"text": "x", "label": 7}\n', {}, ["x"], ["7"]),
    ("labels are stripped", "d.csv", b"text,label\nx, pos \n", {}, ["x"], ["pos"]),
    ("latin-1 with --encoding", "d.csv", b"text,label\ncaf\xe9,a\n", {"encoding": "latin-1"}, ["caf\u00e9"], ["a"]),
    ("undecodable byte replaced", "d.csv", b"text,label\ncaf\xe9,a\n", {"errors": "replace"}, ["caf\ufffd"], ["a"]),
    ("utf-16 with --encoding", "d.csv", "text,label\nx,\u00e9\n".encode("utf-16"), {"encoding": "utf-16"},
     ["x"], ["\u00e9"]),
    ("extra columns are ignored", "d.csv", b"id,text,label,note\n1,x,a,n\n", {}, ["x"], ["a"]),
    ("hidden files and root files are skipped", "ds", {"README": b"r", "a/.swp": b"s", "a/1.txt": b"one",
                                                        ".git/x/1.txt": b"g", "b/1.txt": b"two"}, {},
     ["one", "two"], ["a", "b"]),
]


@pytest.mark.parametrize("name, filename, content, options, texts, labels", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_with_the_right_values(tmp_path, name, filename, content, options, texts, labels):
    path = materialize(tmp_path, filename, content)
    assert read_labelled(path, **options) == (texts, labels)


def test_many_rows_load(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(HEADER + good_rows(30_000, labels=("a", "b", "c")))
    data = load_user_dataset(path)
    assert sum(data.sizes().values()) == 30_000
    assert data.class_counts("test") == {"a": 2000, "b": 2000, "c": 2000}
