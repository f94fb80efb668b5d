"""`RowStream`: rows of txt/csv/tsv/jsonl/parquet in chunks, aligned with the input, with errors that name file and line."""

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lexiclass.data.row_stream import RowStream, detect_format
from lexiclass.errors import DataError


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read_all(path, **kwargs):
    """(texts, ids, {column: values}) of every chunk joined."""
    texts, ids, columns = [], [], {}
    with RowStream(path, **kwargs) as stream:
        for chunk in stream:
            texts += chunk.texts
            ids += list(chunk.ids.to_pylist() if hasattr(chunk.ids, "to_pylist") else chunk.ids)
            for name, values in chunk.columns.items():
                columns.setdefault(name, []).extend(values.to_pylist() if hasattr(values, "to_pylist") else values)
    return texts, ids, columns


@pytest.mark.parametrize("name, content, texts", [
    ("a.txt", "one\n\n  \ntwo\n", ["one", "", "  ", "two"]),
    ("crlf.txt", "one\r\n\r\ntwo", ["one", "", "two"]),
    ("bom.txt", "\ufeffone\ntwo\n", ["one", "two"]),
    # \x0b and \u2028 are line breaks for str.splitlines but not here: row N stays line N.
    ("odd.txt", "a\x0bb\nc\u2028d\n", ["a\x0bb", "c\u2028d"]),
    ("a.csv", "text\none\n\n\"\"\n\"two\nlines\"\n", ["one", "", "", "two\nlines"]),
    ("bom.csv", "\ufefftext,n\none,1\n", ["one"]),
    ("a.tsv", "n\ttext\n1\tone\n2\t two \n", ["one", " two "]),
    ("a.jsonl", '{"text": "one"}\n\n{"text": ""}\n{"text": null}\n', ["one", None, "", None]),
    ("bom.jsonl", '\ufeff{"text": "one"}\n', ["one"]),
])
def test_every_row_kept_in_order(tmp_path, name, content, texts):
    got, ids, _ = read_all(write(tmp_path, name, content))
    assert got == texts
    assert ids == list(range(1, len(texts) + 1))  # 1-based row numbers (a .txt row is its line)


def test_csv_columns_carried_and_blank_line_is_an_all_empty_row(tmp_path):
    path = write(tmp_path, "a.csv", "id,text,extra\n7,good,x\n\n9,bad,\n")
    texts, ids, columns = read_all(path, id_column="id")
    assert texts == ["good", "", "bad"]
    assert ids == ["7", "", "9"]
    assert columns == {"id": ["7", "", "9"], "text": ["good", "", "bad"], "extra": ["x", "", ""]}


def test_jsonl_columns_are_the_first_objects_fields(tmp_path):
    path = write(tmp_path, "a.jsonl", '\n{"id": 1, "text": "a", "meta": {"k": [1]}}\n{"text": "b", "id": 2}\n')
    texts, ids, columns = read_all(path, id_column="id")
    assert texts == [None, "a", "b"]
    assert ids == [None, 1, 2]
    assert columns == {"id": [None, 1, 2], "text": [None, "a", "b"], "meta": [None, {"k": [1]}, None]}


def test_chunks_split_rows_and_report_position(tmp_path):
    path = write(tmp_path, "a.txt", "".join(f"t{i}\n" for i in range(10)))
    with RowStream(path, chunk_rows=4) as stream:
        assert (stream.progress_total, stream.progress_unit) == (path.stat().st_size, "B")
        chunks = list(stream)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert chunks[-1].ids == [9, 10]
    assert chunks[-1].position == path.stat().st_size


def test_long_csv_field(tmp_path):
    long = "word " * 60_000  # 300,000 characters, over the csv module's default 131,072 limit
    texts, _, _ = read_all(write(tmp_path, "a.csv", f'n,text\n1,"{long}"\n2,short\n'))
    assert texts == [long, "short"]


def test_parquet_batches_keep_types(tmp_path):
    path = tmp_path / "a.parquet"
    table = pa.table({"id": pa.array([10, 11, 12], pa.int32()), "text": ["a", None, "c"]})
    pq.write_table(table, path)
    with RowStream(path, id_column="id", chunk_rows=2) as stream:
        assert (stream.progress_total, stream.progress_unit) == (3, "row")
        chunks = list(stream)
    assert [c.texts for c in chunks] == [["a", None], ["c"]]
    assert chunks[0].ids.type == pa.int32() and chunks[1].ids.to_pylist() == [12]
    assert [c.position for c in chunks] == [2, 3]


def test_stdin_is_one_text_per_line():
    with RowStream("-", stdin=io.BytesIO(b"a\n\nb\n")) as stream:
        assert stream.name == "<stdin>"
        assert [c.texts for c in stream] == [["a", "", "b"]]


def test_stdin_with_a_format():
    with RowStream("-", input_format="jsonl", stdin=io.BytesIO(b'{"text": "a"}\n')) as stream:
        assert [c.texts for c in stream] == [["a"]]


def test_other_encodings_are_decoded_line_by_line(tmp_path):
    korean = "문장 하나\n둘째, 문장\n"
    assert read_all(write(tmp_path, "k.txt", korean.encode("cp949")), encoding="cp949")[0] == ["문장 하나", "둘째, 문장"]
    # latin-1: bytes that look like a UTF-8 byte-order mark are text there, not a mark
    assert read_all(write(tmp_path, "l.csv", "text\n\xef\xbb\xbfcaf\xe9\n".encode("latin-1")),
                    encoding="latin-1")[0] == ["\xef\xbb\xbfcaf\xe9"]
    assert read_all(write(tmp_path, "r.txt", b"ok\nbad \xff\n"), encoding_errors="replace")[0] == ["ok", "bad \ufffd"]


BAD = [
    # (file name, content, options, parts of the message)
    ("a.csv", "body,n\nx,1\n", {}, ["a.csv", "no column 'text'", "columns: body, n"]),
    ("a.csv", "text,n\nx,1\n", {"id_column": "id"}, ["no column 'id'", "columns: text, n"]),
    ("a.csv", "text,text\nx,1\n", {}, ["line 1", "'text' appears twice"]),
    ("a.csv", "", {}, ["a.csv", "empty file"]),
    ("a.csv", "text,n\nx,1\ny\n", {}, ["a.csv, line 3", "1 fields, the header has 2"]),
    ("a.csv", "text,n\nx,1\ny,2,3\n", {}, ["line 3", "3 fields"]),
    ("a.tsv", "text\tn\nx\t1\nbad \xff\t2\n".encode("latin-1"), {}, ["a.tsv, line 3", "not valid UTF-8", "byte offset 15"]),
    ("a.txt", b"ok\nok\n\xed\xa0\x80 surrogate\n", {}, ["a.txt, line 3", "not valid UTF-8"]),
    ("a.txt", "x\n", {"id_column": "id"}, ["a.txt", "needs a table input"]),
    ("a.jsonl", '{"text": "a"}\n{"text": "b",}\n', {}, ["a.jsonl, line 2", "not valid JSON"]),
    ("a.jsonl", '{"text": "a"}\n[1]\n', {}, ["line 2", "expected a JSON object, got list"]),
    ("a.jsonl", '{"text": "a", "n": 1}\n\n{"n": 2}\n', {}, ["a.jsonl, line 3", "no field 'text'", "fields: n"]),
    ("a.jsonl", '{"text": "a", "id": 1}\n{"text": "b"}\n', {"id_column": "id"}, ["line 2", "no field 'id'"]),
    ("a.jsonl", '{"text": "a"}\n{"text": 5}\n', {}, ["line 2", "field 'text' must be text, got int 5"]),
    ("a.jsonl", '{"text": "a"}\n{"text": "b", "new": 1}\n', {}, ["line 2", "field 'new'", "first object"]),
    ("a.jsonl", '{"text": "a"}\n{"text": "x \\ud800 y"}\n', {}, ["a.jsonl, line 2", "field 'text'", "lone UTF-16 surrogate"]),
    ("a.xlsx", "x", {}, ["a.xlsx", "unsupported input type '.xlsx'"]),
    ("k.txt", "좋다\n".encode("cp949"), {}, ["k.txt, line 1", "not valid UTF-8"]),
    ("k.txt", "\ud55c\n".encode("utf-8"), {"encoding": "ascii"}, ["k.txt, line 1", "not valid ascii"]),
    ("u.txt", "x\n".encode("utf-16"), {"encoding": "utf-16"}, ["u.txt", "cannot be read line by line", "iconv"]),
    ("n.txt", "x\n", {"encoding": "no-such-codec"}, ["unknown encoding 'no-such-codec'"]),
]


@pytest.mark.parametrize("name, content, options, parts", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_names_file_and_line(tmp_path, name, content, options, parts):
    path = write(tmp_path, name, content)
    with pytest.raises(DataError) as caught:
        read_all(path, **options)
    message = str(caught.value)
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_parquet_text_column_must_hold_strings(tmp_path):
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), path)
    with pytest.raises(DataError, match=r"a.parquet: column 'text' has type int64, expected strings"):
        RowStream(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read .*nope.csv"):
        RowStream(tmp_path / "nope.csv")


def test_detect_format():
    assert [detect_format(p) for p in ("a.TXT", "b.csv", "c.tsv", "d.ndjson", "e.parquet", "-")] == \
        ["txt", "csv", "tsv", "jsonl", "parquet", "txt"]
    assert detect_format("data.dat", "csv") == "csv"
    with pytest.raises(DataError, match="unknown input format 'xml'"):
        detect_format("a.csv", "xml")


def test_jsonl_values_round_trip_through_json(tmp_path):
    rows = [{"text": "é ü 😀", "n": 1.5}]
    texts, _, columns = read_all(write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in rows)))
    assert texts == ["é ü 😀"] and columns["n"] == [1.5]
