"""What keeps a batch's fixed time small (issue 16): the next file is handed out before the parent
commits a result, the parent's end-of-run imports are warmed in the background, the CLI skips
the interpreter teardown, and SELFEVAL_XL_TIMING shows where the time outside the files goes."""
from __future__ import annotations

import importlib.util
import io
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SAMPLE
from selfeval_xl import batch, timing


def _box(tmp_path: Path, *names: str) -> Path:
    box = tmp_path / "in"
    box.mkdir()
    for n in names:
        shutil.copy2(SAMPLE, box / n)
    return box


@pytest.mark.slow
def test_next_file_starts_while_the_parent_commits_the_last(tmp_path, monkeypatch):
    """-j 1: while the parent is still committing a.xlsx (its _finish), the worker already works
    on b.xlsx (the fault hook's marker appears), i.e. the parent's bookkeeping is off the
    worker's path."""
    marker = tmp_path / "b-started"
    monkeypatch.setenv(batch.FAULT_ENV, f"touch={marker}:b.xlsx")
    seen: dict[str, bool] = {}
    finish = batch.Batch._finish

    def slow_finish(self, task, res, done):
        if task["rel"] == "a.xlsx":
            deadline = time.monotonic() + 30
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            seen["b started during a's commit"] = marker.exists()
        return finish(self, task, res, done)

    monkeypatch.setattr(batch.Batch, "_finish", slow_finish)
    box = _box(tmp_path, "a.xlsx", "b.xlsx")
    rc = batch.run(box, tmp_path / "out", batch.Options(report=False, jobs=1, overview=False), out=io.StringIO())
    assert rc == 0
    assert seen == {"b started during a's commit": True}
    files = {e["input"]: e for e in json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))["files"]}
    assert files["a.xlsx"]["status"] == files["b.xlsx"]["status"] == "ok"


@pytest.mark.slow
def test_timing_file_lists_the_phases_in_order(tmp_path, monkeypatch):
    path = tmp_path / "timing.json"
    monkeypatch.setenv(timing.TIMING_ENV, str(path))
    box = _box(tmp_path, "a.xlsx")
    rc = batch.run(box, tmp_path / "out", batch.Options(jobs=1), out=io.StringIO())
    assert rc == 0
    data = json.loads(path.read_text(encoding="utf-8"))
    names = [n for n, _ in data["marks"]]
    order = ["run", "locked", "discovered", "pool_start", "spawned", "worker_ready", "pool_done",
             "summary_imported", "summary", "run_json", "overview", "end"]
    assert [n for n in names if n in order] == order
    assert "parent_warm" in names
    stamps = [t for n, t in data["marks"] if n in order]
    assert stamps == sorted(stamps)
    assert data["totals"]["on_result"] > 0  # the parent's time committing the one result


def test_timing_is_off_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(timing.TIMING_ENV, raising=False)
    timing.mark("x")
    with timing.spent("y"):
        pass
    timing.dump()  # nowhere to write: nothing happens, nothing raises
    assert not timing.enabled()


def test_parent_preload_names_are_real_modules():
    """A renamed module would silently stop being warmed: every name must resolve."""
    for name in batch.PARENT_PRELOAD + batch.OVERVIEW_PRELOAD:
        assert importlib.util.find_spec(name) is not None, name


def test_warm_parent_imports_and_never_raises(monkeypatch):
    monkeypatch.setattr(batch, "PARENT_PRELOAD", ("json", "selfeval_xl.no_such_module"))
    t = batch.warm_parent(overview=False)
    t.join(60)
    assert not t.is_alive()
    assert "json" in sys.modules


def test_entry_runs_atexit_handlers_and_exits_with_mains_code(tmp_path):
    """cli.entry ends with os._exit after main(): atexit handlers still run, the output is
    flushed, the exit code is main()'s."""
    code = ("import atexit, sys\n"
            "from selfeval_xl import cli\n"
            "atexit.register(lambda: print('atexit ran', flush=True))\n"
            f"sys.argv = ['selfeval-xl', 'check', {str(tmp_path / 'missing.xlsx')!r}]\n"
            "cli.entry()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2  # EXIT_USAGE: the file does not exist
    assert "atexit ran" in r.stdout
    assert "NOT_FOUND" in r.stderr
    ok = subprocess.run([sys.executable, "-m", "selfeval_xl", "profiles"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip(), ok.stderr
