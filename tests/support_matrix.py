"""The support matrix: every model family x command, crossed with precision, tokenizer, backend and labels.

A *combination* is (family, precision, tokenizer, backend, labels): ``labels`` "single" (one class per
text, a CSV) or "multi" (several labels per text, a JSON Lines file of label lists). `run_combination` trains a tiny run of it
through the command line, then runs each command on that run, the way a user would, and returns
one *outcome* per command:

- ``"ok"``: the command exited 0 and its output checked out (labels, shapes, files written);
- the one line the command printed to refuse (exit code 2, ``lexiclass CMD: error: ...``);
- ``"FAILED: ..."``: a traceback, a wrong exit code or a wrong answer. Never acceptable.

`render` turns outcomes into docs/support-matrix.md and `parse` reads that file back, so the file is
both the report and the expectation: tests/test_support_matrix.py compares what it ran with it.
The whole matrix runs in the slow suite; the default suite runs a subset (`DEFAULT_SUBSET`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lexiclass.config import MODEL_NAMES

KERAS_FAMILIES = ("bow", "bilstm", "glove-bilstm", "transformer", "positional-transformer")
TEXT_FAMILIES = tuple(name for name in MODEL_NAMES if name not in KERAS_FAMILIES)  # nbsvm..., tfidf, auto
COMMANDS = {  # key -> column title
    "train": "train",
    "resume": "resume after a kill",
    "evaluate": "evaluate",
    "predict": "predict TEXT",
    "predict-file": "predict --input",
    "predict-stdin": "predict -",
    "python": "Python API",
    "explain": "explain",
    "serve-predict": "serve /predict",
    "serve-explain": "serve /explain",
    "page": "page / (browser)",
    "savedmodel": "export savedmodel",
    "onnx": "export onnx, predict it",
    "ray": "predict --engine ray",
    "tune": "tune",
}
TINY = ["--max-tokens", "200", "--sequence-length", "48", "--embed-dim", "16", "--dense-dim", "8",
        "--num-heads", "2", "--lstm-units", "8", "--hidden-units", "8", "--batch-size", "16", "--epochs", "2",
        "--learning-rate", "0.01", "--bucket-multiple", "4", "--docvec-dim", "16", "--docvec-epochs", "2",
        "--docvec-min-count", "1", "--time-budget", "60", "--val-fraction", "0.25"]
TEXTS = ["a good great film, loved it", "bad awful boring and a waste"]
MULTI_LABELS = ("bird", "cat", "dog")  # tests.conftest.make_multilabel_texts' labels


@dataclass(frozen=True)
class Combination:
    family: str
    precision: str  # "float32" or "bfloat16"; "-" for families without a Keras network
    tokenizer: str  # "word" or "sentencepiece"
    backend: str  # "tensorflow", "jax" or "torch"
    labels: str = "single"  # "single" or "multi"

    @property
    def name(self) -> str:
        return f"{self.family}/{self.precision}/{self.tokenizer}/{self.backend}/{self.labels}"

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.family, self.precision, self.tokenizer, self.backend, self.labels)

    @property
    def multi(self) -> bool:
        return self.labels == "multi"


def combinations() -> list[Combination]:
    """Every combination of the matrix: Keras families x precision x tokenizer x backend (sentencepiece on jax and
    torch in float32 only); text families once (no Keras network, no precision), and nbsvm with sentencepiece
    (accepted and not used: the n-gram families keep their own word and character analyzers)."""
    out = [Combination(f, p, t, b) for b in ("tensorflow", "jax", "torch") for t in ("word", "sentencepiece")
           for p in ("float32", "bfloat16") for f in KERAS_FAMILIES
           if not (b != "tensorflow" and t == "sentencepiece" and p == "bfloat16")]
    out += [Combination(f, "-", "word", "tensorflow") for f in TEXT_FAMILIES]
    out += [Combination("nbsvm", "-", "sentencepiece", "tensorflow")]
    # Multi-label: every family on the default path (TensorFlow, words), Keras ones in float32 and the
    # positional Transformer also in bfloat16 (what --precision auto picks on AMX machines).
    out += [Combination(f, "float32", "word", "tensorflow", "multi") for f in KERAS_FAMILIES]
    out += [Combination("positional-transformer", "bfloat16", "word", "tensorflow", "multi")]
    out += [Combination(f, "-", "word", "tensorflow", "multi") for f in TEXT_FAMILIES]
    return out


def commands_for(combo: Combination) -> list[str]:
    """The commands the whole matrix runs for ``combo`` (the others show ``not run``), to keep it within
    about 30 minutes: every command on the default path (TensorFlow, words, either precision) and for
    every n-gram family; with sentencepiece, what reads tokens (not ray or tune, which score and train
    through the same calls); on JAX and PyTorch, what runs the network, fully in float32 with words."""
    if combo.multi:
        return list(COMMANDS)
    if combo.family in TEXT_FAMILIES:
        return list(COMMANDS) if combo.tokenizer == "word" else ["train"]
    if combo.backend == "tensorflow":
        if combo.tokenizer == "word":
            return list(COMMANDS)
        return ["train", "resume", "predict", "predict-file", "python", "explain", "serve-explain", "savedmodel",
                "onnx"]
    if combo.tokenizer == "word" and combo.precision == "float32":
        return ["train", "resume", "evaluate", "predict", "python", "explain", "serve-predict", "serve-explain",
                "savedmodel", "onnx"]
    return ["train", "predict", "python", "explain"]


# --- running one combination ------------------------------------------------------------

def cli(*argv, stdin: str | None = None) -> tuple[int, str, str]:
    """``lexiclass ARGV`` in this process: (exit code, stdout, stderr). An exception that escapes is a traceback."""
    from lexiclass.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    try:
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")  # has .buffer
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


class Refused(Exception):
    """The command refused with one line (exit code 2): the cell shows that line."""


def checked(code: int, out: str, err: str) -> str:
    """stdout of a command that succeeded; `Refused` with its one line, or AssertionError for anything else."""
    errors = [line for line in err.splitlines() if ": error: " in line]
    if code == 2 and len(errors) == 1 and "Traceback" not in err:
        raise Refused(errors[0].split(": error: ", 1)[1])
    assert code == 0, f"exit code {code}: {err.strip()[-600:]}"
    return out


def write_data(folder: Path, n: int = 240, multi: bool = False) -> Path:
    """A two-class ``text,label`` CSV of the suite's cue-word texts; ``multi``: a JSON Lines file of texts naming
    one or two of `MULTI_LABELS` with ``"labels": [...]`` lists."""
    from tests.conftest import make_multilabel_texts, make_texts

    if multi:
        texts, labels = make_multilabel_texts(n, list(MULTI_LABELS), seed=5)
        path = folder / "data.jsonl"
        path.write_text("".join(json.dumps({"text": t, "labels": [MULTI_LABELS[k] for k in row.nonzero()[0]]}) + "\n"
                                for t, row in zip(texts, labels)))
        return path
    texts, labels = make_texts(n, ["neg", "pos"], seed=5)
    path = folder / "data.csv"
    path.write_text("text,label\n" + "".join(f"{t},{'neg pos'.split()[y]}\n" for t, y in zip(texts, labels)))
    return path


def train_args(combo: Combination, data: Path, out: Path) -> list[str]:
    args = ["train", "--model", combo.family, "--dataset", data, "--out", out, "--quiet", "--backend", combo.backend,
            "--tokenizer", combo.tokenizer, *TINY]
    return args + (["--precision", combo.precision] if combo.precision != "-" else [])


def killed_then_resumed(combo: Combination, data: Path, work: Path) -> None:
    """Train, interrupted after the first epoch (Keras) or after the fit (text models); then ``--resume``."""
    from lexiclass.models import callbacks
    from lexiclass.training import fit

    out = work / "resumed"
    keras_model = combo.family in KERAS_FAMILIES
    target, name = (callbacks.RunCheckpoint, "on_epoch_end") if keras_model else (fit, "score_test_split")
    original = getattr(target, name)

    def kill(*args, **kwargs):
        if keras_model:
            original(*args, **kwargs)
        raise KeyboardInterrupt  # what Ctrl-C raises; a SIGKILL leaves the same files behind

    setattr(target, name, kill)
    try:
        code, _, err = cli(*train_args(combo, data, out))
    finally:
        setattr(target, name, original)
    assert code == 130 and "--resume" in err, (code, err[-500:])
    checked(*cli("train", "--resume", "--out", out, "--quiet", "--backend", combo.backend))
    assert json.loads((out / "run.json").read_text())["status"] == "complete"


def _predictions(lines: list[str]) -> list[dict]:
    rows = [json.loads(line) for line in lines if line.strip()]
    assert rows and all(row["label"] in ("neg", "pos") if "label" in row else set(row["labels"]) <= set(MULTI_LABELS)
                        for row in rows), lines[:3]
    return rows


def run_command(command: str, combo: Combination, run: Path, data: Path, work: Path, browser=None) -> None:
    """Run one command on the trained ``run``; return if it worked, raise `Refused` or AssertionError if not."""
    b = ["--backend", combo.backend]
    if command == "resume":
        killed_then_resumed(combo, data, work)
    elif command == "evaluate":
        out = checked(*cli("evaluate", run, "--format", "json", *b))
        metrics = json.loads(out)
        assert abs(metrics["accuracy"] - metrics["stored_accuracy"]) < 0.02, metrics
    elif command == "predict":
        assert len(_predictions(checked(*cli("predict", run, *TEXTS, *b)).splitlines())) == 2
    elif command == "predict-file":
        checked(*cli("predict", run, "--input", data, "--output", work / "p.csv", *b))
        rows = (work / "p.csv").read_text().splitlines()
        columns = ",labels,p_bird,p_cat,p_dog" if combo.multi else ",label,p_neg,p_pos"
        assert columns in rows[0] and len(rows) == 241, (rows[0], len(rows))
    elif command == "predict-stdin":
        assert len(_predictions(checked(*cli("predict", run, "-", *b, stdin="\n".join(TEXTS) + "\n"))
                                .splitlines())) == 2
    elif command == "python":
        python_api(run, combo.multi)
    elif command == "explain":
        out = checked(*cli("explain", run, TEXTS[0], "--html", work / "why.html", "--out", work / "att.png", *b))
        assert "prediction:" in out and (work / "why.html").stat().st_size > 0, out
        transformer = combo.family in ("transformer", "positional-transformer")
        assert (work / "att.png").exists() == transformer, out
    elif command in ("serve-predict", "serve-explain"):
        served(command, run)
    elif command == "page":
        (multi_label_page if combo.multi else page)(browser, run)
    elif command in ("savedmodel", "onnx"):
        out = checked(*cli("export", run, "--format", command, "--out", work / command, *b))
        assert "checked on" in out and (work / command / "export.json").exists(), out
        if command == "onnx":
            predicts_like_its_run(work / command, run, b)
    elif command == "ray":
        checked(*cli("predict", run, "--engine", "ray", "--input", data, "--output", work / "ray", "--workers", "1",
                     "--output-format", "csv", *b))
        assert sum(len(p.read_text().splitlines()) - 1 for p in (work / "ray").glob("*.csv")) == 240
        if combo.multi:
            assert all(",labels," in next(iter(p.open())) for p in (work / "ray").glob("*.csv"))
    elif command == "tune":
        space = work / "space.toml"
        space.write_text("seed = [1, 2]\n")
        args = train_args(combo, data, work / "tune")[1:] + ["--epochs", "1"]  # the last --epochs wins
        checked(*cli("tune", *args, "--space", space, "--trials", "1", "--engine", "local"))
        assert (work / "tune" / "best" / "run.json").exists()
    else:
        raise ValueError(command)


def predicts_like_its_run(export: Path, run: Path, backend_args: list[str]) -> None:
    """``lexiclass predict EXPORT`` (ONNX Runtime) gives the run's probabilities within the export's tolerance."""
    tolerance = json.loads((export / "export.json").read_text())["tolerance"]
    got = _predictions(checked(*cli("predict", export, *TEXTS)).splitlines())
    own = _predictions(checked(*cli("predict", run, *TEXTS, *backend_args)).splitlines())
    for mine, theirs in zip(got, own):
        assert mine["probabilities"].keys() == theirs["probabilities"].keys(), (mine, theirs)
        worst = max(abs(p - theirs["probabilities"][name]) for name, p in mine["probabilities"].items())
        assert worst <= tolerance, (mine, theirs, tolerance)


def python_api(run: Path, multi: bool = False) -> None:
    import numpy as np

    import lexiclass

    predictor = lexiclass.load(run)
    probs = predictor.predict_proba(TEXTS)
    if multi:  # one independent probability per label
        assert probs.shape == (2, 3) and ((probs >= 0) & (probs <= 1)).all(), probs
        assert set(predictor.predict(TEXTS[0])["labels"]) <= set(MULTI_LABELS)
        return
    assert probs.shape == (2, 2) and np.allclose(probs.sum(1), 1.0, atol=1e-3), probs
    assert predictor.predict(TEXTS[0])["label"] in ("neg", "pos")


def served(command: str, run: Path) -> None:
    from fastapi.testclient import TestClient

    from lexiclass.inference.serve import create_app

    with TestClient(create_app(run)) as client:
        if command == "serve-predict":
            answer = client.post("/predict", json={"texts": TEXTS})
            assert answer.status_code == 200, answer.text
            assert [p.get("label", p.get("labels")) for p in answer.json()["predictions"]] != [], answer.text
        else:
            answer = client.post("/explain", json={"text": TEXTS[0]})
            if answer.status_code in (400, 422):
                raise Refused(answer.json()["error"])
            assert answer.status_code == 200, answer.text
            body = answer.json()
            rows = [e["importance"] for e in body["explanations"]] if "explanations" in body else [body["importance"]]
            assert rows and all(len(body["tokens"]) == len(row) > 0 for row in rows), body


def page(browser, run: Path) -> None:
    """The page at / in headless Chromium: label and bars at once, then token shading (and heads)."""
    from selenium.webdriver.common.by import By

    from lexiclass.inference.serve import create_app
    from tests.inference.test_serve import running_server
    from tests.inference.test_web_page import shown, submit, wait_for

    with running_server(create_app(run)) as base:
        browser.get(base + "/")
        wait_for(browser, lambda: "classes" in browser.find_element(By.ID, "run-info").text, "run info")
        seen = submit(browser, TEXTS[0])
        assert seen["status"].startswith("Done") and seen["label"] in ("neg", "pos"), seen
        assert len(seen["bars"]) == 2, seen
        note = browser.find_element(By.ID, "explain-error")
        if note.is_displayed():
            raise Refused(f"page: prediction shown; {note.text}")
        assert seen["tokens"] and all(token[2] for token in seen["tokens"]), seen  # shaded
        transformer = "transformer" in json.loads((run / "config.json").read_text())["model"]
        assert seen["heads"] == (2 if transformer else 0), seen  # one attention map per head


def multi_label_page(browser, run: Path) -> None:
    """The page of a multi-label run: the chosen labels, a bar per label with its threshold, shaded tokens."""
    from selenium.webdriver.common.by import By

    from lexiclass.inference.serve import create_app
    from tests.inference.test_multilabel_serve import PAGE_STATE
    from tests.inference.test_serve import running_server
    from tests.inference.test_web_page import submit, wait_for

    with running_server(create_app(run)) as base:
        browser.get(base + "/")
        wait_for(browser, lambda: "multi-label" in browser.find_element(By.ID, "run-info").text, "run info")
        assert submit(browser, "a cat and a dog")["status"].startswith("Done")
        state = browser.execute_script(PAGE_STATE)
        assert set(state["chips"]) <= set(MULTI_LABELS) and [b[0] for b in state["bars"]] == list(MULTI_LABELS), state
        note = browser.find_element(By.ID, "explain-error")
        if note.is_displayed():
            raise Refused(f"page: prediction shown; {note.text}")
        assert state["groups"] and all(tokens for _, tokens in state["groups"]), state


def run_combination(combo: Combination, work: Path, commands=None, browser=None) -> dict[str, str]:
    """{command: outcome} for ``combo``, trained once in ``work``; ``commands`` default to `commands_for`.
    Without "train" among them, they run on the run an earlier call trained in ``work`` (the Ray cells of
    the whole matrix, which run after the others)."""
    commands = commands_for(combo) if commands is None else list(commands)
    run = work / "run"
    began = time.perf_counter()
    if "train" in commands:
        shutil.rmtree(work, ignore_errors=True)  # a fresh folder: nothing of an earlier run is reused
        work.mkdir(parents=True)
        data = write_data(work, multi=combo.multi)
        outcomes = {"train": _outcome(lambda: checked(*cli(*train_args(combo, data, run))))}
    else:
        data = work / ("data.jsonl" if combo.multi else "data.csv")
        outcomes = {"train": "ok" if (run / "run.json").exists() else f"FAILED: no earlier run in {work}"}
    seconds = {"train": round(time.perf_counter() - began, 1)}
    for command in commands:
        began = time.perf_counter()
        if command == "train":
            continue
        if outcomes["train"] != "ok":
            outcomes[command] = no_run(outcomes["train"])
            continue
        scratch = work / command
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        outcomes[command] = _outcome(lambda: run_command(command, combo, run, data, scratch, browser))
        seconds[command] = round(time.perf_counter() - began, 1)
    print(f"{combo.name} seconds: {seconds}", file=sys.stderr, flush=True)
    return {command: outcomes[command] for command in commands}


def no_run(train_outcome: str) -> str:
    """The cell of a command that had no run to work on, after ``train_outcome``."""
    return "no run: train " + ("failed" if train_outcome.startswith("FAILED") else "refused")


def _outcome(call) -> str:
    try:
        call()
    except Refused as refusal:
        return str(refusal)
    except Exception as exc:  # noqa: BLE001  a traceback or a wrong answer: the cell says which
        return f"FAILED: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return "ok"


# --- the document -------------------------------------------------------------------------

HEADER = """# Support matrix

Which model family works with which command, in which precision, with which tokenizer, on which
Keras backend. **Written by `tests/test_support_matrix.py`** from real runs on tiny data (240
labelled texts, two classes); do not edit it by hand. `LEXICLASS_WRITE_MATRIX=1 bash scripts/test -m matrix`
runs the whole matrix (about 30 minutes on 2 cores) and rewrites this file; without the variable the same run
fails when any outcome differs from this file. The default suite runs a subset (each family,
precision and command at least once) and checks those cells against this file.

`ok`: the command exited 0 and its output was checked (labels, probabilities summing to 1,
files written, an export matching lexiclass within its tolerance (an ONNX export also predicting through
`lexiclass predict EXPORT` within it), the page showing label, bars,
shaded tokens and one attention map per head). `refused [n]`: the command printed refusal n
below, one line, and exited 2. No cell is a traceback. `not run`: the matrix does not run that
command there (`commands_for` in tests/support_matrix.py says why). Precision `-`: the family has
no Keras network. `auto`'s cells are those of the model it chose on these texts (tfidf). "resume"
interrupts training (after epoch 1, or after an n-gram model's fit) and continues it with
`train --resume`. bfloat16 cells run on any CPU: natively with AMX or AVX512-BF16, emulated elsewhere.
Multi-label sections train on a JSON Lines file of texts carrying one or two of three labels
(`"labels": [...]`); their cells check label sets over the run's thresholds instead of one class.
"""


def render(results: dict[Combination, dict[str, str]]) -> str:
    refusals: list[str] = []
    lines = [HEADER]
    sections = [(labels, backend, tokenizer) for labels in ("single", "multi")
                for backend in ("tensorflow", "jax", "torch") for tokenizer in ("word", "sentencepiece")]
    for labels, backend, tokenizer in sections:
        rows = [(c, r) for c, r in results.items() if (c.backend, c.tokenizer, c.labels) == (backend, tokenizer, labels)]
        if not rows:
            continue
        kind = "multi-label, " if labels == "multi" else ""
        lines += [f"\n## {kind}backend {backend}, tokenizer {tokenizer}\n",
                  "| family | precision | " + " | ".join(COMMANDS.values()) + " |",
                  "|---|---|" + "---|" * len(COMMANDS)]
        for combo, outcome in rows:
            cells = [_cell(outcome.get(command, "not run"), refusals) for command in COMMANDS]
            lines.append(f"| {combo.family} | {combo.precision} | " + " | ".join(cells) + " |")
    lines.append("\n## Refusals\n")
    lines += [f"{i}. `` {text} ``" for i, text in enumerate(refusals, 1)] or ["(none)"]  # `` allows ` inside
    return "\n".join(lines) + "\n"


def _cell(outcome: str, refusals: list[str]) -> str:
    if outcome in ("ok", "not run"):
        return outcome
    if outcome.startswith("FAILED"):
        return outcome.replace("|", "/")
    if outcome not in refusals:
        refusals.append(outcome)
    return f"refused [{refusals.index(outcome) + 1}]"


def parse(markdown: str) -> dict[tuple[str, str, str, str, str], dict[str, str]]:
    """docs/support-matrix.md -> {(family, precision, tokenizer, backend, labels): {command: outcome}}."""
    refusals = dict(re.findall(r"^(\d+)\. `` (.*) ``$", markdown, flags=re.M))
    table, section = {}, None
    for line in markdown.splitlines():
        heading = re.match(r"## (multi-label, )?backend (\S+), tokenizer (\S+)", line)
        if heading:
            section = (heading.group(2), heading.group(3), "multi" if heading.group(1) else "single")
        elif section and line.startswith("| ") and not line.startswith("| family"):
            family, precision, *cells = [cell.strip() for cell in line.strip("|").split("|")]
            outcomes = {}
            for command, cell in zip(COMMANDS, cells):
                ref = re.fullmatch(r"refused \[(\d+)\]", cell)
                outcomes[command] = refusals[ref.group(1)] if ref else cell
            table[(family, precision, section[1], section[0], section[2])] = outcomes
    return table
