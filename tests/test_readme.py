"""README.md works as written: every command in its ``bash`` blocks and every ``python`` block runs in a
fresh copy of the repository, offline, with ``lexiclass`` called the way the README says.

Commands that would take many minutes get a small ``--limit``/``--epochs`` appended (the table
`FASTER`); a command the README shows for a situation the copy is not in has its expected
answer in `EXPECTED_ERRORS`. A README command that this file does not know how to run, or that
fails, fails the test, so a new command in the README must work or be listed here.

The copy keeps file times, so ``bash scripts/setup`` finds the project's environment already
installed (``.venv`` links to it) and installs nothing; CI runs the real installation itself.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
# The project's shared folder beside the clone, or where these machines keep it.
SHARED = next((p.resolve() for p in (ROOT / ".." / "shared", Path("/work/shared")) if (p / "data").is_dir()),
              (ROOT / ".." / "shared").resolve())

# (regex on the README line, arguments appended) for commands that take minutes as written.
FASTER = [
    (r"^bash scripts/main$", "--epochs 1 --limit 300"),
    (r"^lexiclass train --model positional-transformer", "--epochs 1 --limit 300"),
    (r"^lexiclass train --model nbsvm --dataset ../shared/data/korean", "--limit 3000"),
]
EXPECTED_ERRORS = {  # shown for after a Ctrl-C; here the run it names is complete
    "lexiclass train --resume --out runs/pt": "already complete",
}
NOT_RUN = {"bash scripts/test": "it runs this test"}


def readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def readme_commands() -> list[str]:
    commands = []
    for block in readme_blocks("bash"):
        for line in block.splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).strip()  # trailing comments are two spaces away
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def fresh_copy(tmp_path: Path) -> Path:
    """The repository's tracked files (with their times) in tmp_path/lexiclass, ../shared beside it."""
    repo = tmp_path / "lexiclass"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "shared").symlink_to(SHARED)
    return repo


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_serve(command: str, repo: Path, env: dict) -> None:
    port = free_port()
    command = re.sub(r"--port \d+", f"--port {port}", command)
    server = subprocess.Popen(["bash", "-c", f"source .venv/bin/activate && exec {command}"], cwd=repo, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert server.poll() is None, f"{command} exited: {server.stdout.read()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(1)
        pytest.fail(f"{command}: /health did not answer within 180 s")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    if not (SHARED / "data" / "aclImdb_v1.tar.gz").exists():
        pytest.fail(f"the offline data at {SHARED / 'data'} is missing")
    stamp = ROOT / ".venv" / ".lexiclass-installed"
    newest = max((ROOT / name).stat().st_mtime for name in ("pyproject.toml", "requirements.lock"))
    if not stamp.exists() or stamp.stat().st_mtime < newest:  # the copy's setup would reinstall from the copy
        pytest.fail("the environment is older than pyproject.toml: run `bash scripts/setup` first")
    return fresh_copy(tmp_path_factory.mktemp("readme"))


def test_readme_commands_work_as_written(repo):
    env = {k: v for k, v in os.environ.items() if k not in ("LEXICLASS_IMDB_ARCHIVE", "VIRTUAL_ENV")}
    env["LEXICLASS_HOME"] = os.environ.get("LEXICLASS_HOME") or str(ROOT / ".cache" / "lexiclass")
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if not p.startswith(str(ROOT / ".venv")))
    env["http_proxy"] = env["https_proxy"] = "http://127.0.0.1:9"  # offline: any download would fail
    commands = readme_commands()
    assert any(c.startswith("lexiclass serve") for c in commands) and len(commands) > 10
    for command in commands:
        if command in NOT_RUN:
            continue
        if command.startswith("lexiclass serve"):
            run_serve(command, repo, env)
            continue
        extra = next((args for pattern, args in FASTER if re.search(pattern, command)), "")
        line = f"{command} {extra}".strip()
        activate = "" if command.startswith(("bash scripts/", "source ")) else "source .venv/bin/activate && "
        done = subprocess.run(["bash", "-c", activate + line], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=1200)
        if command in EXPECTED_ERRORS:
            assert done.returncode == 2 and EXPECTED_ERRORS[command] in done.stderr, (line, done.stderr[-2000:])
            assert "Traceback" not in done.stderr
            continue
        assert done.returncode == 0, f"README command failed: {line}\n{done.stdout[-1000:]}\n{done.stderr[-3000:]}"
    out = (repo / "predictions.csv").read_text().splitlines()
    assert out[0].startswith("id,") and [row.split(",")[0] for row in out[1:]] == ["a1", "a2", "a3"]
    assert (repo / "attention.png").exists() and (repo / "importance.html").exists()
    assert not (repo / "importance.png").exists()  # explain writes only where told
    assert (repo / "runs" / "quick-try" / "run.json").exists()  # the quick try keeps away from the full run


def test_readme_python_blocks_run(repo):
    env = {k: v for k, v in os.environ.items() if k != "LEXICLASS_IMDB_ARCHIVE"}
    env["LEXICLASS_HOME"] = os.environ.get("LEXICLASS_HOME") or str(ROOT / ".cache" / "lexiclass")
    for code in readme_blocks("python"):
        done = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, f"README python block failed:\n{code}\n{done.stderr[-3000:]}"
