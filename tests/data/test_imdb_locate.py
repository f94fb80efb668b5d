"""Where IMDB comes from: argument, environment, cache, offline copy, download; and progress while preparing it.

Nothing here downloads from the internet or reads the real archive: `isolated_imdb` hides the shared copy.
"""

import hashlib
from pathlib import Path

import pytest

import lexiclass
from lexiclass import progress as progress_module
from lexiclass.data import imdb
from lexiclass.data.download import extract
from lexiclass.data.imdb import find_imdb, load_imdb, locate_imdb, offline_archives, resolve_imdb_source
from lexiclass.data.user_files import read_labelled
from lexiclass.errors import DataError
from tests.data.imdb_fixture import build_imdb_tar

NO_URL = "http://127.0.0.1:9/never.tar.gz"  # the discard port: refused at once if ever tried


@pytest.fixture
def no_download(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(imdb, "download", refuse)


def archive(tmp_path, name="a.tar.gz", per_folder=3) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(build_imdb_tar(per_folder=per_folder))
    return path


def test_argument_comes_before_the_environment(tmp_path, isolated_imdb, monkeypatch, no_download):
    given, other = archive(tmp_path, "given.tar.gz"), archive(tmp_path, "env.tar.gz")
    monkeypatch.setenv(imdb.ARCHIVE_ENV, str(other))
    assert find_imdb(given) == given.resolve()
    assert find_imdb(None) == other.resolve()


def test_environment_comes_before_the_cache_and_the_offline_copy(tmp_path, isolated_imdb, monkeypatch, no_download):
    locate_imdb(archive(tmp_path, "first.tar.gz"), expected_per_folder=3)  # fills the cache
    isolated_imdb.append(archive(tmp_path, "shared/aclImdb_v1.tar.gz"))
    env = archive(tmp_path, "env.tar.gz")
    monkeypatch.setenv(imdb.ARCHIVE_ENV, str(env))
    assert find_imdb(None, expected_per_folder=3) == env.resolve()


def test_cache_comes_before_the_offline_copy(tmp_path, isolated_imdb, no_download):
    folder = locate_imdb(archive(tmp_path), expected_per_folder=3)
    isolated_imdb.append(archive(tmp_path, "shared/aclImdb_v1.tar.gz"))
    assert find_imdb(None, expected_per_folder=3) == folder
    assert locate_imdb(None, expected_per_folder=3) == folder


def test_incomplete_cache_copy_is_passed_over_for_the_offline_copy(tmp_path, isolated_imdb, no_download):
    locate_imdb(archive(tmp_path, per_folder=3), expected_per_folder=3)
    offline = archive(tmp_path, "shared/aclImdb_v1.tar.gz", per_folder=5)
    isolated_imdb.append(offline)
    assert find_imdb(None, expected_per_folder=5) == offline.resolve()
    assert load_imdb(None, expected_per_folder=5).sizes()["test"] == 10


def test_offline_copy_comes_before_a_download(tmp_path, isolated_imdb, no_download):
    isolated_imdb.extend([tmp_path / "not-there.tar.gz", archive(tmp_path, "shared/aclImdb_v1.tar.gz")])
    assert resolve_imdb_source(None, url=NO_URL, expected_per_folder=3) == str(isolated_imdb[1].resolve())


def test_offline_places_are_relative_to_the_working_folder_and_the_repository(tmp_path, monkeypatch):
    work = tmp_path / "team" / "checkout"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    places = offline_archives()
    assert places[0] == tmp_path / "team" / "shared" / "data" / "aclImdb_v1.tar.gz"
    checkout = Path(lexiclass.__file__).resolve().parents[2]  # src/lexiclass/__init__.py in an editable install
    assert (checkout / "pyproject.toml").is_file()
    assert checkout.parent / "shared" / "data" / "aclImdb_v1.tar.gz" in places
    assert places[-1] == Path("/work/shared/data/aclImdb_v1.tar.gz")
    assert all(p.is_absolute() for p in places) and len(places) == len(set(places))


def test_source_is_absolute_even_when_given_relative(tmp_path, isolated_imdb, monkeypatch, no_download):
    archive(tmp_path, "rel.tar.gz", per_folder=5)
    monkeypatch.chdir(tmp_path)
    source = resolve_imdb_source("rel.tar.gz")
    assert source == str(tmp_path.resolve() / "rel.tar.gz") and Path(source).is_absolute()
    monkeypatch.chdir("/")
    assert load_imdb(source, expected_per_folder=5).sizes()["test"] == 10  # the stored path works from elsewhere


def test_download_is_the_last_resort_and_its_source_is_the_cached_archive(tmp_path, isolated_imdb):
    payload = build_imdb_tar(per_folder=2)
    served = tmp_path / "served.tar.gz"
    served.write_bytes(payload)
    source = resolve_imdb_source(None, url=served.as_uri(), sha256=hashlib.sha256(payload).hexdigest(),
                                 size=len(payload), expected_per_folder=2)
    assert source == str((tmp_path / "home" / "downloads" / "aclImdb_v1.tar.gz").resolve())


def test_missing_environment_path_names_the_variable(tmp_path, isolated_imdb, monkeypatch):
    monkeypatch.setenv(imdb.ARCHIVE_ENV, str(tmp_path / "gone.tar.gz"))
    with pytest.raises(DataError, match=r"gone\.tar\.gz does not exist \(given by \$LEXICLASS_IMDB_ARCHIVE\)"):
        find_imdb(None)


def test_val_fraction_must_leave_a_validation_split(tmp_path, isolated_imdb):
    path = archive(tmp_path, per_folder=10)
    with pytest.raises(DataError, match=r"val_fraction must be a number greater than 0 .* got 0"):
        load_imdb(path, val_fraction=0, expected_per_folder=10)
    with pytest.raises(DataError, match=r"the validation split is empty \(training 20, validation 0, test 20"
                                        r" examples\): .*--val-fraction"):
        load_imdb(path, val_fraction=0.01, expected_per_folder=10)


# --- progress ------------------------------------------------------------------------------------------------


@pytest.fixture
def progress_lines(monkeypatch):
    """Progress enabled, a plain line at every update; stderr is captured (not a terminal)."""
    monkeypatch.setitem(progress_module._state, "enabled", True)
    monkeypatch.setitem(progress_module._state, "interval", 0.0)


def test_extraction_and_reading_print_progress_lines(tmp_path, isolated_imdb, progress_lines, capsys):
    load_imdb(archive(tmp_path, per_folder=20), expected_per_folder=20)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert any(line.startswith("extracting a.tar.gz:") and "100%" in line for line in err.splitlines()), err
    assert any(line.startswith("reading IMDB reviews:") and "80/80" in line for line in err.splitlines()), err


def test_progress_is_silent_when_disabled(tmp_path, isolated_imdb, monkeypatch, capsys):
    monkeypatch.setitem(progress_module._state, "enabled", False)
    load_imdb(archive(tmp_path, per_folder=20), expected_per_folder=20)
    assert capsys.readouterr().err == ""


def test_zip_extraction_shows_a_file_count(tmp_path, progress_lines, capsys):
    import zipfile

    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(7):
            zf.writestr(f"d/{i}.txt", f"file {i}")
    extract(path, tmp_path / "out")
    assert "7/7" in capsys.readouterr().err
    assert (tmp_path / "out" / "d" / "6.txt").read_text() == "file 6"


def test_reading_a_large_class_folder_tree_prints_progress(tmp_path, progress_lines, capsys):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(300):
            (tmp_path / cls / f"{i}.txt").write_text(f"{cls} {i}")
    texts, _ = read_labelled(tmp_path)
    assert len(texts) == 600
    assert any(line.startswith(f"reading {tmp_path.name}:") and "600/600" in line
               for line in capsys.readouterr().err.splitlines())
