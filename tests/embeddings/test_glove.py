import gzip
import zipfile

import numpy as np
import pytest

from lexiclass.embeddings.glove import embedding_matrix, load_glove, parse_glove
from lexiclass.errors import DataError

LINES = "the 0.418 0.24968 -0.41242\ncafé 1.5 -2 0.25\n, 0.013441 0.23682 -0.16899\n"


def test_parse_plain_file_with_non_ascii_word(tmp_path):
    path = tmp_path / "glove.txt"
    path.write_text(LINES, encoding="utf-8")
    glove = parse_glove(path)
    assert glove.dim == 3 and len(glove) == 3
    assert glove["café"].dtype == np.float32
    np.testing.assert_array_equal(glove["café"], np.array([1.5, -2, 0.25], dtype=np.float32))
    np.testing.assert_allclose(glove["the"], [0.418, 0.24968, -0.41242], rtol=1e-6)


def test_parse_gzip_and_zip_member(tmp_path):
    with gzip.open(tmp_path / "g.txt.gz", "wt", encoding="utf-8") as f:
        f.write(LINES)
    assert parse_glove(tmp_path / "g.txt.gz")["café"][1] == -2
    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as zf:
        zf.writestr("glove.6B.3d.txt", LINES)
        zf.writestr("glove.6B.4d.txt", "a 1 2 3 4\n")
    assert parse_glove(tmp_path / "glove.6B.zip", member="glove.6B.4d.txt").dim == 4
    assert parse_glove(f"{tmp_path}/glove.6B.zip:glove.6B.3d.txt")["the"].shape == (3,)
    with pytest.raises(DataError, match="name the member"):
        parse_glove(tmp_path / "glove.6B.zip")
    with pytest.raises(DataError, match="no member 'glove.6B.9d.txt'"):
        parse_glove(tmp_path / "glove.6B.zip", member="glove.6B.9d.txt")


@pytest.mark.parametrize("bad_line", ["word 1.0 2.0", "word 1.0 x 3.0", " 1 2 3"])
def test_malformed_line_is_reported_with_its_number(tmp_path, bad_line):
    path = tmp_path / "g.txt"
    path.write_text(LINES + bad_line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"g\.txt, line 4: malformed GloVe line"):
        parse_glove(path)


def test_non_utf8_file_is_rejected(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(b"caf\xe9 1 2 3\n")
    with pytest.raises(DataError, match="not valid UTF-8"):
        parse_glove(path)


def test_embedding_matrix_rows_and_coverage(tmp_path):
    path = tmp_path / "g.txt"
    path.write_text(LINES, encoding="utf-8")
    glove = parse_glove(path)
    vocab = ["", "[UNK]", "the", "zebra", "café"]
    matrix, coverage = embedding_matrix(vocab, glove, max_tokens=6)
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[2], glove["the"])
    np.testing.assert_array_equal(matrix[4], glove["café"])
    assert not matrix[[0, 1, 3, 5]].any()  # padding, OOV, unknown word and unused row stay zero
    assert coverage["found"] == 2 and coverage["missing"] == 1 and coverage["examples_missing"] == ["zebra"]


def test_offline_package_has_the_glove_6b_50d_vectors():
    glove = load_glove()
    assert len(glove) == 400_000 and glove.dim == 50
    np.testing.assert_allclose(glove["the"][:3], [0.418, 0.24968, -0.41242], rtol=1e-5)


def test_stanford_source_downloads_the_zip_and_reads_the_member(tmp_path, monkeypatch):
    import hashlib

    with zipfile.ZipFile(tmp_path / "glove.6B.zip", "w") as zf:
        zf.writestr("glove.6B.50d.txt", LINES)
    payload = (tmp_path / "glove.6B.zip").read_bytes()
    monkeypatch.setenv("LEXICLASS_HOME", str(tmp_path / "home"))
    glove = load_glove("stanford-50d", url=(tmp_path / "glove.6B.zip").as_uri(),
                       sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
    assert glove.dim == 3 and "café" in glove
    assert (tmp_path / "home" / "downloads" / "glove.6B.zip").exists()
    with pytest.raises(DataError, match="stanford-50d, -100d"):
        load_glove("stanford-64d")
