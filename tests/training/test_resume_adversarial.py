"""Every state a kill or a hostile edit can leave in an interrupted run either resumes or says exactly
what to do; resume loads only files inside its own run folder that this run wrote."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import lexiclass
from lexiclass import run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.models import callbacks
from lexiclass.training.fit import train
from tests.conftest import make_dataset, tiny_config

CONFIG = dict(model="positional-transformer", epochs=3)


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A folder holding an interrupted run for ``out`` (killed after epoch 2 of 3) and a finished bow run."""
    root = tmp_path_factory.mktemp("interrupted")
    original = callbacks.RunCheckpoint.on_epoch_end

    def killed_after_epoch_2(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    callbacks.RunCheckpoint.on_epoch_end = killed_after_epoch_2
    try:
        with pytest.raises(KeyboardInterrupt):
            train(tiny_config(**CONFIG), root / "out", dataset=make_dataset(), verbose=0)
    finally:
        callbacks.RunCheckpoint.on_epoch_end = original
    train(tiny_config("bow", epochs=1), root / "other", dataset=make_dataset(), verbose=0)
    return root


@pytest.fixture
def copy(interrupted, tmp_path):
    shutil.copytree(interrupted, tmp_path / "w")
    return tmp_path / "w"


def resume(folder: Path, dataset=None):
    return train(tiny_config("bow"), folder / "out", resume=True, dataset=dataset or make_dataset(), verbose=0)


def state_path(folder: Path) -> Path:
    return rd.partial_dir(folder / "out") / "checkpoints" / "state.json"


def edit_state(**changes):
    def tamper(folder: Path):
        path = state_path(folder)
        state = json.loads(path.read_text())
        state.update(changes)
        path.write_text(json.dumps(state))
    return tamper


def _other_checkpoint(folder: Path):
    """A checkpoint file of the right name whose bytes come from another run."""
    ckpt = state_path(folder).parent
    name = json.loads(state_path(folder).read_text())["model"]
    shutil.copy(folder / "other" / "model.keras", ckpt / name)


def _symlinked_checkpoint(folder: Path):
    ckpt = state_path(folder).parent
    name = json.loads(state_path(folder).read_text())["model"]
    (ckpt / name).unlink()
    (ckpt / name).symlink_to(folder / "other" / "model.keras")


def _remove(relative):
    def tamper(folder: Path):
        path = rd.partial_dir(folder / "out") / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return tamper


def _write(relative, text):
    def tamper(folder: Path):
        (rd.partial_dir(folder / "out") / relative).write_text(text)
    return tamper


REFUSED = [
    ("model-path-escapes", edit_state(model="../../other/model.keras"), "must name a checkpoint file"),
    ("model-absolute-path", edit_state(model="/etc/passwd"), "must name a checkpoint file"),
    ("model-not-a-string", edit_state(model=["epoch-0002.keras"]), "must name a checkpoint file"),
    ("model-other-epoch", edit_state(model="epoch-0001.keras"), "do not match"),
    ("checkpoint-from-another-run", _other_checkpoint, "is not the checkpoint this run saved"),
    ("checkpoint-symlink", _symlinked_checkpoint, "is missing"),
    ("checkpoint-missing", lambda f: [p.unlink() for p in state_path(f).parent.glob("epoch-*.keras")],
     "is missing"),
    ("run-id-changed", edit_state(run_id="0" * 32), "is not the checkpoint this run saved"),
    ("checksum-changed", edit_state(model_sha256="0" * 64), "is not the checkpoint this run saved"),
    ("epochs-done-mismatch", edit_state(epochs_done=7), "do not match"),
    ("epochs-done-bool", edit_state(epochs_done=True), "do not match"),
    ("history-not-a-list", edit_state(history="x"), "do not match"),
    ("history-too-short", edit_state(history=[{}]), "do not match"),
    ("best-epoch-out-of-range", edit_state(best_epoch=99), "best / best_epoch"),
    ("best-not-a-number", edit_state(best="low"), "best / best_epoch"),
    ("state-not-json", _write("checkpoints/state.json", "{"), "state.json is damaged"),
    ("state-a-list", _write("checkpoints/state.json", "[]"), "state.json is damaged"),
    ("config-missing", _remove("config.json"), "stopped before its settings were saved"),
    ("config-tampered", _write("config.json", '{"embed_dim": 0}'), "embed_dim must be"),
    ("labels-tampered", _write("labels.json", '["a", "b"]'), "labels ['neg', 'pos'] differ"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_tampered_resume_state_is_refused_and_says_what_to_do(case, copy):
    name, tamper, fragment = case
    tamper(copy)
    with pytest.raises(LexiclassError) as info:
        resume(copy)
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert not (copy / "out").exists()  # nothing was published


def test_untampered_copy_resumes_to_the_end(copy):
    info = resume(copy)
    assert info["epochs_run"] == 3 and info["status"] == "complete"
    assert not rd.partial_dir(copy / "out").exists()


def test_deleting_the_checkpoints_restarts_the_run_from_epoch_1(copy):
    """What the refusal messages suggest must work: the run starts over with its saved settings."""
    shutil.rmtree(state_path(copy).parent)
    info = resume(copy)
    assert info["epochs_run"] == 3 and info["model"] == "positional-transformer"


def test_kill_before_the_first_epoch_resumes_from_scratch(copy):
    """A kill during vocabulary building leaves settings but no checkpoint and no vocabulary."""
    work = rd.partial_dir(copy / "out")
    for name in ("checkpoints", "vocabulary.txt", "vectorizer.json", "model.keras", "history.csv"):
        _remove(name)(copy)
    info = resume(copy)
    assert info["epochs_run"] == 3 and (copy / "out" / "vocabulary.txt").exists()
    assert not work.exists()


def test_kill_right_after_settings_were_written_resumes(copy):
    """Only config.json and labels.json exist (run.json not yet): --resume starts the run."""
    work = rd.partial_dir(copy / "out")
    for path in list(work.iterdir()):
        if path.name not in ("config.json", "labels.json"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    info = resume(copy)
    assert info["status"] == "complete"


def test_leftover_temporary_files_are_removed_on_resume(copy):
    work = rd.partial_dir(copy / "out")
    (work / ".training_curves.abc123.tmp").write_bytes(b"half a png")
    (work / ".model.xyz.keras").write_bytes(b"half a model")
    (work / "checkpoints" / ".state.q1.tmp").write_text("{")
    resume(copy)
    leftovers = [p.name for p in (copy / "out").rglob(".*")]
    assert leftovers == []


def test_without_resume_an_interrupted_run_is_not_destroyed(copy):
    before = sorted(p.name for p in rd.partial_dir(copy / "out").iterdir())
    with pytest.raises(LexiclassError, match="an interrupted run for .* exists: continue it with"):
        train(tiny_config("bow"), copy / "out", dataset=make_dataset(), verbose=0)
    assert sorted(p.name for p in rd.partial_dir(copy / "out").iterdir()) == before


def test_a_kill_between_the_two_renames_is_finished_on_the_next_start(copy, tmp_path):
    """--overwrite renames the old run aside, then the new one into place; a kill between them
    leaves no run at --out. The next train (or resume) finishes the swap instead of losing either."""
    out, other = copy / "out", copy / "other"
    resume(copy)  # a complete run in out
    complete_id = json.loads((out / "run.json").read_text())["run_id"]
    # Simulate the kill: the new (complete) run still in the partial folder, the old one renamed aside.
    shutil.copytree(out, rd.partial_dir(other))
    other.rename(rd.replaced_dir(other))
    with pytest.raises(LexiclassError, match="already complete"):
        train(tiny_config("bow"), other, resume=True, dataset=make_dataset(), verbose=0)
    assert json.loads((other / "run.json").read_text())["run_id"] == complete_id
    assert not rd.replaced_dir(other).exists() and not rd.partial_dir(other).exists()
    assert lexiclass.load(other).predict("great superb")["label"] == "pos"
