"""--precision auto: the choice by CPU flags and backend, and what a run records."""

import json
import logging

import pytest

from lexiclass.config import TrainConfig
from lexiclass.errors import ConfigError
from lexiclass.precision import cpu_flags, resolve
from tests.conftest import make_dataset, tiny_config


@pytest.fixture(autouse=True)
def unpinned(monkeypatch):
    monkeypatch.delenv("LEXICLASS_PRECISION", raising=False)  # a user's or CI's own pin would change what auto picks


@pytest.mark.parametrize("flags, backend, expected", [
    ({"avx2", "avx512f", "avx512_bf16"}, "tensorflow", "bfloat16"),
    ({"amx_bf16", "amx_tile"}, "tensorflow", "bfloat16"),
    ({"avx2", "avx512f"}, "tensorflow", "float32"),  # AVX-512 without BF16: emulated, slower
    (set(), "tensorflow", "float32"),
    ({"avx512_bf16", "amx_bf16"}, "jax", "float32"),  # measured on TensorFlow only
    ({"avx512_bf16"}, "torch", "float32"),
])
def test_auto_picks_by_cpu_flags_and_backend(flags, backend, expected):
    used, why = resolve("auto", backend, flags)
    assert used == expected
    assert why.startswith("auto: ")
    if expected == "bfloat16":
        assert sorted({"avx512_bf16", "amx_bf16"} & flags)[0] in why


@pytest.mark.parametrize("requested", ["float32", "bfloat16"])
def test_explicit_precision_is_kept_whatever_the_cpu(requested):
    assert resolve(requested, "jax", set()) == (requested, "as requested")
    assert resolve(requested, "tensorflow", {"amx_bf16"})[0] == requested


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 amx_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == {"fpu", "avx2", "amx_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()


def test_auto_is_the_default_and_the_environment_can_pin_it(monkeypatch):
    assert TrainConfig().precision == "auto"
    monkeypatch.setenv("LEXICLASS_PRECISION", "float32")
    assert resolve("auto", "tensorflow", {"amx_bf16"}) == ("float32", "auto: $LEXICLASS_PRECISION = float32")
    monkeypatch.setenv("LEXICLASS_PRECISION", "bfloat16")
    assert resolve("auto", "jax", set())[0] == "bfloat16"
    assert resolve("float32", "tensorflow", set())[0] == "float32"  # an explicit choice beats the environment
    monkeypatch.setenv("LEXICLASS_PRECISION", "auto")
    assert resolve("auto", "tensorflow", set())[0] == "float32"
    monkeypatch.setenv("LEXICLASS_PRECISION", "fp8")
    with pytest.raises(ConfigError, match=r"\$LEXICLASS_PRECISION = 'fp8' is not one of auto, float32, bfloat16"):
        resolve("auto", "tensorflow", set())


def test_unknown_precision_is_refused():
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="float16")


def test_auto_run_records_the_precision_it_used(tmp_path, caplog):
    import keras

    from lexiclass.training.fit import train

    expected, why = resolve("auto", keras.backend.backend())
    with caplog.at_level(logging.INFO, logger="lexiclass.training.fit"):
        train(tiny_config("bow", precision="auto", epochs=1), tmp_path / "run", dataset=make_dataset(), verbose=0)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["precision"] == expected  # never "auto": the run says what it computed in
    assert f"precision: {expected} ({why})" in caplog.text


def test_auto_is_left_alone_for_models_without_keras(tmp_path, caplog):
    from lexiclass.training.fit import train

    with caplog.at_level(logging.INFO, logger="lexiclass.training.fit"):
        train(tiny_config("nbsvm", precision="auto"), tmp_path / "run", dataset=make_dataset(), verbose=0)
    assert "precision:" not in caplog.text
