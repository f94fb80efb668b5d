import pytest

from lexiclass.config import TrainConfig, load_config
from lexiclass.errors import ConfigError


def test_defaults_are_the_books_except_batching():
    c = TrainConfig()
    assert (c.max_tokens, c.sequence_length, c.batch_size, c.embed_dim, c.dense_dim, c.num_heads) == (
        20000, 600, 32, 256, 32, 2)
    assert (c.lstm_units, c.dropout, c.val_fraction, c.split_seed, c.monitor) == (32, 0.5, 0.2, 1337, "val_loss")
    assert c.batching == "bucket"


def test_toml_then_command_line(tmp_path):
    (tmp_path / "c.toml").write_text('model = "bilstm"\nepochs = 3\nlstm-units = 64\n[unused]\n'.replace("[unused]\n", ""))
    c = load_config(tmp_path / "c.toml", {"epochs": "5"})
    assert (c.model, c.epochs, c.lstm_units) == ("bilstm", 5, 64)


def test_yaml_and_train_table(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  model: bow\n  bow_mode: tf_idf\n  ngrams: 3\n")
    c = load_config(tmp_path / "c.yaml")
    assert (c.model, c.bow_mode, c.ngrams) == ("bow", "tf_idf", 3)


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path):
    (tmp_path / "c.toml").write_text("embed_dims = 128\n")
    with pytest.raises(ConfigError, match=r"c\.toml: unknown setting 'embed_dims' \(did you mean 'embed_dim'\?\)"):
        load_config(tmp_path / "c.toml")


@pytest.mark.parametrize("key,value,message", [
    ("epochs", "many", "'many' is not a valid int"),
    ("dropout", "1.5", "dropout must be in"),
    ("batching", "random", "batching = 'random' is not one of bucket, fixed"),
    ("model", "gpt", "unknown model 'gpt'"),
    ("epochs", 2.5, "2.5 is not a valid int"),
    ("glove_trainable", "maybe", "'maybe' is not a valid bool"),
])
def test_bad_values_name_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().updated({key: value}, source="command line")


def test_optional_values_and_bools():
    c = TrainConfig().updated({"limit": "none", "glove_trainable": "true", "epochs": "7"})
    assert c.limit is None and c.glove_trainable is True and c.epochs == 7


def test_round_trip_through_dict():
    c = TrainConfig(model="bow", ngrams=3, limit=100)
    assert TrainConfig.from_dict(c.to_dict()) == c


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("model = \n")
    with pytest.raises(ConfigError, match=r"bad\.toml"):
        load_config(tmp_path / "bad.toml")
    (tmp_path / "c.ini").write_text("x")
    with pytest.raises(ConfigError, match="use .toml, .yaml"):
        load_config(tmp_path / "c.ini")


def test_config_sits_below_the_models():
    # The config checks model names without importing lexiclass.models (data flows one way).
    import subprocess
    import sys

    code = ("import sys, lexiclass.config as c; c.TrainConfig(model='nbsvm-docvec'); "
            "print(sorted(m for m in sys.modules if m.startswith('lexiclass.models')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    from lexiclass.config import MODEL_NAMES
    from lexiclass.models.registry import MODELS

    assert tuple(MODELS) == MODEL_NAMES
