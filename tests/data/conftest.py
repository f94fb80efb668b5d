"""Fixtures for the data tests: an IMDB lookup that can only see the test's own temporary folders."""

import pytest

from lexiclass.data import imdb


@pytest.fixture
def isolated_imdb(tmp_path, monkeypatch):
    """No environment variable, an empty cache in ``tmp_path/home``, no offline copy; returns the offline list
    (append paths to it to simulate a shared copy)."""
    monkeypatch.setenv("LEXICLASS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(imdb.ARCHIVE_ENV, raising=False)
    offline = []
    monkeypatch.setattr(imdb, "offline_archives", lambda: list(offline))
    return offline
