"""`lexiclass data` on multi-label files: the flags are offered and the label counts printed."""

import json

from lexiclass.cli import main


def test_data_prints_label_counts_of_multi_label_data(tmp_path, capsys):
    rows = [(f"text number {i}", ["a|b", "b", "c|a", ""][i % 4]) for i in range(40)]
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + "".join(f"{t},{labels}\n" for t, labels in rows), encoding="utf-8")
    assert main(["data", str(path), "--label-separator", "|", "--test-fraction", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "labels (3, multi-label, 1.2" in out and "per training text): a=" in out
    assert main(["data", str(path)]) == 2  # without the separator "a|b" is one class and "" an empty label
    assert "line 5: field 'label' is empty" in capsys.readouterr().err


def test_data_takes_multi_label_and_a_validation_file(tmp_path, capsys):
    lines = [json.dumps({"text": f"text {i}", "label": "xy"[i % 2]}) for i in range(20)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "v.jsonl").write_text('{"text": "val", "label": "x"}\n{"text": "val 2", "label": "y"}\n')
    assert main(["data", str(tmp_path / "d.jsonl"), "--multi-label", "--val-dataset", str(tmp_path / "v.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "val: 2 " in out and "labels (2, multi-label, 1.00 per training text)" in out
    assert main(["data", "imdb", "--multi-label"]) == 2
    assert "imdb has one label per review" in capsys.readouterr().err
