"""Batch conversion (issue 6): `selfeval-xl run INBOX -o OUTBOX`.

Broken files are built as in test_reader.py. Crash isolation uses the worker's documented
test-only fault hook (SELFEVAL_XL_FAULT, see batch.py); the timeout test uses an honest slow
file (a legal workbook with a big extra sheet) and a short --timeout.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from openpyxl import Workbook, load_workbook

from conftest import SAMPLE, relayout
from selfeval_xl import batch, cli

# Every test here starts worker processes or a batch run: the full suite runs them, the fast loop does not.
pytestmark = pytest.mark.slow

STEM = SAMPLE.stem
POSIX = os.name == "posix"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _files(root: Path) -> set[str]:
    """The files in ``root`` but the batch-level overview (复核汇总报告.docx and the kept
    reviews under .selfeval/, checked in test_overview.py)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.name != "复核汇总报告.docx" and p.relative_to(root).parts[0] != ".selfeval"}


def _run_json(outbox: Path) -> dict:
    return json.loads((outbox / "run.json").read_text(encoding="utf-8"))


def _by_input(data: dict) -> dict[str, dict]:
    return {f["input"]: f for f in data["files"]}


def _cli(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "selfeval_xl", *args], capture_output=True, text=True,
                          encoding="utf-8", timeout=timeout, env={**os.environ, **(env or {})})


def _drifted(dst: Path) -> Path:
    """The sample with rows moved down and one self-score changed (7.96 → 8)."""

    def edit(wb):
        ws = wb["自评表"]
        for r in range(1, ws.max_row + 1):
            if ws.cell(r, 3).value == "预算执行率":
                ws.cell(r, 7).value = 8

    return relayout(SAMPLE, dst, row_map=lambda r: r + 4 if r > 10 else r, edit=edit)


def _encrypted(dst: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    buf = io.BytesIO()
    with SAMPLE.open("rb") as fh:
        OOXMLFile(fh).encrypt("secret", buf)
    dst.write_bytes(buf.getvalue())
    return dst


def _zip_bomb(dst: Path) -> Path:
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 2**20))
    return dst


def _slow_workbook(dst: Path, rows: int = 8000, cols: int = 60) -> Path:
    """The sample plus a sheet of rows×cols numbers: within every Limit, just slow to process."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c) for c in range(1, cols + 1)]
    body = "".join(f'<row r="{r}">' + "".join(f'<c r="{col}{r}"><v>{r * c}</v></c>' for c, col in enumerate(letters, 1)) + "</row>"
                   for r in range(1, rows + 1))
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet '
             'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>' + body + "</sheetData></worksheet>")
    rel_type = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    with zipfile.ZipFile(SAMPLE) as src, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/workbook.xml":
                data = data.replace(b"</sheets>", b'<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" name="data" sheetId="99" r:id="rIdSlow"/></sheets>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdSlow" Type="{rel_type}" Target="worksheets/slow.xml"/></Relationships>'.encode())
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/xl/worksheets/slow.xml" ContentType="{ct}"/></Types>'.encode())
            out.writestr(item, data)
        out.writestr("xl/worksheets/slow.xml", sheet)
    return dst




def _outputs(stem: str) -> list[str]:
    from selfeval_xl.writeback import reviewed_name

    from selfeval_xl.report import report_name

    return [reviewed_name(Path(stem + ".xlsx")), report_name(Path(stem + ".xlsx"))]


# ---- the integration test ----------------------------------------------------------

EXPECTED_FAILED = {
    "截断.xlsx": "CORRUPT",
    "文本.xlsx": "NOT_A_WORKBOOK",
    "加密.xlsx": "ENCRYPTED",
    "空.xlsx": "EMPTY",
    "无指标表.xlsx": "NOT_SELF_EVALUATION_FORM",
    "炸弹.xlsx": "TOO_LARGE",
}
EXPECTED_OK = {SAMPLE.name: STEM, "漂移.xlsx": "漂移", "子文件夹/副本.xlsx": "副本"}
EXPECTED_SKIPPED = {"~$x.xlsx", ".隐藏.xlsx", "说明.txt"}


@pytest.fixture
def inbox(tmp_path) -> Path:
    box = tmp_path / "收件箱"
    (box / "子文件夹").mkdir(parents=True)
    shutil.copy2(SAMPLE, box / SAMPLE.name)
    _drifted(box / "漂移.xlsx")
    shutil.copy2(SAMPLE, box / "子文件夹" / "副本.xlsx")
    (box / "截断.xlsx").write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    (box / "文本.xlsx").write_text("这不是表格", encoding="utf-8")
    _encrypted(box / "加密.xlsx")
    Workbook().save(box / "空.xlsx")
    wb = Workbook()
    wb.active["A1"], wb.active["B1"] = "项目名称", "某项目"
    wb.save(box / "无指标表.xlsx")
    _zip_bomb(box / "炸弹.xlsx")
    (box / "~$x.xlsx").write_bytes(b"\x0bWPS lock")
    shutil.copy2(SAMPLE, box / ".隐藏.xlsx")
    (box / "说明.txt").write_text("请把自评表放在这里", encoding="utf-8")
    return box


def test_run_folder(inbox, tmp_path):
    before = _tree(inbox)
    outbox = tmp_path / "发件箱"
    t = time.perf_counter()
    proc = _cli("run", str(inbox), "-o", str(outbox), "-j", "2")
    elapsed = time.perf_counter() - t
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 120
    assert _tree(inbox) == before  # inputs byte-identical, nothing added to INBOX
    # issue 15: the three copies of one project (same 项目名称 + 主管部门) are flagged DUPLICATE_PROJECT,
    # and every failure is listed on stderr with its code
    assert proc.stdout.strip() == "处理 9 个文件：成功 3，失败 6，跳过 3；重复提交 2 个（DUPLICATE_PROJECT，见汇总.xlsx）"
    assert proc.stdout.count("\n") == 1
    for name, code in EXPECTED_FAILED.items():
        assert f"  {name}：[{code}] {name}：" in proc.stderr

    data = _run_json(outbox)
    files = _by_input(data)
    assert set(files) == set(EXPECTED_OK) | set(EXPECTED_FAILED) | EXPECTED_SKIPPED
    assert data["counts"] == {"ok": 3, "failed": 6, "skipped": 3}
    for name, code in EXPECTED_FAILED.items():
        e = files[name]
        assert (e["status"], e["error"]["code"]) == ("failed", code), e
        assert e["outputs"] == [] and e["sha256"] == _sha(inbox / name)
        assert e["error"]["message"].startswith(f"[{code}] {name}：")
    for name in EXPECTED_SKIPPED:
        assert files[name]["status"] == "skipped" and files[name]["error"] is None and files[name]["reason"]
    assert "锁定" in files["~$x.xlsx"]["reason"] and "隐藏" in files[".隐藏.xlsx"]["reason"]
    for name, stem in EXPECTED_OK.items():
        e = files[name]
        assert e["status"] == "ok" and e["error"] is None
        folder = "子文件夹/" if name.startswith("子文件夹/") else ""
        assert e["outputs"] == [folder + n for n in _outputs(stem)]
        assert e["sha256"] == _sha(inbox / name)
        assert set(e["findings"]) == {"error", "warning", "info"}
    sample = files[SAMPLE.name]
    assert sample["totals"] == {"stated": 77.38, "self": 77.38, "computed": 77.51}
    assert files["漂移.xlsx"]["totals"]["self"] == 77.42  # the changed self-score is read
    assert files["漂移.xlsx"]["findings"]["error"] > sample["findings"]["error"]
    assert sample["project"]["name"] == "苏州市打造先进制造业基地专项资金"
    for key in ("started", "finished"):
        assert data[key][-6] in "+-" and "T" in data[key]  # ISO 8601 with a UTC offset
    assert data["options"]["report"] is True

    # outputs only for the good files, the subfolder mirrored, no staging left behind
    want = {"run.json", "汇总.xlsx"}
    for name, stem in EXPECTED_OK.items():
        want |= {("子文件夹/" if "/" in name else "") + n for n in _outputs(stem)}
    assert _files(outbox) == want
    assert [p.name for p in outbox.iterdir() if p.name.startswith(".")] == [".selfeval"]  # the kept reviews

    # 汇总.xlsx (overview.py): every input on 文件, every project on 项目, every finding on 复核发现
    wb = load_workbook(outbox / "汇总.xlsx")
    ws = wb["文件"]
    assert [c.value for c in ws[1]] == ["文件", "状态", "项目数", "错误代码", "说明"]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E13"
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(files)
    assert rows[SAMPLE.name][1:3] == ("成功", 1)
    dups = {n: e["duplicate_of"] for n, e in files.items() if e.get("duplicate_of")}
    assert dups == {"子文件夹/副本.xlsx": "漂移.xlsx", SAMPLE.name: "漂移.xlsx"}  # kept: no 副本 in the name, shallow, first
    for name, code in EXPECTED_FAILED.items():
        assert rows[name][1] == "失败" and rows[name][3] == code and rows[name][4].startswith(f"[{code}]")
    for name in EXPECTED_SKIPPED:
        assert rows[name][1] == "跳过"
    projects = {r[12]: r for r in wb["项目"].iter_rows(min_row=2, values_only=True)}
    assert set(projects) == set(EXPECTED_OK)
    assert projects[SAMPLE.name][:8] == ("苏州市工业和信息化局", "苏州市打造先进制造业基地专项资金", 2020,
                                         "苏州市级财政支出项目绩效自评（填表说明，2020年版）", 98.96, 77.38, 77.51, 0.13)
    fd = wb["复核发现"]
    assert [c.value for c in fd[1]] == ["级别", "主管部门", "项目", "问题", "指标", "单元格", "说明", "代码", "文件"]
    found = list(fd.iter_rows(min_row=2, values_only=True))
    assert len([r for r in found if r[8] == SAMPLE.name]) == sum(sample["findings"].values())
    assert {r[8] for r in found} == set(EXPECTED_OK)
    assert {r[0] for r in found} <= {"错误", "警告", "提示"}
    assert len(found) == sum(len(files[n]["finding_items"]) for n in EXPECTED_OK)


# ---- isolation: timeout, crash, memory ---------------------------------------------

def test_timeout_kills_worker_and_batch_goes_on(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    _slow_workbook(box / "a大表.xlsx")
    (box / "b文本.xlsx").write_text("不是表格", encoding="utf-8")
    t = time.perf_counter()
    rc = cli.main(["run", str(box), "-o", str(tmp_path / "out"), "-j", "1", "--timeout", "0.5", "-q"])
    assert rc == 1
    assert time.perf_counter() - t < 60
    files = _by_input(_run_json(tmp_path / "out"))
    assert files["a大表.xlsx"]["error"]["code"] == "TIMEOUT"
    assert "0.5 秒" in files["a大表.xlsx"]["error"]["message"]
    assert files["b文本.xlsx"]["error"]["code"] == "NOT_A_WORKBOOK"  # handled by a fresh worker
    assert _files(tmp_path / "out") == {"run.json", "汇总.xlsx"}


def test_crashing_worker_is_isolated(tmp_path, monkeypatch):
    box = tmp_path / "in"
    box.mkdir()
    for name in ("段错误.xlsx", "异常.xlsx", "退出.xlsx", "正常.xlsx"):
        shutil.copy2(SAMPLE, box / name)
    monkeypatch.setenv(batch.FAULT_ENV, "segv:段错误.xlsx;raise:异常.xlsx;exit=3:退出.xlsx")
    rc = cli.main(["run", str(box), "-o", str(tmp_path / "out"), "-j", "1", "-q", "--no-report"])
    assert rc == 1
    files = _by_input(_run_json(tmp_path / "out"))
    crash = files["段错误.xlsx"]["error"]
    assert crash["code"] == "CRASHED"
    if POSIX:
        assert "SIGSEGV" in crash["message"]
    assert files["异常.xlsx"]["error"]["code"] == "INTERNAL"
    assert "RuntimeError" in files["异常.xlsx"]["error"]["message"]
    assert files["退出.xlsx"]["error"]["code"] == "CRASHED" and "退出码 3" in files["退出.xlsx"]["error"]["message"]
    assert files["正常.xlsx"]["status"] == "ok"
    assert _files(tmp_path / "out") == {"run.json", "汇总.xlsx", "正常.复核.xlsx"}


@pytest.mark.skipif(not POSIX, reason="RLIMIT_AS exists on POSIX only")
def test_memory_cap(tmp_path, monkeypatch):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a贪吃.xlsx")
    shutil.copy2(SAMPLE, box / "b正常.xlsx")
    monkeypatch.setenv(batch.FAULT_ENV, "memory=1500:a贪吃.xlsx")
    rc = cli.main(["run", str(box), "-o", str(tmp_path / "out"), "-j", "1", "-q", "--no-report", "--max-memory", "600"])
    assert rc == 1
    files = _by_input(_run_json(tmp_path / "out"))
    assert files["a贪吃.xlsx"]["error"]["code"] == "CRASHED"
    assert "内存不足" in files["a贪吃.xlsx"]["error"]["message"] and "600 MB" in files["a贪吃.xlsx"]["error"]["message"]
    assert files["b正常.xlsx"]["status"] == "ok"


def test_report_failure_leaves_no_partial_set(tmp_path):
    """The workbook is written first; when the report then fails, neither output remains."""
    from docx import Document

    tpl = tmp_path / "模板.docx"
    doc = Document()
    doc.add_paragraph("{{ project.name.nonexistent_attribute.deeper }}")
    doc.save(tpl)
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    outbox = tmp_path / "out"
    rc = cli.main(["run", str(box), "-o", str(outbox), "-j", "1", "-q", "--report-template", str(tpl)])
    assert rc == 1
    e = _by_input(_run_json(outbox))["a.xlsx"]
    assert e["status"] == "failed" and e["error"]["code"] == "TEMPLATE_ERROR" and e["outputs"] == []
    assert _files(outbox) == {"run.json", "汇总.xlsx"}


# ---- re-runs -----------------------------------------------------------------------

@pytest.fixture
def rerun_box(tmp_path, capsys):
    """Two copies of the sample reviewed once into an OUTBOX inside the INBOX (which must not be walked)."""
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    shutil.copy2(SAMPLE, box / "b.xlsx")
    outbox = box / "结果"  # inside INBOX: must not be walked
    args = ["run", str(box), "-o", str(outbox), "-j", "1", "-q", "--no-report"]
    assert cli.main(args) == 0
    first = _by_input(_run_json(outbox))
    capsys.readouterr()
    return SimpleNamespace(box=box, outbox=outbox, args=args, first=first, out_a=outbox / "a.复核.xlsx")


def test_outbox_inside_inbox_is_not_an_input(rerun_box):
    assert set(rerun_box.first) == {"a.xlsx", "b.xlsx"}


def test_plain_rerun_rewrites_everything_and_skips_the_outbox(rerun_box):
    stamp = rerun_box.out_a.stat().st_mtime_ns
    assert cli.main(rerun_box.args) == 0
    assert set(_by_input(_run_json(rerun_box.outbox))) == {"a.xlsx", "b.xlsx"}
    assert rerun_box.out_a.stat().st_mtime_ns != stamp


def test_skip_unchanged_keeps_the_unchanged_file_and_reviews_the_changed(rerun_box, capsys):
    box, outbox, args, first, out_a = rerun_box.box, rerun_box.outbox, rerun_box.args, rerun_box.first, rerun_box.out_a
    stamp = out_a.stat().st_mtime_ns
    _drifted(box / "b.xlsx")
    capsys.readouterr()
    assert cli.main([*args, "--skip-unchanged"]) == 0
    assert "其中 1 个未变化" in capsys.readouterr().out
    files = _by_input(_run_json(outbox))
    assert files["a.xlsx"]["unchanged"] is True and files["a.xlsx"]["status"] == "ok"
    assert files["a.xlsx"]["outputs"] == ["a.复核.xlsx"] and files["a.xlsx"]["totals"] == first["a.xlsx"]["totals"]
    assert "unchanged" not in files["b.xlsx"] and files["b.xlsx"]["totals"]["self"] == 77.42
    assert out_a.stat().st_mtime_ns == stamp
    rows = {r[0]: r for r in load_workbook(outbox / "汇总.xlsx")["文件"].iter_rows(min_row=2, values_only=True)}
    assert rows["a.xlsx"][1] == "成功" and "未变化" in rows["a.xlsx"][4]


def test_skip_unchanged_reviews_again_when_an_option_changes_the_outputs(rerun_box):
    assert cli.main([*rerun_box.args, "--skip-unchanged", "--no-findings"]) == 0
    assert "unchanged" not in _by_input(_run_json(rerun_box.outbox))["a.xlsx"]


def test_skip_unchanged_reviews_again_when_an_output_was_deleted(rerun_box):
    args = [*rerun_box.args, "--skip-unchanged", "--no-findings"]
    assert cli.main(args) == 0  # same options from here on: only the deletion differs
    rerun_box.out_a.unlink()
    assert cli.main(args) == 0
    assert "unchanged" not in _by_input(_run_json(rerun_box.outbox))["a.xlsx"] and rerun_box.out_a.exists()


def test_a_file_that_breaks_loses_the_outputs_of_its_earlier_version(rerun_box):
    box, outbox, out_a = rerun_box.box, rerun_box.outbox, rerun_box.out_a
    (box / "a.xlsx").write_text("坏了", encoding="utf-8")
    assert cli.main(rerun_box.args) == 1
    assert _by_input(_run_json(outbox))["a.xlsx"]["error"]["code"] == "NOT_A_WORKBOOK"
    assert not out_a.exists() and (outbox / "b.复核.xlsx").exists()


# ---- output format and console -----------------------------------------------------

def test_quiet_non_tty_prints_one_line(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    (box / "b.txt").write_text("x", encoding="utf-8")
    for extra in ([], ["-q"]):
        proc = _cli("run", str(box), "-o", str(tmp_path / "out"), "-j", "1", "--no-report", *extra)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "处理 1 个文件：成功 1，失败 0，跳过 1\n"
        assert proc.stderr == ""


def test_progress_bar_on_a_terminal():
    stream = io.StringIO()
    p = batch.Progress(2, True, stream)
    p.step("a.xlsx")
    p.step("b.xlsx")
    p.close()
    text = stream.getvalue()
    assert "\r" in text and "2/2" in text and "b.xlsx" in text and "\n" not in text
    off = io.StringIO()
    batch.Progress(2, False, off).step("a")
    assert off.getvalue() == ""


@pytest.mark.parametrize("args,words", [
    (["run", "不存在的文件夹", "-o", "out"], "找不到输入文件夹"),
    (["run", "{inbox}", "-o", "out", "-j", "0"], "-j"),
    (["run", "{inbox}", "-o", "out", "-j", "abc"], "-j"),
    (["run", "{inbox}", "-o", "out", "--profile", "没有这个配置"], "未知的规则配置"),
    (["run", "{inbox}", "-o", "{inbox}"], "不能与输入文件夹相同"),
    (["run", "{inbox}", "-o", "out", "--timeout", "0"], "--timeout"),
    (["run", "{inbox}", "-o", "out", "--pdf", "--no-report"], "--pdf"),
])
def test_usage_errors(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in").mkdir()
    argv = [a.replace("{inbox}", "in") for a in args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.startswith("错误：")
    assert not (tmp_path / "out").exists()


def test_skipped_only_is_success(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    (box / "~$a.xlsx").write_bytes(b"lock")
    (box / "readme.md").write_text("x", encoding="utf-8")
    assert cli.main(["run", str(box), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert _run_json(tmp_path / "out")["counts"] == {"ok": 0, "failed": 0, "skipped": 2}


# ---- watch mode --------------------------------------------------------------------

def test_watch(tmp_path):
    box = tmp_path / "in"
    box.mkdir()
    outbox = tmp_path / "out"
    cmd = [sys.executable, "-m", "selfeval_xl", "run", str(box), "-o", str(outbox), "--watch", "-j", "1",
           "--poll-interval", "0.2", "--settle", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        deadline = time.monotonic() + 60
        while not (outbox / "run.json").exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() is not None else "no run.json"
            time.sleep(0.1)
        assert _run_json(outbox)["files"] == []
        (box / "~$甲.xlsx").write_bytes(b"lock")  # ignored
        sub = box / "子"
        sub.mkdir()
        shutil.copy2(SAMPLE, sub / "甲.xlsx")
        want = [outbox / "子" / n for n in _outputs("甲")]
        while not all(p.exists() for p in want):
            assert time.monotonic() < deadline and proc.poll() is None, "outputs did not appear"
            time.sleep(0.1)
        while "子/甲.xlsx" not in _by_input(_run_json(outbox)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        if POSIX:
            proc.send_signal(signal.SIGINT)
        else:
            proc.terminate()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    data = _run_json(outbox)
    files = _by_input(data)
    assert files["子/甲.xlsx"]["status"] == "ok"
    assert files["~$甲.xlsx"]["status"] == "skipped"
    if POSIX:
        assert proc.returncode == 130, err  # issue 15: Ctrl-C ends --watch with 130, as the README says
        assert data["watching"] is False
        assert "完成 子/甲.xlsx：规则总分 77.51（自评 77.38）" in out  # issue 15: the line names the file and its score
        assert out.strip().splitlines()[-1] == "处理 1 个文件：成功 1，失败 0，跳过 1"
        assert "Traceback" not in err
        assert [p.name for p in outbox.iterdir() if p.name.startswith(".")] == [".selfeval"]  # no staging left


def test_watch_settles_before_processing(tmp_path):
    """A file still being copied is not processed until its size and mtime stop changing."""
    box = tmp_path / "in"
    box.mkdir()
    outbox = tmp_path / "out"
    growing = box / "a.xlsx"
    data = SAMPLE.read_bytes()
    growing.write_bytes(data[:1000])
    polls = []

    def sleep(_s):
        polls.append(_s)
        if len(polls) <= 3:  # still being copied during the first three polls
            growing.write_bytes(data[: 1000 * (len(polls) + 1) * 5])
        elif len(polls) == 4:
            growing.write_bytes(data)

    out = io.StringIO()
    opts = batch.Options(report=False, jobs=1)
    rc = batch.watch(box, outbox, opts, out=out, interval=0.01, settle=2, max_polls=9, sleep=sleep)
    assert rc == 0
    files = _by_input(_run_json(outbox))
    assert files["a.xlsx"]["status"] == "ok" and files["a.xlsx"]["sha256"] == _sha(SAMPLE)
    batches = [line for line in out.getvalue().splitlines() if line.startswith("[") and "处理 " in line]
    # the partial file found at start fails; then one batch once the copy has settled
    assert len(batches) == 2, out.getvalue()
    assert batches[0].endswith("处理 1 个文件：成功 0，失败 1，跳过 0")
    assert batches[1].endswith("处理 1 个文件：成功 1，失败 0，跳过 0")


def test_output_name_conflict(tmp_path):
    """a.xlsx and a.ods would both give a.复核.xlsx: the .xlsx keeps the name, the other fails."""
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    shutil.copy2(SAMPLE, box / "a.ods")  # never processed, so LibreOffice is not needed
    assert cli.main(["run", str(box), "-o", str(tmp_path / "out"), "-j", "1", "-q", "--no-report"]) == 1
    files = _by_input(_run_json(tmp_path / "out"))
    assert files["a.xlsx"]["status"] == "ok" and files["a.xlsx"]["outputs"] == ["a.复核.xlsx"]
    assert files["a.ods"]["error"]["code"] == "NAME_CONFLICT" and "a.xlsx" in files["a.ods"]["error"]["message"]


@pytest.mark.office
def test_pdf(tmp_path):
    from conftest import soffice

    soffice()
    box = tmp_path / "in"
    (box / "子").mkdir(parents=True)
    shutil.copy2(SAMPLE, box / "子" / "a.xlsx")
    (box / "b.xlsx").write_text("坏", encoding="utf-8")
    outbox = tmp_path / "out"
    assert cli.main(["run", str(box), "-o", str(outbox), "-q", "--pdf"]) == 1
    e = _by_input(_run_json(outbox))["子/a.xlsx"]
    assert e["status"] == "ok"
    pdf = [o for o in e["outputs"] if o.endswith(".pdf")]
    assert pdf == ["子/a.自评价报告.pdf"]
    assert (outbox / pdf[0]).read_bytes().startswith(b"%PDF")
    assert _files(outbox) == {"run.json", "汇总.xlsx", *e["outputs"]}


def test_font_option_reaches_the_report(tmp_path):
    """Windows machines often have 仿宋/楷体 but not the GB2312 faces: --font swaps them."""
    from docx import Document
    from docx.oxml.ns import qn

    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copy2(SAMPLE, inbox / SAMPLE.name)
    out = tmp_path / "out"
    rc = _cli("run", str(inbox), "-o", str(out), "-q", "-j", "1", "--font", "body=仿宋", "--font", "heading2=楷体")
    assert rc.returncode == 0, rc.stderr
    (docx,) = out.glob("*.自评价报告.docx")
    for doc in (docx, out / "复核汇总报告.docx"):  # the batch's overview report too
        styles = {s.style_id: s for s in Document(doc).styles if s.type == 1}
        assert styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
        assert styles["Heading2"].element.rPr.rFonts.get(qn("w:eastAsia")) == "楷体"
    assert _run_json(out)["options"]["fonts"] == {"body": "仿宋", "heading2": "楷体"}
    bad = _cli("run", str(inbox), "-o", str(tmp_path / "o2"), "-q", "--font", "正文=仿宋")
    assert bad.returncode == 2 and "--font" in bad.stderr
