"""Issue 16, "start workers once": the start method the pool really used, the fault hook carried
in the task (a fork server keeps the environment of the moment it started), one pool for a whole
--watch session, and a worker killed between cycles replaced."""
from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SAMPLE
from selfeval_xl import batch

pytestmark = pytest.mark.slow  # every test starts worker processes (README: the fast loop leaves these out)

POSIX = os.name == "posix" and "forkserver" in multiprocessing.get_all_start_methods()


def _record_results(monkeypatch) -> list[dict]:
    """Every worker result the Batch receives (the ``worker`` block is not in run.json)."""
    seen: list[dict] = []
    finish = batch.Batch._finish

    def spy(self, task, res, done):
        seen.append(res)
        return finish(self, task, res, done)

    monkeypatch.setattr(batch.Batch, "_finish", spy)
    return seen


def _count_pools(monkeypatch) -> list[batch._Pool]:
    made: list[batch._Pool] = []
    init = batch._Pool.__init__

    def counting(self, *a, **kw):
        init(self, *a, **kw)
        made.append(self)

    monkeypatch.setattr(batch._Pool, "__init__", counting)
    return made


def _box(tmp_path: Path, *names: str) -> Path:
    box = tmp_path / "in"
    box.mkdir(exist_ok=True)
    for n in names:
        shutil.copy2(SAMPLE, box / n)
    return box


def test_start_method_choice(monkeypatch):
    monkeypatch.delenv(batch.START_METHOD_ENV, raising=False)
    expected = "forkserver" if POSIX else "spawn"
    assert batch.worker_start_method() == expected
    monkeypatch.setenv(batch.START_METHOD_ENV, "spawn")
    assert batch.worker_start_method() == "spawn"
    monkeypatch.setenv(batch.START_METHOD_ENV, "fork")  # not a choice: the default stays
    assert batch.worker_start_method() == expected


def test_preload_list_never_holds_pandas_and_imports_without_it():
    assert not any(m == "pandas" or m.startswith("pandas.") for m in batch.WORKER_PRELOAD)
    code = ("import importlib, sys\n"
            f"for m in {list(batch.WORKER_PRELOAD)!r}: importlib.import_module(m)\n"
            "print('pandas' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


@pytest.mark.skipif(not POSIX, reason="forkserver is POSIX only")
def test_worker_comes_from_the_warm_fork_server(tmp_path, monkeypatch):
    monkeypatch.delenv(batch.START_METHOD_ENV, raising=False)
    seen = _record_results(monkeypatch)
    box = _box(tmp_path, "a.xlsx")
    rc = batch.run(box, tmp_path / "out", batch.Options(report=False, jobs=1, overview=False), out=io.StringIO())
    assert rc == 0
    (res,) = seen
    w = res["worker"]
    assert w["start_method"] == "forkserver"
    assert w["ppid"] != os.getpid()  # forked by the fork server, not by this process
    # the heavy modules were already there when the worker's own code began (before its init)
    for m in ("selfeval_xl.pipeline", "selfeval_xl.writeback", "selfeval_xl.report", "docxtpl", "lxml.etree"):
        assert m in w["preloaded"], (m, w["preloaded"])
    assert "pandas" not in w["preloaded"]
    assert "openpyxl" not in w["preloaded"]  # an .xlsx never needs it (see the next test)


def test_an_xlsx_is_reviewed_without_openpyxl():
    """Why openpyxl is not in WORKER_PRELOAD: reading (calamine), the patch writer and the report
    never import it for an .xlsx, so preloading it would only delay every run's first file."""
    assert "openpyxl" not in batch.WORKER_PRELOAD
    code = ("import sys, tempfile\n"
            "from pathlib import Path\n"
            "from selfeval_xl import batch\n"
            "state = batch.worker_init({'profile': 'auto', 'template': None, 'report': True})\n"
            "stage = Path(tempfile.mkdtemp()) / 's'\n"
            f"res = batch.process_file({{'source': {str(SAMPLE)!r}, 'rel': 'a.xlsx', 'report': True, 'findings': True,\n"
            "                           'staging': str(stage)}, state)\n"
            "print(res['status'], sorted(res['staged']), 'openpyxl' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    status, *rest = r.stdout.split()
    assert status == "ok", r.stdout
    assert r.stdout.strip().endswith("False"), r.stdout  # reviewed workbook + report written, openpyxl never loaded


def test_spawn_worker_starts_cold(tmp_path, monkeypatch):
    """The fallback really is spawn: a fresh interpreter, child of this process, nothing preloaded."""
    monkeypatch.setenv(batch.START_METHOD_ENV, "spawn")
    seen = _record_results(monkeypatch)
    box = _box(tmp_path, "a.xlsx")
    rc = batch.run(box, tmp_path / "out", batch.Options(report=False, jobs=1, overview=False), out=io.StringIO())
    assert rc == 0
    w = seen[0]["worker"]
    assert w["start_method"] == "spawn" and w["ppid"] == os.getpid()
    assert "docxtpl" not in w["preloaded"] and "selfeval_xl.pipeline" not in w["preloaded"]


@pytest.mark.skipif(not POSIX, reason="forkserver is POSIX only")
def test_fault_hook_set_after_the_fork_server_started_is_honoured(tmp_path, monkeypatch):
    monkeypatch.delenv(batch.START_METHOD_ENV, raising=False)
    monkeypatch.delenv(batch.FAULT_ENV, raising=False)
    opts = batch.Options(report=False, jobs=1, overview=False)
    box = _box(tmp_path, "a.xlsx")
    assert batch.run(box, tmp_path / "out1", opts, out=io.StringIO()) == 0  # the fork server runs now
    from multiprocessing import forkserver

    assert forkserver._forkserver._forkserver_pid is not None
    monkeypatch.setenv(batch.FAULT_ENV, "exit=3:a.xlsx")  # after the server started: not in its environment
    rc = batch.run(box, tmp_path / "out2", opts, out=io.StringIO())
    files = {f["input"]: f for f in json.loads((tmp_path / "out2" / "run.json").read_text(encoding="utf-8"))["files"]}
    assert rc == 1
    assert files["a.xlsx"]["error"]["code"] == "CRASHED"
    assert "退出码 3" in files["a.xlsx"]["error"]["message"]


def _watch(tmp_path, monkeypatch, arrivals: dict[int, str], polls: int, before_poll=None):
    """Run ``watch`` on a box holding a.xlsx; before poll k, file ``arrivals[k]`` arrives (and
    ``before_poll(seen)`` runs first on poll 1). Returns (rc, output, pools made, worker results)."""
    pools = _count_pools(monkeypatch)
    seen = _record_results(monkeypatch)
    box = _box(tmp_path, "a.xlsx")
    count = []

    def sleep(_s):
        count.append(1)
        if len(count) == 1 and before_poll:
            before_poll(seen)
        if len(count) in arrivals:
            shutil.copy2(SAMPLE, box / arrivals[len(count)])

    text = io.StringIO()
    rc = batch.watch(box, tmp_path / "out", batch.Options(report=False, jobs=1, overview=False), out=text,
                     interval=0.01, settle=1, max_polls=polls, sleep=sleep)
    return rc, text.getvalue(), pools, seen


def test_watch_with_two_cycles_uses_one_pool_and_the_same_worker(tmp_path, monkeypatch):
    rc, text, pools, seen = _watch(tmp_path, monkeypatch, {1: "b.xlsx"}, 4)
    assert rc == 0, text
    assert [r["status"] for r in seen] == ["ok", "ok"]  # a.xlsx in cycle 1, b.xlsx in cycle 2
    assert len(pools) == 1
    assert seen[0]["worker"]["pid"] == seen[1]["worker"]["pid"]  # not restarted between cycles
    assert pools[0].slots == []  # closed with the session
    assert not multiprocessing.active_children() or all(
        p.pid != seen[0]["worker"]["pid"] for p in multiprocessing.active_children())


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs kill -9")
def test_watch_replaces_a_worker_killed_between_cycles(tmp_path, monkeypatch):
    def kill(seen):  # the idle worker dies between cycles
        os.kill(seen[0]["worker"]["pid"], signal.SIGKILL)

    rc, text, pools, seen = _watch(tmp_path, monkeypatch, {1: "b.xlsx"}, 4, before_poll=kill)
    assert rc == 0, text
    assert [r["status"] for r in seen] == ["ok", "ok"]
    assert len(pools) == 1
    assert seen[1]["worker"]["pid"] != seen[0]["worker"]["pid"]  # a new worker took b.xlsx


def test_watch_worker_crash_mid_cycle_is_replaced_and_the_session_goes_on(tmp_path, monkeypatch):
    monkeypatch.setenv(batch.FAULT_ENV, "segv:b.xlsx")
    rc, text, pools, seen = _watch(tmp_path, monkeypatch, {1: "b.xlsx", 4: "c.xlsx"}, 7)
    assert rc == 1
    files = {f["input"]: f for f in json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))["files"]}
    assert files["b.xlsx"]["error"]["code"] == "CRASHED"
    assert files["a.xlsx"]["status"] == "ok" and files["c.xlsx"]["status"] == "ok"
    assert len(pools) == 1
    ok = [r for r in seen if r["status"] == "ok"]
    assert len(ok) == 2 and ok[0]["worker"]["pid"] != ok[1]["worker"]["pid"]
