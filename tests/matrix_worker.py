"""Run support-matrix combinations of one Keras backend in a process of its own (Keras fixes its backend at import).

    python -m tests.matrix_worker OUT.json WORKDIR JOBS.json

JOBS.json: ``[[family, precision, tokenizer, backend, [command, ...] or null], ...]``, every job on the
same backend. Writes ``[[family, precision, tokenizer, backend, {command: outcome}], ...]`` to OUT.json.
The page column drives headless Chromium when it is found (else its cells say so).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path


@contextlib.contextmanager
def maybe_browser(needed: bool):
    """A headless Chromium driven by Selenium, or None when not needed or not installed."""
    from tests.inference.test_web_page import CHROMIUM_FLAGS, find_browser

    found = find_browser() if needed else None
    if found is None:
        yield None
        return
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    profile = tempfile.mkdtemp(prefix="lexiclass-matrix-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(options=options, service=Service(found[1]))
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)  # ~7 MB of Chromium profile per worker, left in /tmp before


def main() -> None:
    out, work, jobs_file = sys.argv[1:4]
    jobs = json.loads(Path(jobs_file).read_text())
    backends = {job[3] for job in jobs}
    assert len(backends) == 1, f"one backend per worker, got {backends}"
    from lexiclass.backend import select

    select(backends.pop())
    from tests.support_matrix import Combination, commands_for, run_combination

    planned = [job[5] if job[5] is not None else commands_for(Combination(*job[:5])) for job in jobs]
    if any("ray" in commands for commands in planned):
        import ray  # one local Ray for every `predict --engine ray` cell: each call reuses it

        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3", "LEXICLASS_QUIET": "1"}})
    results = []
    with maybe_browser(any("page" in commands for commands in planned)) as browser:
        for family, precision, tokenizer, backend, labels, commands in jobs:
            combo = Combination(family, precision, tokenizer, backend, labels)
            outcomes = run_combination(combo, Path(work) / combo.name.replace("/", "-"), commands, browser)
            if browser is None and "page" in outcomes:
                outcomes["page"] = "not run: no Chromium + chromedriver found"
            results.append([family, precision, tokenizer, backend, labels, outcomes])
            Path(out).write_text(json.dumps(results))  # after each: a crash keeps what was done
            print(f"{combo.name}: " + ", ".join(f"{k}={'ok' if v == 'ok' else 'x'}" for k, v in outcomes.items()),
                  file=sys.stderr, flush=True)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
