"""The batch faults of issue 15: symlinks, a locked OUTBOX, kill -9 and --skip-unchanged, --watch
name conflicts, a huge sparse input, long names, permissions, and a new user's run."""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import SAMPLE
from selfeval_xl import batch, cli
from selfeval_xl.lock import LOCK_NAME, outbox_lock

# Every test here starts worker processes or a batch run: the full suite runs them, the fast loop does not.
pytestmark = pytest.mark.slow

POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")
FAST = ["-j", "1", "-q", "--no-report"]


def _run_json(outbox: Path) -> dict:
    return json.loads((outbox / "run.json").read_text(encoding="utf-8"))


def _files(outbox: Path) -> dict[str, dict]:
    return {f["input"]: f for f in _run_json(outbox)["files"]}


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _run(capsys, *args) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---- 1. symlinks ---------------------------------------------------------------------

@pytest.mark.skipif(not POSIX, reason="symlinks need privileges on Windows")
def test_symlink_outputs_are_named_after_the_link_and_outside_links_are_skipped(capsys, tmp_path):
    box = tmp_path / "in"
    (box / "原件甲").mkdir(parents=True)
    (box / "原件乙").mkdir()
    shutil.copy2(SAMPLE, box / "原件甲" / "report.xlsx")
    shutil.copy2(SAMPLE, box / "原件乙" / "report.xlsx")
    (box / "部门A.xlsx").symlink_to(box / "原件甲" / "report.xlsx")
    (box / "部门B.xlsx").symlink_to(box / "原件乙" / "report.xlsx")
    elsewhere = tmp_path / "别处"
    elsewhere.mkdir()
    shutil.copy2(SAMPLE, elsewhere / "秘密.xlsx")
    (box / "外链.xlsx").symlink_to(elsewhere / "秘密.xlsx")
    (box / "外链文件夹").symlink_to(elsewhere)
    out = tmp_path / "out"
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST)
    files = _files(out)
    assert files["部门A.xlsx"]["outputs"] == ["部门A.复核.xlsx"]
    assert files["部门B.xlsx"]["outputs"] == ["部门B.复核.xlsx"]
    assert (out / "部门A.复核.xlsx").is_file() and (out / "部门B.复核.xlsx").is_file()
    assert not (out / "report.复核.xlsx").exists()
    assert files["外链.xlsx"]["status"] == "skipped" and "符号链接指向输入文件夹之外" in files["外链.xlsx"]["reason"]
    assert "--follow-links" in files["外链.xlsx"]["reason"]
    assert files["外链文件夹"]["status"] == "skipped" and "其中的文件未处理" in files["外链文件夹"]["reason"]
    assert "外链文件夹/秘密.xlsx" not in files

    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out2", *FAST, "--follow-links")
    files = _files(tmp_path / "out2")
    assert files["外链.xlsx"]["status"] == "ok" and files["外链.xlsx"]["outputs"] == ["外链.复核.xlsx"]
    assert files["外链文件夹/秘密.xlsx"]["status"] == "ok"


# ---- 2. the OUTBOX lock ----------------------------------------------------------------

def test_second_run_into_a_locked_outbox_exits_2_naming_the_holder(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    with outbox_lock(out, "运行批量复核") as info:
        rc, o, e = _run(capsys, "run", box, "-o", out, *FAST)
        assert rc == 2
        assert f"正被另一个 selfeval-xl 使用（进程 {os.getpid()}，主机 {socket.gethostname()}" in e
        assert not (out / "run.json").exists()
        assert info["pid"] == os.getpid()
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST)
    assert rc == 0 and not (out / LOCK_NAME).exists()


def test_stale_lock_of_a_dead_pid_is_taken_over(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}), encoding="utf-8")
    (out / ".selfeval-staging-0123456789ab" / "0").mkdir(parents=True)  # left by a killed run
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST)
    assert rc == 0, e
    assert not list(out.glob(".selfeval-staging-*"))


# ---- 4. kill -9, then --skip-unchanged ------------------------------------------------

def test_skip_unchanged_never_reuses_outputs_that_differ_from_run_json(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    assert _run(capsys, "run", box, "-o", out, *FAST)[0] == 0
    entry = _files(out)["a.xlsx"]
    assert entry["output_sha256"] == {"a.复核.xlsx": _sha(out / "a.复核.xlsx")}
    # a killed run under other options replaced the workbook but never wrote run.json
    other = tmp_path / "other"
    assert _run(capsys, "run", box, "-o", other, *FAST, "--no-findings")[0] == 0
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "另一次运行写的复核工作簿"
    wb.save(out / "a.复核.xlsx")
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST, "--skip-unchanged")
    entry = _files(out)["a.xlsx"]
    assert rc == 0 and "unchanged" not in entry and "未变化" not in o
    assert entry["output_sha256"]["a.复核.xlsx"] == _sha(out / "a.复核.xlsx")
    # an input the journal names (outputs being replaced when the run died) is not reused either
    (out / batch.JOURNAL_NAME).write_text('"a.xlsx"\n', encoding="utf-8")
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST, "--skip-unchanged")
    assert "unchanged" not in _files(out)["a.xlsx"] and not (out / batch.JOURNAL_NAME).exists()
    rc, o, e = _run(capsys, "run", box, "-o", out, *FAST, "--skip-unchanged")
    assert _files(out)["a.xlsx"]["unchanged"] is True and "其中 1 个未变化" in o


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(d.name))
    return kids


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    marker = tmp_path / "inside"
    env = {**os.environ, batch.FAULT_ENV: f"touch={marker}:a.xlsx;sleep=120:a.xlsx"}
    proc = subprocess.Popen([sys.executable, "-m", "selfeval_xl", "run", str(box), "-o", str(out), *FAST, "--timeout", "300"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        workers = []
        while not workers:
            assert time.monotonic() < deadline, "no worker started"
            workers = [p for p in _children(proc.pid)
                       if b"selfeval" in Path(f"/proc/{p}/cmdline").read_bytes() or
                       b"multiprocessing" in Path(f"/proc/{p}/cmdline").read_bytes()]
            time.sleep(0.2)
        while not marker.exists():  # the worker is inside the (sleeping) file now, not starting up
            assert time.monotonic() < deadline and proc.poll() is None, "the worker never reached the file"
            time.sleep(0.1)
        time.sleep(0.3)
        assert not all(_gone(w) for w in workers)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while not all(_gone(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived its killed parent"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the next run takes over the lock of the dead run
    r = subprocess.run([sys.executable, "-m", "selfeval_xl", "run", str(box), "-o", str(out), *FAST],
                       capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr


# ---- 5. --watch conflicts against the whole OUTBOX -------------------------------------

def test_watch_a_later_ods_does_not_overwrite_the_xlsx_outputs(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    polls = []

    def sleep(_s):
        polls.append(1)
        if len(polls) == 1:
            shutil.copy2(SAMPLE, box / "a.ods")  # never converted: it fails on its name first

    text = io.StringIO()
    rc = batch.watch(box, out, batch.Options(report=False, jobs=1), out=text, interval=0.01, settle=1,
                     max_polls=4, sleep=sleep)
    before = _sha(out / "a.复核.xlsx")
    files = _files(out)
    assert rc == 1
    assert files["a.ods"]["error"]["code"] == "NAME_CONFLICT" and "a.xlsx" in files["a.ods"]["error"]["message"]
    assert "同名的另一格式文件" in files["a.ods"]["error"]["message"]
    assert files["a.xlsx"]["status"] == "ok" and files["a.xlsx"]["output_sha256"]["a.复核.xlsx"] == before
    assert "失败 a.ods：[NAME_CONFLICT]" in text.getvalue()


# ---- 6. a huge input --------------------------------------------------------------------

def test_huge_sparse_input_fails_on_its_size_before_any_byte_is_read(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    big = box / "巨大.xlsx"
    with open(big, "wb") as fh:
        fh.truncate(20 * 2**30)  # 20 GB, sparse: costs nothing on disk, 60+ s to hash
    shutil.copy2(SAMPLE, box / "a.xlsx")
    t = time.monotonic()
    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", *FAST, "--timeout", "5")
    assert time.monotonic() - t < 30
    entry = _files(tmp_path / "out")["巨大.xlsx"]
    assert rc == 1 and entry["error"]["code"] == "TOO_LARGE" and entry["sha256"] is None
    assert "20480.0 MB，超过上限 100 MB" in entry["error"]["message"]
    assert _files(tmp_path / "out")["a.xlsx"]["status"] == "ok"


# ---- 7. names by encoded bytes ----------------------------------------------------------

def test_long_chinese_names_are_shortened_by_bytes_and_stay_unique(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    long_a = "苏州市打造先进制造业基地专项资金" * 4 + "甲" * 15  # 79 characters, 237 bytes
    long_b = "苏州市打造先进制造业基地专项资金" * 4 + "乙" * 15
    assert len(long_a) == 79
    shutil.copy2(SAMPLE, box / f"{long_a}.xlsx")
    shutil.copy2(SAMPLE, box / f"{long_b}.xlsx")
    out = tmp_path / "out"
    rc, o, e = _run(capsys, "run", box, "-o", out, "-j", "1", "-q")
    assert rc == 0, e
    names = [n for f in _files(out).values() for n in f["outputs"]]
    assert len(names) == 4 and len(set(names)) == 4
    for n in names:
        assert len(n.encode("utf-8")) <= 255 - 24 and (out / n).is_file()
        assert n.startswith("苏州市打造先进制造业基地专项资金") and "~" in n
    assert {n.rsplit(".", 2)[-2] for n in names} >= {"复核", "自评价报告"}


def test_ninety_emoji_project_name_makes_a_draft(capsys, tmp_path):
    from selfeval_xl.fsutil import safe_name

    name = safe_name("🎉" * 90)
    assert len(name.encode("utf-8")) <= 200 and name == "🎉" * 50
    out = tmp_path / "out"
    (out).mkdir()
    (out / "a.复核.xlsx").write_bytes(SAMPLE.read_bytes())
    run = {"files": [{"input": "a.xlsx", "status": "ok", "outputs": ["a.复核.xlsx"],
                      "project": {"name": "🎉" * 90, "department": "某局", "year": 2020}}]}
    (out / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    rec = tmp_path / "r.csv"
    rec.write_text("匹配,收件人\n某局,a@example.com\n", encoding="utf-8")
    rc, o, e = _run(capsys, "mail", out, "--recipients", rec, "--attach", "workbook")
    assert rc == 0, o + e
    (eml,) = (out / "mail").glob("*.eml")
    assert eml.name == "🎉" * 50 + ".eml"


# ---- 9. permissions ----------------------------------------------------------------------

@pytest.mark.skipif(not POSIX, reason="POSIX modes")
def test_outputs_get_the_process_umask_not_0600(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    old = os.umask(0o002)
    try:
        rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", "-j", "1", "-q")
    finally:
        os.umask(old)
    assert rc == 0
    for name in ("a.复核.xlsx", "a.自评价报告.docx", "run.json", "汇总.xlsx"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o664, name


# ---- 10. a new user's run -----------------------------------------------------------------

def test_failures_are_listed_with_code_also_with_quiet(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    (box / "坏.xlsx").write_text("不是表格", encoding="utf-8")
    shutil.copy2(SAMPLE, box / "a.xlsx")
    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", *FAST)
    assert rc == 1 and o.strip() == "处理 2 个文件：成功 1，失败 1，跳过 0"
    assert "失败的文件（1）：\n  坏.xlsx：[NOT_A_WORKBOOK] 坏.xlsx：" in e


def test_own_outputs_inside_inbox_are_skipped(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    first = tmp_path / "first"
    assert _run(capsys, "run", box, "-o", first, *FAST)[0] == 0
    shutil.copy2(first / "汇总.xlsx", box / "汇总.xlsx")
    shutil.copy2(first / "汇总.xlsx", box / "汇总(1).xlsx")
    shutil.copy2(first / "run.json", box / "run.json")
    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", *FAST)
    files = _files(tmp_path / "out")
    assert rc == 0, e
    assert "本工具生成的汇总表" in files["汇总.xlsx"]["reason"] and "本工具生成的汇总表" in files["汇总(1).xlsx"]["reason"]
    assert "本工具生成的 run.json" in files["run.json"]["reason"]


def test_no_report_with_mail_of_reports_is_refused_up_front(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    rec = tmp_path / "r.csv"
    rec.write_text("匹配,收件人\n某局,a@example.com\n", encoding="utf-8")
    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", "--no-report", "--mail", rec)
    assert rc == 2 and "--mail-attach workbook" in e and not (tmp_path / "out").exists()


def test_empty_inbox_says_so(capsys, tmp_path):
    (tmp_path / "in").mkdir()
    rc, o, e = _run(capsys, "run", tmp_path / "in", "-o", tmp_path / "out", *FAST)
    assert rc == 0 and "中没有找到任何文件" in e
    (tmp_path / "in" / "说明.txt").write_text("x", encoding="utf-8")
    rc, o, e = _run(capsys, "run", tmp_path / "in", "-o", tmp_path / "out", *FAST)
    assert "没有可复核的电子表格（1 个文件已跳过" in e


def test_outputs_a_file_no_longer_has_are_removed(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    out = tmp_path / "out"
    assert _run(capsys, "run", box, "-o", out, "-j", "1", "-q")[0] == 0
    # as an earlier --pdf run would have left it: listed in run.json, on disk
    data = _run_json(out)
    data["files"][0]["outputs"].append("a.自评价报告.pdf")
    (out / "a.自评价报告.pdf").write_bytes(b"%PDF-1.4 old")
    (out / "run.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert _run(capsys, "run", box, "-o", out, "-j", "1", "-q")[0] == 0
    assert not (out / "a.自评价报告.pdf").exists()
    assert _files(out)["a.xlsx"]["outputs"] == ["a.复核.xlsx", "a.自评价报告.docx"]


def test_duplicate_copy_name_is_flagged(capsys, tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "X.xlsx")
    shutil.copy2(SAMPLE, box / "X - 副本.xlsx")
    rc, o, e = _run(capsys, "run", box, "-o", tmp_path / "out", *FAST)
    files = _files(tmp_path / "out")
    assert files["X - 副本.xlsx"]["duplicate_of"] == "X.xlsx" and "duplicate_of" not in files["X.xlsx"]
    assert "重复提交（1）：\n  X - 副本.xlsx：[DUPLICATE_PROJECT] 与 X.xlsx 为同一项目" in e
    # 汇总.xlsx says the same as run.json and mail (one verdict: batch.mark_duplicates)
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "out" / "汇总.xlsx")["项目"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("文件")]: r[header.index("重复报送")] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert "X.xlsx" in (rows["X - 副本.xlsx"] or "")


def test_check_into_a_closed_pipe_has_no_traceback(tmp_path):
    if not POSIX:
        pytest.skip("POSIX pipes")
    r = subprocess.run(f'"{sys.executable}" -m selfeval_xl check "{SAMPLE}" | head -n 1', shell=True,
                       capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.stdout.strip() and "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr
    # a reader that is gone before the first write: the write surely meets a closed pipe
    r = subprocess.run(f'"{sys.executable}" -m selfeval_xl check --json "{SAMPLE}" | true; echo "rc=${{PIPESTATUS[0]}}"',
                       shell=True, executable="/bin/bash", capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert "rc=141" in r.stdout and "Traceback" not in r.stderr and "BrokenPipeError" not in r.stderr, r.stderr


def test_unexpected_exception_is_internal_with_traceback_flag(capsys, monkeypatch, tmp_path):
    def boom(args):
        raise KeyError("bug")

    monkeypatch.setattr(cli, "cmd_profiles", boom)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with(parser(), boom))
    rc, o, e = _run(capsys, "profiles")
    assert rc == 70 and "[INTERNAL] 程序内部错误：KeyError" in e and "--traceback" in e and "Traceback" not in e
    rc, o, e = _run(capsys, "--traceback", "profiles")
    assert rc == 70 and "Traceback (most recent call last)" in e
    rc, o, e = _run(capsys, "check", SAMPLE, "--profile", "没有这个配置")
    assert rc == 2 and "未知的规则配置" in e


def _with(p, func):
    for action in p._subparsers._group_actions:
        action.choices["profiles"].set_defaults(func=func)
    return p


@pytest.mark.skipif(not POSIX, reason="RLIMIT_CPU is POSIX")
def test_cpu_backstop_limits_each_task():
    code = ("import resource; from selfeval_xl.batch import cpu_backstop; cpu_backstop(5); "
            "soft, hard = resource.getrlimit(resource.RLIMIT_CPU); ru = resource.getrusage(resource.RUSAGE_SELF); "
            "print(soft - int(ru.ru_utime + ru.ru_stime))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert 38 <= int(r.stdout) <= 40  # twice the timeout plus 30 s beyond the CPU time used so far


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symlinks")
def test_follow_links_walks_a_folder_inside_inbox_once(tmp_path):
    """--follow-links: a link to a folder that is itself inside INBOX does not review its files twice."""
    from selfeval_xl.batch import discover

    inbox = tmp_path / "in"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "sub" / "a.xlsx").write_bytes(b"x")
    (inbox / "link").symlink_to(inbox / "sub", target_is_directory=True)
    for follow in (False, True):
        todo, skipped = discover(inbox, tmp_path / "out", follow_links=follow)
        assert [p.relative_to(inbox).as_posix() for p in todo] == ["sub/a.xlsx"], follow
        assert [p.name for p, _ in skipped] == ["link"]


def test_lock_without_file_locks_decides_by_the_holders_pid(tmp_path, monkeypatch):
    """Where the filesystem has no file locks, the holder's pid decides: a live holder on this host
    keeps OUTBOX (LockedError), a dead one is taken over."""
    from selfeval_xl import lock

    monkeypatch.setattr(lock, "_try_lock", lambda fh: "unsupported")
    out = tmp_path / "out"
    out.mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / LOCK_NAME).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}), encoding="utf-8")
        with pytest.raises(lock.LockedError, match=f"进程 {live.pid}"):
            with lock.outbox_lock(out, "运行批量复核"):
                pass
    finally:
        live.kill()
        live.wait()
    with lock.outbox_lock(out, "运行批量复核") as info:  # the holder is gone now
        assert info["pid"] == os.getpid()
    assert not (out / LOCK_NAME).exists()
