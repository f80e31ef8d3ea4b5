"""Batch conversion: a folder of 自评表 → reviewed workbooks, reports, 汇总.xlsx and run.json.

``selfeval-xl run INBOX -o OUTBOX`` walks INBOX (subfolders mirrored in OUTBOX), reviews every
spreadsheet in a worker process and writes, per input, ``<stem>.复核.xlsx`` and (unless
``--no-report``) the Word report, plus ``汇总.xlsx`` and ``run.json`` at the top of OUTBOX.

Design decisions
- **Own process pool, not ProcessPoolExecutor.** A running future cannot be cancelled, so a hung
  worker could never be stopped, and one dead worker breaks the whole executor
  (BrokenProcessPool fails every pending file). ``_Pool`` keeps N long-lived
  ``multiprocessing.Process`` workers, one duplex Pipe each. Start method: see
  ``worker_start_method`` (``forkserver`` with preloaded modules on POSIX, ``spawn`` on Windows). The parent waits on pipes and process
  sentinels; a worker past the per-file deadline is killed and replaced (TIMEOUT), a worker
  that dies is replaced (CRASHED). Workers ignore SIGINT: Ctrl-C reaches the parent only,
  which kills them.
- **Workers start warm (issue 16).** On POSIX the pool uses the ``forkserver`` context with
  ``WORKER_PRELOAD`` (the pipeline, reader, layouts, rules, writer, report, docxtpl, lxml,
  Pillow - never pandas, which stays in the parent; not openpyxl, which an .xlsx never needs)
  imported once in the fork server; each worker is forked from that warmed server and pays only
  its own init (profile, template).
  Windows and systems without forkserver keep ``spawn``. The worker still relies on nothing
  inherited: everything it needs comes in ``config`` and the task. A fork server captures the
  environment of the moment it started, so nothing per-run is read from ``os.environ`` in a
  worker: the fault hook's spec travels in each task. ``SELFEVAL_XL_START_METHOD`` (``spawn``,
  ``forkserver``) overrides the choice (benchmarks, debugging).
- **Little fixed time around the files (issue 16).** The fork server is started right after
  discovery; meanwhile the parent imports what the end of the run needs (``PARENT_PRELOAD``:
  pandas, openpyxl, docxtpl for 汇总.xlsx and the 复核汇总报告) in a background thread. A worker
  is handed its next file before the parent commits the result it just sent (journal, moves,
  kept review), so that bookkeeping overlaps the next file. ``SELFEVAL_XL_TIMING=PATH`` writes
  the parent's phase timestamps (timing.py; benchmarks/bench.py reads them).
- **One pool for the Batch.** ``Batch.pool`` is created on first use and kept until
  ``Batch.close()``: a ``--watch`` session starts its workers once, not once per cycle. A worker
  that died between cycles is replaced when the next cycle starts.
- **Always in a child process, also with ``-j 1``.** Isolation (timeout, crash, memory cap) is the
  point of the batch runner; one extra process start (~0.5 s) is cheap next to that.
- **Timing starts when a file is handed to a ready worker**, so worker start-up (imports,
  template loading) never counts against a file's timeout.
- **Memory cap**: ``RLIMIT_AS`` set inside each worker on POSIX (``--max-memory``, default
  2048 MB, 0 = none). Windows has no such rlimit: the cap is not applied there (a Job Object
  would be needed); the timeout still is.
- **Never a partial set of outputs.** A worker writes into a private staging folder
  (``OUTBOX/.selfeval-staging-*/<n>``); only when every output of the file exists (workbook,
  report, PDF with ``--pdf``) does the parent move them into place with ``os.replace`` (each
  file atomic). A failed, crashed or killed file leaves nothing. A file that fails now loses
  the outputs the previous run.json recorded for it: they would describe another version.
- **Outputs and run.json agree (issue 15).** The whole run holds the OUTBOX lock (lock.py);
  stale staging folders are removed at start. The input is hashed in the worker (after a size
  check on ``stat()``), each output's sha256 goes into run.json, and ``--skip-unchanged``
  reuses only outputs whose bytes still match; an input is written to the journal
  (``.selfeval-xl.journal``, fsynced) before its outputs are replaced, and a journal left by a
  killed run voids those entries. Workers die with the parent (PR_SET_PDEATHSIG on Linux, a
  parent-watch thread everywhere, RLIMIT_CPU as a backstop).
- **Names.** Outputs are named after the path inside INBOX (a symlink after itself); names
  are claimed per OUTBOX folder for the life of the Batch (all of ``--watch``) and checked
  again on the names the worker actually wrote. Links leaving INBOX are skipped unless
  ``--follow-links``.
- **PDF** (``--pdf``) is converted by the parent after the workers, all reports in one
  LibreOffice call (much faster than one call per file), then committed.
- **Skipped, listed in run.json**: lock files ``~$*``, hidden files and folders (dot-names, and
  the Windows hidden attribute), non-spreadsheets, and this tool's own ``*.复核.xlsx``,
  ``汇总.xlsx`` and ``run.json``. The
  OUTBOX folder is left out of the walk silently when it lies inside INBOX.
- **Watch mode** polls (no dependency); a new or changed file is processed once its size and
  mtime have been identical for ``settle`` further polls. Files that disappear drop out of
  the summary (their outputs stay).

Test-only fault injection: ``SELFEVAL_XL_FAULT="verb[=arg]:glob[;…]"`` makes the worker misbehave
on files whose name matches ``glob``: ``sleep=S``, ``exit=N`` (``os._exit``), ``segv`` (a real
segmentation fault), ``raise`` (an exception), ``memory=MB`` (allocate that much), ``touch=PATH``
(create a marker file, e.g. before a ``sleep``). It is read
only inside workers and does nothing unless set; tests use it to prove crash/timeout isolation.
"""
from __future__ import annotations

import fnmatch
import multiprocessing
import os
import re
import threading
import shutil
import signal
import stat
import sys
import time
import traceback
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import wait as _mp_wait
from pathlib import Path, PurePosixPath
from typing import Callable, TextIO

from . import __version__, store, timing
from .errors import CODES, EXTRA_CODES, ExitCode, ReadError, UsageError, error_dict  # noqa: F401 (batch.UsageError: the old name)
from .fmt import columns
from .manifest import FileEntry, ProjectEntry, RunManifest
from .naming import is_own_output
from .safety import DEFAULT_LIMITS, SPREADSHEET_SUFFIXES, WORD_SUFFIXES
from .manifest import RUN_JSON_NAME
from .manifest import load_json as load_run_json
from .naming import SUMMARY_NAME

FAULT_ENV = "SELFEVAL_XL_FAULT"
START_METHOD_ENV = "SELFEVAL_XL_START_METHOD"  # override of worker_start_method(): spawn | forkserver
# Imported once in the fork server (POSIX), so that every worker starts with them loaded.
# Never pandas: it is the parent's (overview), a worker must not pay for it. Not openpyxl
# either: an .xlsx/.xlsm never needs it (read by calamine, written by the patch writer), and
# importing it is ~40 % of the preload (~0.2 s before the first file of every run); a worker
# imports it on first use, for a workbook rebuilt from values (.xls/.ods via LibreOffice,
# seconds per file anyway, or a Word input).
WORKER_PRELOAD = (
    "selfeval_xl.batch", "selfeval_xl.pipeline", "selfeval_xl.reader", "selfeval_xl.layout",
    "selfeval_xl.rules", "selfeval_xl.review", "selfeval_xl.checks", "selfeval_xl.decisions",
    "selfeval_xl.safety", "selfeval_xl.grids", "selfeval_xl.writeback", "selfeval_xl.report", "selfeval_xl.chart",
    "selfeval_xl.word_review", "selfeval_xl.fsutil",
    "docxtpl", "lxml.etree", "jinja2", "PIL.Image", "python_calamine",
)
# Imported by the batch parent in a background thread from the start of a run (issue 16): the
# end of the run (汇总.xlsx: pandas + openpyxl; the 复核汇总报告: docxtpl + its histogram) would
# otherwise import them after the last file, with every worker idle. They load while the fork
# server preloads (the parent has nothing else to do then). Best effort: a module that fails
# here is imported again, with its real error, by the code that needs it.
PARENT_PRELOAD = ("pandas", "openpyxl", "selfeval_xl.overview")
OVERVIEW_PRELOAD = ("docxtpl", "selfeval_xl.overview_report", "selfeval_xl.histogram")  # unless --no-overview
DEFAULT_MAX_MEMORY_MB = 2048
STARTUP_TIMEOUT = 120.0  # seconds a worker may take to import everything and load the template
STAGING_PREFIX = ".selfeval-staging-"
JOURNAL_NAME = ".selfeval-xl.journal"  # inputs whose outputs are being replaced (see Batch._invalidate)
LOCK_PREFIX = "~$"
NATIVE_SUFFIXES = {".xlsx", ".xlsm"}  # written back as they are; other formats are converted

def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


# ---- options --------------------------------------------------------------------------

@dataclass
class Options:
    profile: str = "auto"
    template: str | None = None
    report: bool = True
    findings: bool = True
    pdf: bool = False
    skip_unchanged: bool = False
    jobs: int = 1
    timeout: float = DEFAULT_LIMITS.timeout_s
    max_memory_mb: int = DEFAULT_MAX_MEMORY_MB
    quiet: bool = False
    watch: bool = False
    poll_interval: float = 1.0  # --watch: seconds between polls
    settle: int = 2  # --watch: unchanged polls before a new/changed file is processed
    template_sha256: str | None = None
    profile_sha256: str | None = None
    fonts: dict[str, str] = field(default_factory=dict)  # report font faces by role (--font body=仿宋)
    overview: bool = True  # 复核汇总报告.docx after the run (--no-overview)
    compare: str | None = None  # --compare PREVIOUS_OUTBOX: 对比.xlsx and the report's 对比 section
    follow_links: bool = False  # --follow-links: symlinks leaving INBOX are reviewed, not skipped
    max_file_bytes: int = DEFAULT_LIMITS.max_file_bytes  # checked from stat() before any byte is read

    def to_json(self) -> dict:
        return {
            "profile": self.profile, "report_template": self.template, "report": self.report,
            "findings": self.findings, "pdf": self.pdf, "skip_unchanged": self.skip_unchanged,
            "jobs": self.jobs, "timeout": self.timeout, "max_memory_mb": self.max_memory_mb,
            "watch": self.watch, "poll_interval": self.poll_interval, "settle": self.settle, "version": __version__,
            "report_template_sha256": self.template_sha256, "profile_sha256": self.profile_sha256,
            "fonts": self.fonts, "follow_links": self.follow_links, "overview": self.overview, "compare": self.compare,
        }


# What decides the content of the outputs: --skip-unchanged reuses a result only if all match.
OUTPUT_KEYS = ("version", "profile", "profile_sha256", "report", "findings", "pdf", "report_template_sha256", "fonts")


def output_key(options_json: dict | None) -> dict:
    return {k: (options_json or {}).get(k) for k in OUTPUT_KEYS}


def options_from_args(args) -> tuple[Path, Path, Options]:
    """Validate the ``run`` command line; raises UsageError with a Chinese message."""
    from .fsutil import sha256

    inbox = Path(args.inbox)
    if not inbox.is_dir():
        raise UsageError(f"找不到输入文件夹：{inbox}" if not inbox.exists() else f"输入路径不是文件夹：{inbox}")
    outbox = Path(args.output)
    if outbox.exists() and not outbox.is_dir():
        raise UsageError(f"输出路径已存在且不是文件夹：{outbox}")
    if outbox.resolve() == inbox.resolve():
        raise UsageError("输出文件夹不能与输入文件夹相同（请用 -o 指定另一个文件夹，可以是输入文件夹的子文件夹）")
    o = Options(report=not args.no_report, findings=not args.no_findings, pdf=args.pdf,
                skip_unchanged=args.skip_unchanged, quiet=args.quiet, watch=args.watch,
                follow_links=bool(getattr(args, "follow_links", False)))
    jobs = args.jobs if args.jobs is not None else str(os.cpu_count() or 1)
    try:
        o.jobs = int(jobs)
    except ValueError:
        o.jobs = 0
    if o.jobs < 1:
        raise UsageError(f"-j 必须是不小于 1 的整数（收到：{jobs}）")
    try:
        o.timeout = float(args.timeout) if args.timeout is not None else DEFAULT_LIMITS.timeout_s
    except ValueError:
        o.timeout = 0
    if not o.timeout > 0 or o.timeout == float("inf"):
        raise UsageError(f"--timeout 必须是大于 0 的秒数（收到：{args.timeout}）")
    try:
        o.max_memory_mb = int(args.max_memory) if args.max_memory is not None else DEFAULT_MAX_MEMORY_MB
    except ValueError:
        o.max_memory_mb = -1
    if o.max_memory_mb != 0 and o.max_memory_mb < 256:
        raise UsageError(f"--max-memory 必须是不小于 256 的整数（MB），0 表示不限制（收到：{args.max_memory}）")
    try:
        o.poll_interval = float(args.poll_interval)
        o.settle = int(args.settle)
    except ValueError:
        o.poll_interval = -1
    if not 0 < o.poll_interval < 3600 or o.settle < 0:
        raise UsageError(f"--poll-interval 必须是大于 0 的秒数，--settle 必须是不小于 0 的整数（收到：{args.poll_interval}、{args.settle}）")

    from .rules import load_profile

    try:
        if args.profile != "auto":
            load_profile(args.profile)
    except ValueError as err:
        raise UsageError(str(err)) from None
    except Exception as err:  # a broken TOML file given by path
        raise UsageError(f"规则配置“{args.profile}”无法读取：{err}") from None
    o.profile = args.profile
    if Path(args.profile).suffix == ".toml" and Path(args.profile).is_file():
        o.profile = str(Path(args.profile).resolve())
        o.profile_sha256 = sha256(Path(args.profile))

    if args.report_template:
        if not o.report:
            raise UsageError("--report-template 与 --no-report 不能同时使用")
        tpl = Path(args.report_template)
        if not tpl.is_file():
            raise UsageError(f"找不到报告模板：{tpl}")
        from .errors import TemplateError
        from .report import load_template

        try:
            load_template(tpl)
        except TemplateError as err:
            raise UsageError(f"报告模板有误：{err}") from None
        o.template = str(tpl.resolve())
        o.template_sha256 = sha256(tpl)
    if args.font:
        if not o.report:
            raise UsageError("--font 用于自评价报告，不能与 --no-report 同时使用")
        from .report import DEFAULT_FONTS

        for item in args.font:
            role, _, face = item.partition("=")
            if role.strip() not in DEFAULT_FONTS or not face.strip():
                raise UsageError(f"--font 应写作 角色=字体名，如 body=仿宋；角色可用：{'、'.join(DEFAULT_FONTS)}（收到“{item}”）")
            o.fonts[role.strip()] = face.strip()
    o.overview = not getattr(args, "no_overview", False)
    if getattr(args, "compare", None):
        if not o.overview:
            raise UsageError("--compare 用于复核汇总报告的对比部分，不能与 --no-overview 同时使用")
        prev = Path(args.compare)
        if not (prev / RUN_JSON_NAME).is_file():
            raise UsageError(f"--compare 应指定上次 selfeval-xl run 的输出文件夹（其中应有 run.json）：{prev}")
        if prev.resolve() == outbox.resolve():
            raise UsageError("--compare 指定的上次输出文件夹不能与本次输出文件夹相同")
        o.compare = str(prev.resolve())
    if o.pdf:
        if not o.report:
            raise UsageError("--pdf 用于把报告转为 PDF，不能与 --no-report 同时使用")
        from .office import find_soffice

        if find_soffice() is None:
            raise UsageError("未找到 LibreOffice（soffice），无法生成 PDF：请安装 LibreOffice 或去掉 --pdf")
    return inbox, outbox, o


# ---- discovery ------------------------------------------------------------------------

def _hidden(path: Path, name: str) -> bool:
    if name.startswith("."):
        return True
    try:
        attrs = getattr(os.stat(path, follow_symlinks=False), "st_file_attributes", 0)
    except OSError:
        return False
    return bool(attrs & getattr(stat, "FILE_ATTRIBUTE_HIDDEN", 2))


_SHEET_NAME = re.compile(r'<sheet\b[^>]*\bname="([^"]*)"')


def own_summary(path: Path) -> bool:
    """This tool's 汇总.xlsx (by name, or by its sheets when renamed 汇总(1).xlsx …: overview.SHEETS, or
    汇总 + 复核发现 as written before the overview)."""
    if path.name == SUMMARY_NAME:
        return True
    if path.suffix.lower() != ".xlsx" or "汇总" not in path.stem:
        return False
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            xml = z.read("xl/workbook.xml")[:200_000].decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError):
        return False
    from .overview import SHEETS  # a constant of the module: pandas is imported only when writing

    names = _SHEET_NAME.findall(xml)
    return names[:2] == ["汇总", "复核发现"] or names == list(SHEETS)


def skip_reason(path: Path) -> str | None:
    """Why a file in INBOX is not processed, or None if it is a workbook to review."""
    name = path.name
    if name.startswith(LOCK_PREFIX):
        return "Excel/WPS 临时锁定文件（工作簿正在被打开），已跳过"
    if _hidden(path, name):
        return "隐藏文件，已跳过"
    if name == RUN_JSON_NAME:
        return "本工具生成的 run.json（以前某次运行的输出），已跳过"
    if path.suffix.lower() not in SPREADSHEET_SUFFIXES | WORD_SUFFIXES:
        return f"不是电子表格文件（扩展名“{path.suffix or '无'}”），已跳过"
    if is_own_output(name):
        return "本工具生成的复核工作簿，已跳过"
    if not path.is_file():
        return "不是普通文件（或是指向不存在文件的符号链接），已跳过"
    if own_summary(path):
        return "本工具生成的汇总表（以前某次运行的输出），已跳过"
    return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _link_reason(path: Path, root: Path, follow: bool) -> str | None:
    """A symlink that leaves INBOX is skipped unless --follow-links (a link can make B's
    draft carry A's file, or pull in a folder nobody meant to submit)."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):
        return "符号链接无法解析（可能循环），已跳过"
    if _inside(target, root) or follow:
        return None
    return f"符号链接指向输入文件夹之外（{target}），已跳过；确需处理请加 --follow-links"


def discover(inbox: Path, outbox: Path, follow_links: bool = False) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Workbooks to review and (path, reason) of everything skipped, both sorted.

    Paths are the paths inside INBOX (a symlink keeps its own name: outputs are named after it).
    Symlinked folders are entered only with ``follow_links`` (each real folder once)."""
    inbox = Path(inbox)
    root = inbox.resolve()
    out_resolved = Path(outbox).resolve()
    todo: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    seen_dirs = {root}
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=follow_links):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if name.startswith(STAGING_PREFIX) or sub.resolve() == out_resolved:
                continue
            if _hidden(sub, name):
                skipped.append((sub, "隐藏文件夹，其中的文件未处理"))
                continue
            if sub.is_symlink():
                why = _link_reason(sub, root, follow_links)
                if why:
                    skipped.append((sub, why.replace("已跳过", "其中的文件未处理")))
                    continue
                real = sub.resolve()
                if not follow_links or _inside(real, root):  # a folder inside INBOX is walked where it is
                    skipped.append((sub, "指向输入文件夹内另一文件夹的符号链接，其中的文件按原位置处理"))
                    continue
                if real in seen_dirs:
                    skipped.append((sub, "符号链接指向已处理过的文件夹，未重复处理"))
                    continue
                seen_dirs.add(real)
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = d / name
            reason = skip_reason(p)
            if reason is None and p.is_symlink():
                reason = _link_reason(p, root, follow_links)
            if reason:
                skipped.append((p, reason))
            else:
                todo.append(p)
    return sorted(todo, key=lambda p: rel_of(p, inbox)), sorted(skipped, key=lambda s: rel_of(s[0], inbox))


def rel_of(path: Path, inbox: Path) -> str:
    return Path(os.path.relpath(path, inbox)).as_posix()


# ---- the worker (runs in a child process) ---------------------------------------------

def _limit_memory(mb: int | None) -> str:
    if not mb:
        return "未限制内存"
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS; a Job Object would be needed
        return "此系统不支持内存上限（仅 POSIX），未限制"
    limit = int(mb) * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError) as exc:
        return f"无法设置内存上限（{exc}）"
    return f"内存上限 {mb} MB"


def worker_start_method() -> str:
    """How batch workers are started: ``forkserver`` where the platform has it (POSIX), else
    ``spawn`` (Windows). ``SELFEVAL_XL_START_METHOD=spawn|forkserver`` overrides it; an
    unavailable choice falls back to ``spawn``. The one place this is decided."""
    methods = multiprocessing.get_all_start_methods()
    want = os.environ.get(START_METHOD_ENV, "").strip().lower()
    if want in ("spawn", "forkserver") and want in methods:
        return want
    return "forkserver" if "forkserver" in methods and os.name == "posix" else "spawn"


def worker_context(method: str | None = None):
    """The multiprocessing context for ``method`` (default ``worker_start_method()``); a fork
    server gets ``WORKER_PRELOAD`` (effective when it starts, i.e. at the first worker of the
    process)."""
    ctx = multiprocessing.get_context(method or worker_start_method())
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    return ctx


def start_fork_server(method: str | None = None) -> None:
    """Start the fork server now, if workers come from one: its preload (~0.5 s) then runs while
    the parent discovers files and stages tasks, not after. Idempotent."""
    if worker_context(method).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def warm_parent(overview: bool = True) -> threading.Thread:
    """Import ``PARENT_PRELOAD`` (+ ``OVERVIEW_PRELOAD``) in a daemon thread; join it before
    writing the summary. Never raises."""
    import importlib

    names = PARENT_PRELOAD + (OVERVIEW_PRELOAD if overview else ())

    def load() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - best effort, see PARENT_PRELOAD
                pass
        timing.mark("parent_warm")

    t = threading.Thread(target=load, name="selfeval-warm-parent", daemon=True)
    t.start()
    return t


def _fault(name: str, spec: str | None = None) -> None:
    """Test-only fault injection, see the module docstring. ``spec`` comes with the task (read
    from the parent's environment when the task was made), never from the worker's environment."""
    if not spec:
        return
    for item in spec.split(";"):
        action, _, pattern = item.partition(":")
        if not fnmatch.fnmatchcase(name, pattern or "*"):
            continue
        verb, _, arg = action.strip().partition("=")
        if verb == "sleep":
            time.sleep(float(arg or 3600))
        elif verb == "exit":
            os._exit(int(arg or 70))
        elif verb == "segv":
            import ctypes

            ctypes.string_at(0)
        elif verb == "raise":
            raise RuntimeError("故障注入（测试用）")
        elif verb == "touch":  # a marker file: "the worker is inside this file now"
            Path(arg).touch()
        elif verb == "memory":
            block = bytearray(int(arg or 4096) * 2**20)
            block[::4096] = b"x" * len(block[::4096])


def worker_init(config: dict) -> dict:
    """Import everything and load the template once per worker, before any file is timed."""
    from . import reader, review, writeback  # noqa: F401
    from .rules import load_profile

    profile = config["profile"]  # "auto": each file by its form's default profile (review.profile_for)
    state: dict = {"profile": profile if profile == "auto" else load_profile(profile), "template": config.get("template")}
    if config["report"]:
        from . import report

        report.load_template(config.get("template"))  # cached per process: later renders reuse it
    return state


def process_file(task: dict, state: dict) -> dict:
    """Read → review → write back → report, into the task's staging folder.

    Returns a plain dict: status ok/failed, error, staged file names, totals, counts, findings.
    Never raises (except by the test-only fault hook, which may kill the process).
    """
    t0 = time.perf_counter()
    src = Path(task["source"])
    name = task.get("rel") or src.name
    stage = Path(task["staging"])
    result: dict = {"status": "failed", "error": None, "staged": [], "totals": None, "findings": None,
                    "project": None, "finding_items": None, "restart": False}
    try:
        _fault(src.name, task.get("fault"))
        if task.get("root") and not task.get("follow_links") and not _inside(src.resolve(), Path(task["root"])):
            raise ReadError("UNSAFE_CONTENT", "该文件是指向输入文件夹之外的符号链接（可能在处理前被改动），未处理；确需处理请加 --follow-links", name)
        from .fsutil import sha256

        result["sha256"] = sha256(src)  # here, under the deadline: never in the parent
        if task.get("reuse_sha") and task["reuse_sha"] == result["sha256"]:
            result.update(status="unchanged", seconds=round(time.perf_counter() - t0, 3))
            return result
        stage.mkdir(parents=True, exist_ok=True)
        from .pipeline import JobOptions, project_summary, review_into

        job = review_into(src, stage, JobOptions(profile=state["profile"], report=task["report"],
                                                 findings=task["findings"], template=state.get("template"),
                                                 fonts=task.get("fonts"),
                                                 previous_reviewed=task.get("previous_reviewed")))
        projects = [dict(project_summary(p.review), outputs=list(p.outputs)) for p in job.projects]
        first = projects[0]
        from .review import to_json

        result["reviews"] = [to_json(p.review) for p in job.projects]  # kept by the parent (store.py)
        result["staged_sha256"] = {n: sha256(stage / n) for n in job.outputs}
        result.update(status="ok", staged=list(job.outputs), projects=projects,
                      kind=job.kind, grade=first.get("grade"),
                      **{k: first[k] for k in ("totals", "findings", "project", "finding_items", "profile")})
    except ReadError as err:
        err.file = name  # the path relative to INBOX, not wherever the reader saw it
        result["error"] = err.to_dict()
    except MemoryError:
        limit = task.get("max_memory_mb")
        detail = f"内存不足（每个文件的内存上限为 {limit} MB，可用 --max-memory 调整）" if limit else "内存不足"
        result["error"] = error_dict("CRASHED", detail, name)
        result["restart"] = True  # a worker that ran out of memory is not trusted further
    except Exception as exc:
        from .errors import TemplateError

        if isinstance(exc, TemplateError):
            result["error"] = error_dict("TEMPLATE_ERROR", str(exc), name)
        else:
            result["error"] = error_dict("INTERNAL", f"{type(exc).__name__}: {exc}"[:500], name)
            result["error"]["traceback"] = traceback.format_exc(limit=8)[-4000:]
    if result["status"] != "ok":
        result["staged"] = []
        shutil.rmtree(stage, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def _die_with_parent() -> str:
    """A worker must not outlive its parent (kill -9 of the run): on Linux the kernel sends it
    SIGKILL (PR_SET_PDEATHSIG); everywhere a thread waits for the parent's end and exits."""
    how = []
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:  # PR_SET_PDEATHSIG = 1
                how.append("PR_SET_PDEATHSIG")
        except (OSError, AttributeError, ValueError):
            pass
    parent = multiprocessing.parent_process()
    if parent is not None:
        if not parent.is_alive():
            os._exit(75)

        def wait_parent() -> None:
            parent.join()
            os._exit(75)

        threading.Thread(target=wait_parent, name="parent-watch", daemon=True).start()
        how.append("parent-watch")
    return "+".join(how)


def cpu_backstop(seconds: float | None) -> None:
    """RLIMIT_CPU as a backstop behind the parent's deadline: this task may use ``seconds``
    (twice the timeout plus a margin) more CPU time; past it the kernel ends the worker (POSIX)."""
    if not seconds:
        return
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        want = int(ru.ru_utime + ru.ru_stime + 2 * seconds + 30)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (want, hard))
    except (ValueError, OSError):
        pass


def _worker_main(conn, config: dict) -> None:
    """Entry point of a worker process (module level: picklable under spawn)."""
    warm = [m for m in WORKER_PRELOAD if m in sys.modules]  # before init: what the start method gave us
    _die_with_parent()
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    except (ValueError, OSError, AttributeError):
        pass
    if hasattr(os, "setpgid"):
        try:  # own process group, so that a kill also reaches LibreOffice started for .xls
            os.setpgid(0, 0)
        except OSError:
            pass
    note = _limit_memory(config.get("max_memory_mb"))
    try:
        state = worker_init(config)
    except BaseException as exc:  # noqa: BLE001 - report why the worker cannot start
        detail = "内存上限过低，处理进程无法启动" if isinstance(exc, MemoryError) else f"处理进程无法启动：{type(exc).__name__}: {exc}"
        try:
            conn.send(("init_error", detail[:500]))
        finally:
            return
    # how this process was made (the Process subclass of its context), and by whom: under
    # forkserver the parent is the fork server, not the batch
    state["worker"] = {"pid": os.getpid(), "ppid": os.getppid(),
                       "start_method": getattr(multiprocessing.current_process(), "_start_method", None),
                       "preloaded": warm, "startup_cpu_s": round(time.process_time(), 4)}
    conn.send(("ready", note))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        if task == "ping":  # a kept worker asked whether it is still alive (next --watch cycle)
            conn.send(("pong", None))
            continue
        if task.get("umask") is not None:  # the parent's, now: a fork server keeps the one it started with
            os.umask(task["umask"])
        cpu_backstop(config.get("timeout"))
        result = process_file(task, state)
        result["worker"] = state["worker"]
        try:
            conn.send(("done", result))
        except (OSError, ValueError):
            return
        if result.get("restart"):
            return


# ---- the pool (parent side) -----------------------------------------------------------

@dataclass
class _Slot:
    proc: multiprocessing.process.BaseProcess
    conn: object
    ready: bool = False  # started up and idle or busy; False while starting or retiring
    retiring: bool = False  # said it will exit after its last task (e.g. after a MemoryError)
    task: dict | None = None
    started: float = 0.0
    spawned: float = field(default_factory=time.monotonic)


def _exit_text(code: int | None) -> str:
    if code is None:
        return "处理进程无响应"
    if code < 0:
        try:
            return f"处理进程被信号 {signal.Signals(-code).name} 终止（可能是文件触发了程序崩溃或内存不足）"
        except ValueError:
            return f"处理进程被信号 {-code} 终止"
    return f"处理进程意外退出（退出码 {code}）"


class _Pool:
    """N worker processes; per-task deadline; dead or late workers are killed and replaced."""

    def __init__(self, jobs: int, config: dict, timeout: float, method: str | None = None):
        self.ctx = worker_context(method)
        self.jobs = jobs
        self.config = config
        self.timeout = timeout
        self.start_failures = 0
        self.slots: list[_Slot] = []  # kept between run() calls (idle workers) until close()

    def _spawn(self) -> _Slot:
        parent, child = self.ctx.Pipe(duplex=True)
        proc = self.ctx.Process(target=_worker_main, args=(child, self.config), name="selfeval-worker", daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    @staticmethod
    def _stop(s: _Slot, graceful: bool) -> None:
        if graceful and s.proc.is_alive():
            try:
                s.conn.send(None)
            except (OSError, ValueError):
                pass
            s.proc.join(2)
        if not graceful and hasattr(os, "killpg") and s.proc.pid:
            # the worker leads its own process group: this also ends a LibreOffice it started
            try:
                os.killpg(s.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        if s.proc.is_alive():
            s.proc.kill()
            s.proc.join(5)
        try:
            s.conn.close()
        except OSError:
            pass

    def close(self) -> None:
        """Stop every worker (gracefully: they finish nothing, they are idle)."""
        slots, self.slots = self.slots, []
        for s in slots:
            self._stop(s, graceful=True)

    @staticmethod
    def _unanswered(slots: list[_Slot], within: float = 10.0) -> list[_Slot]:
        """Kept workers that are not fit for a new batch: retiring, or a ready one that does not
        answer a ping (dead: its pipe ends). Still-starting ones are left to the run loop."""
        bad = [s for s in slots if s.retiring or not s.proc.is_alive()]
        asked = {}
        for s in slots:
            if s not in bad and s.ready:
                try:
                    s.conn.send("ping")
                    asked[s.conn] = s
                except (OSError, ValueError):
                    bad.append(s)
        deadline = time.monotonic() + within
        while asked and time.monotonic() < deadline:
            for c in _mp_wait(list(asked), deadline - time.monotonic()):
                s = asked.pop(c)
                try:
                    kind, _ = c.recv()
                except (EOFError, OSError):
                    kind = None
                if kind != "pong":
                    bad.append(s)
        return bad + list(asked.values())

    def run(self, tasks: list[dict], on_result: Callable[[dict, dict], None], keep: bool = False) -> None:
        """Process ``tasks``; ``keep``: leave the idle workers running for the next call
        (``close()`` ends them), else stop them at the end."""
        pending = deque(tasks)
        slots = self.slots
        for s in self._unanswered(slots):  # died while idle (kill -9 between --watch cycles) or retiring
            slots.remove(s)
            self._stop(s, graceful=False)
        slots.extend(self._spawn() for _ in range(min(self.jobs, len(pending)) - len(slots)))
        timing.mark("spawned")
        startup_error: str | None = None
        ok = False

        def give(s: _Slot) -> None:
            if s.ready and s.task is None and pending:
                s.task, s.started = pending.popleft(), time.monotonic()
                try:
                    s.conn.send(s.task)
                except (OSError, ValueError):
                    pass  # the worker is dead: its sentinel fires below

        try:
            while slots and (pending or any(s.task is not None for s in slots)):
                for s in slots:
                    give(s)
                deadlines = [s.started + self.timeout for s in slots if s.task is not None]
                deadlines += [s.spawned + STARTUP_TIMEOUT for s in slots if not s.ready and not s.retiring]
                wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
                ready = set(_mp_wait([s.conn for s in slots] + [s.proc.sentinel for s in slots], wait_s))
                for s in list(slots):
                    dead = False
                    if s.conn in ready:
                        try:
                            kind, payload = s.conn.recv()
                        except (EOFError, OSError):
                            dead = True
                        else:
                            if kind == "ready":
                                s.ready = True
                                self.start_failures = 0
                                timing.mark("worker_ready")
                            elif kind == "done":
                                task, s.task = s.task, None
                                if payload.get("restart"):
                                    s.ready, s.retiring = False, True  # exits now: give it nothing more
                                give(s)  # its next file first: the worker works while we commit this one
                                with timing.spent("on_result"):
                                    on_result(task, payload)
                            elif kind == "init_error":
                                startup_error = payload
                    elif s.proc.sentinel in ready:
                        dead = True
                    if dead:
                        s.proc.join(5)
                        if s.task is not None:
                            task, s.task = s.task, None
                            on_result(task, _failed(task, "CRASHED", _exit_text(s.proc.exitcode)))
                        elif not s.ready and not s.retiring:
                            self.start_failures += 1
                        slots.remove(s)
                        self._stop(s, graceful=False)
                        if startup_error or self.start_failures >= 3:
                            continue
                        if pending and len(slots) < self.jobs:
                            slots.append(self._spawn())
                        continue
                    if s.task is not None and time.monotonic() - s.started >= self.timeout:
                        task, s.task = s.task, None
                        slots.remove(s)
                        self._stop(s, graceful=False)
                        on_result(task, _failed(task, "TIMEOUT", f"超过 {self.timeout:g} 秒仍未处理完，已终止（可用 --timeout 调整）"))
                        if pending and not startup_error:
                            slots.append(self._spawn())
                    elif not s.ready and not s.retiring and time.monotonic() - s.spawned >= STARTUP_TIMEOUT:
                        slots.remove(s)
                        self._stop(s, graceful=False)
                        self.start_failures += 1
                        startup_error = startup_error or f"处理进程 {STARTUP_TIMEOUT:g} 秒内未能启动"
                if (startup_error or self.start_failures >= 3) and not any(s.task is not None for s in slots):
                    break
            timing.mark("drained")
            detail = startup_error or "处理进程无法启动"
            while pending:
                task = pending.popleft()
                on_result(task, _failed(task, "CRASHED", detail))
            ok = True
        finally:
            if ok and keep:
                for s in [s for s in slots if s.retiring or s.task is not None]:
                    slots.remove(s)
                    self._stop(s, graceful=False)
            else:
                self.slots = []
                for s in slots:
                    self._stop(s, graceful=ok)


def _failed(task: dict, code: str, detail: str) -> dict:
    shutil.rmtree(task["staging"], ignore_errors=True)
    return {"status": "failed", "error": error_dict(code, detail, task["rel"]), "staged": [],
            "totals": None, "findings": None, "project": None, "finding_items": None}


# ---- progress -------------------------------------------------------------------------

class Progress:
    """A one-line ``\\r`` progress bar on stderr, only on a terminal and without -q."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.enabled = enabled and total > 0
        self._len = 0
        if self.enabled:
            self._draw("")

    def step(self, name: str) -> None:
        self.done += 1
        if self.enabled:
            self._draw(name)

    def _draw(self, name: str) -> None:
        width = shutil.get_terminal_size((80, 20)).columns - 1
        n = 20
        filled = n * self.done // max(self.total, 1)
        line = _fit(f"处理中 [{'#' * filled}{'.' * (n - filled)}] {self.done}/{self.total} {name}", width)
        cols = columns(line)
        self.stream.write("\r" + line + " " * max(self._len - cols, 0))
        self.stream.flush()
        self._len = cols

    def close(self) -> None:
        if self.enabled and self._len:
            self.stream.write("\r" + " " * self._len + "\r")
            self.stream.flush()
            self._len = 0


def _fit(text: str, width: int) -> str:
    out, used = [], 0
    for ch in text:
        w = columns(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


# ---- one batch ------------------------------------------------------------------------

def _entry(rel: str, status: str, *, sha: str | None = None, error: dict | None = None, outputs=(),
           data: dict | None = None, reason: str | None = None, projects: list[ProjectEntry] | None = None,
           output_sha256: dict | None = None) -> dict:
    """A run.json file entry (manifest.FileEntry, as JSON): built here and nowhere else."""
    data = data or {}
    if projects is None and data.get("projects") is None and (data.get("totals") or data.get("project")):
        projects = [ProjectEntry(profile=data.get("profile"), totals=data.get("totals"), findings=data.get("findings"),
                                 project=data.get("project"), finding_items=data.get("finding_items"),
                                 outputs=list(outputs))]
    e = FileEntry(input=rel, status=status, error=error, outputs=list(outputs), sha256=sha,
                  projects=projects or [], output_sha256=dict(output_sha256 or {}), reason=reason,
                  seconds=data.get("seconds"), size=data.get("size"),
                  extra={k: data[k] for k in PASSTHROUGH_KEYS if data.get(k) is not None})
    return e.to_json()


# Keys of a worker result copied into the run.json entry as they are (added by other per-file
# jobs, e.g. the input's "kind" for Word inputs): the manifest keeps keys it does not know.
PASSTHROUGH_KEYS = ("kind", "grade")  # kind: workbook | word; grade: the first project's 等级 (national)


def skipped_entries(skipped: list[tuple[Path, str]], inbox: Path) -> list[dict]:
    return [_entry(rel_of(p, inbox), "skipped", reason=reason) for p, reason in skipped]


def clean_stale_staging(outbox: Path) -> list[str]:
    """Staging folders left by a killed run (only called while holding the OUTBOX lock)."""
    removed = []
    for d in Path(outbox).glob(f"{STAGING_PREFIX}*"):
        if d.is_dir() and not d.is_symlink():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


class Batch:
    """Processes lists of INBOX files into OUTBOX; remembers the latest entry per input.

    Output names are claimed per OUTBOX folder for the whole life of the Batch (all of a
    --watch session), on the names actually written; run.json's output hashes are the only
    ground for reuse; an input is written to the journal before its outputs are replaced."""

    def __init__(self, inbox: Path, outbox: Path, options: Options, previous: dict | None = None,
                 keep_workers: bool = False):
        self.inbox = Path(inbox)
        self.outbox = Path(outbox)
        self.options = options
        self.previous = previous or {}
        self.prev_entries: dict[str, dict] = {e.get("input"): e for e in self.previous.get("files", []) if isinstance(e, dict)}
        self.prev_key = output_key(self.previous.get("options")) if self.previous else None
        self.journal = self.outbox / JOURNAL_NAME
        for rel in self._journaled():  # a killed run was replacing these: their entries describe nothing
            self.prev_entries.pop(rel, None)
        self.claims: dict[tuple[str, str], str] = {}  # (folder, casefolded name) -> input
        self.keep_workers = keep_workers  # --watch: one pool for the whole session (close() ends it)
        self.pool: _Pool | None = None

    def close(self) -> None:
        """End the workers kept for the session (``keep_workers``)."""
        pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()

    # -- journal
    def _journaled(self) -> set[str]:
        import json

        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except OSError:
            return set()
        out = set()
        for ln in lines:
            try:
                out.add(json.loads(ln))
            except ValueError:
                continue
        return out

    def _invalidate(self, rel: str) -> None:
        """Before any output of ``rel`` is replaced: on disk, flushed (kill -9 safe)."""
        import json

        self.outbox.mkdir(parents=True, exist_ok=True)
        with open(self.journal, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rel, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.prev_entries.pop(rel, None)

    def clear_journal(self) -> None:
        """After run.json was written: it now describes every output on disk."""
        try:
            self.journal.unlink()
        except OSError:
            pass

    # -- helpers
    def _inside_outbox(self, rel: str) -> Path | None:
        p = (self.outbox / rel).resolve()
        root = self.outbox.resolve()
        return p if p != root and root in p.parents else None

    def _reusable_sha(self, rel: str) -> str | None:
        """The previous input sha256 if --skip-unchanged may reuse this input's outputs: same
        output options, previous result ok, every output present with the recorded sha256."""
        if not self.options.skip_unchanged or self.prev_key != output_key(self.options.to_json()):
            return None
        prev = self.prev_entries.get(rel)
        if not prev or prev.get("status") != "ok" or not prev.get("sha256") or not prev.get("outputs"):
            return None
        recorded = prev.get("output_sha256") or {}
        from .fsutil import sha256

        for out in prev["outputs"]:
            p = self._inside_outbox(out)
            if p is None or not p.is_file() or not recorded.get(out):
                return None  # an entry without output hashes (older run.json) is never reused
            try:
                if sha256(p) != recorded[out]:
                    return None
            except OSError:
                return None
        return prev["sha256"]

    def _reused(self, rel: str) -> dict:
        e = dict(self.prev_entries[rel])
        e["unchanged"] = True
        e.pop("seconds", None)
        return e

    def _claimed_by(self, parent: str, names, rel: str) -> str | None:
        return next((self.claims[(parent, n.casefold())] for n in names
                     if self.claims.get((parent, n.casefold()), rel) != rel), None)

    def _claim(self, parent: str, names, rel: str) -> None:
        for n in names:
            self.claims[(parent, n.casefold())] = rel

    def release(self, rel: str) -> None:
        """``rel`` left INBOX (--watch): its names are free again."""
        for k in [k for k, v in self.claims.items() if v == rel]:
            del self.claims[k]

    def _remove_outputs(self, rel: str, outputs, keep=()) -> None:
        keep = set(keep)
        for out in outputs or ():
            if out in keep:
                continue
            parent, name = PurePosixPath(out).parent.as_posix(), PurePosixPath(out).name
            if self.claims.get((parent, name.casefold()), rel) != rel:
                continue  # now another input's output
            p = self._inside_outbox(out)
            if p is not None and p.is_file():
                try:
                    p.unlink()
                except OSError:
                    pass

    def _drop_stale(self, rel: str) -> None:
        """A file that fails now must not keep the outputs of an earlier version."""
        prev = self.prev_entries.get(rel)
        self._remove_outputs(rel, (prev or {}).get("outputs"))

    def _names(self, src: Path) -> list[str]:
        from .naming import reviewed_name

        names = [reviewed_name(src)]
        if self.options.report:
            from .naming import report_name

            names.append(report_name(src))
            if self.options.pdf:
                names.append(Path(names[-1]).with_suffix(".pdf").name)
        return names

    def _commit(self, rel: str, stage: Path, names: list[str]) -> list[str]:
        final_dir = self.outbox / PurePosixPath(rel).parent
        final_dir.mkdir(parents=True, exist_ok=True)
        moved: list[Path] = []
        try:
            for name in names:
                os.replace(stage / name, final_dir / name)
                moved.append(final_dir / name)
        except OSError:
            for p in moved:  # never leave part of a set
                p.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return [(PurePosixPath(rel).parent / name).as_posix() for name in names]

    # -- the batch
    def process(self, files: list[Path], progress: Progress | None = None, sink: dict | None = None) -> dict[str, dict]:
        """Review ``files``; returns (and fills ``sink`` as results arrive) input → entry."""
        done: dict[str, dict] = sink if sink is not None else {}
        o = self.options
        self.outbox.mkdir(parents=True, exist_ok=True)
        staging_root = self.outbox / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        progress = progress or Progress(0, False)
        tasks: list[dict] = []
        root = str(self.inbox.resolve())
        umask = os.umask(0o022)  # read (and put back): outputs follow this process's umask
        os.umask(umask)

        # .xlsx/.xlsm claim their output names first: next to a.xlsx, a.xls (→ a.复核.xlsx) yields
        for src in sorted(files, key=lambda p: (p.suffix.lower() not in NATIVE_SUFFIXES, rel_of(p, self.inbox))):
            rel = rel_of(src, self.inbox)
            try:
                size = src.stat().st_size  # size first: a 20 GB file is refused before any byte is read
            except OSError as exc:
                done[rel] = _entry(rel, "failed", error=error_dict("NOT_A_WORKBOOK", f"无法读取文件（{exc.strerror or exc}）", rel))
                progress.step(rel)
                continue
            if size > o.max_file_bytes:
                err = ReadError("TOO_LARGE", f"文件 {size / 2**20:.1f} MB，超过上限 {o.max_file_bytes / 2**20:.0f} MB", rel)
                self._drop_stale(rel)
                done[rel] = _entry(rel, "failed", error=err.to_dict(), data={"size": size})
                progress.step(rel)
                continue
            names = self._names(src)
            parent = PurePosixPath(rel).parent.as_posix()
            clash = self._claimed_by(parent, names, rel)
            if clash:
                done[rel] = _entry(rel, "failed", error=_conflict(rel, clash))
                progress.step(rel)
                continue
            self._claim(parent, names, rel)
            tasks.append({"source": os.path.abspath(src), "rel": rel, "report": o.report, "size": size,
                          "findings": o.findings, "fonts": o.fonts, "max_memory_mb": o.max_memory_mb,
                          "reuse_sha": self._reusable_sha(rel), "root": root, "follow_links": o.follow_links,
                          "fault": os.environ.get(FAULT_ENV) or None,  # test hook: read here, never in the worker
                          "umask": umask,
                          "previous_reviewed": str(self.outbox / parent / names[0])})  # decisions to carry over
        tasks.sort(key=lambda t: t["rel"])
        for i, t in enumerate(tasks):
            t["index"], t["staging"] = i, str(staging_root / str(i))

        held: list[tuple[dict, dict]] = []  # waiting for PDF conversion

        def on_result(task: dict, res: dict) -> None:
            rel = task["rel"]
            if res["status"] == "unchanged":
                done[rel] = self._reused(rel)
                progress.step(rel)
                return
            if res["status"] == "ok" and o.pdf:
                held.append((task, res))
                return
            self._finish(task, res, done)
            progress.step(rel)

        config = {"profile": o.profile, "template": o.template, "report": o.report, "max_memory_mb": o.max_memory_mb,
                  "timeout": o.timeout}
        try:
            if tasks:
                timing.mark("pool_start")
                pool = self.pool or _Pool(o.jobs, config, o.timeout)
                self.pool = pool if self.keep_workers else None
                pool.run(tasks, on_result, keep=self.keep_workers)
                timing.mark("pool_done")
            if held:
                self._pdf(held, staging_root, done, progress)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)
        return done

    def _finish(self, task: dict, res: dict, done: dict) -> None:
        rel = task["rel"]
        sha = res.get("sha256")
        res = dict(res, size=task.get("size"))
        if res["status"] == "ok":
            parent = PurePosixPath(rel).parent.as_posix()
            clash = self._claimed_by(parent, res["staged"], rel)  # the names actually written
            if clash:
                shutil.rmtree(task["staging"], ignore_errors=True)
                done[rel] = _entry(rel, "failed", sha=sha, error=_conflict(rel, clash), data=res)
                return
            self._claim(parent, res["staged"], rel)
            old_outputs = (self.prev_entries.get(rel) or {}).get("outputs") or ()
            self._invalidate(rel)
            try:
                outputs = self._commit(rel, Path(task["staging"]), res["staged"])
            except OSError as exc:
                res = _failed(task, "INTERNAL", f"无法写入输出文件（{exc.strerror or exc}：{getattr(exc, 'filename', '') or ''}），该文件可能正在 Excel/Word 中打开")
            else:
                prefix = PurePosixPath(rel).parent
                rel_out = {n: (prefix / n).as_posix() for n in res["staged"]}
                hashes = {rel_out[n]: h for n, h in (res.get("staged_sha256") or {}).items() if n in rel_out}
                projects = [ProjectEntry.from_json(dict(p, outputs=[rel_out.get(n, n) for n in p.get("outputs") or ()]))
                            for p in res.get("projects") or ()]
                self._remove_outputs(rel, old_outputs, keep=outputs)  # e.g. the PDF of an earlier --pdf run
                done[rel] = _entry(rel, "ok", sha=sha, outputs=outputs, data=res, projects=projects or None,
                                   output_sha256=hashes)
                store.write_reviews(self.outbox, rel, res.get("reviews") or [])
                return
        self._drop_stale(rel)
        store.drop_reviews(self.outbox, rel)
        done[rel] = _entry(rel, "failed", sha=sha, error=res.get("error"), data=res)

    def _pdf(self, held: list[tuple[dict, dict]], staging_root: Path, done: dict, progress: Progress) -> None:
        """All reports of the batch in one LibreOffice call; a file without its PDF fails whole."""
        from .fsutil import sha256
        from .office import to_pdf

        sources = [Path(task["staging"]) / res["staged"][-1] for task, res in held]
        why = "LibreOffice 未生成 PDF"
        try:
            made = to_pdf(sources, staging_root / "pdf")
        except Exception as exc:  # noqa: BLE001 - LibreOffice missing or broken
            made, why = {}, f"{type(exc).__name__}: {exc}"
        from .pdffonts import font_notice  # fonts LibreOffice substituted: say so (issue 17)
        from .report import DEFAULT_FONTS
        if note := font_notice(next((p for p in made.values() if p), None), {**DEFAULT_FONTS, **self.options.fonts}):
            print(note, file=sys.stderr)
        for (task, res), src in zip(held, sources):
            pdf = made.get(src)
            if pdf and Path(pdf).is_file():
                name = src.with_suffix(".pdf").name
                os.replace(pdf, Path(task["staging"]) / name)
                res["staged"] = [*res["staged"], name]
                res["staged_sha256"] = {**(res.get("staged_sha256") or {}), name: sha256(Path(task["staging"]) / name)}
                for proj in res.get("projects") or ():
                    if src.name in (proj.get("outputs") or ()):
                        proj["outputs"] = [*proj["outputs"], name]
            else:
                res = dict(_failed(task, "PDF_FAILED", why), sha256=res.get("sha256"))
            self._finish(task, res, done)
            progress.step(task["rel"])


def _conflict(rel: str, other: str) -> dict:
    same_stem = (PurePosixPath(rel).parent == PurePosixPath(other).parent
                 and PurePosixPath(rel).stem.casefold() == PurePosixPath(other).stem.casefold())
    hint = "（同名的另一格式文件，可能是同一份自评表重复提交）" if same_stem else ""
    return error_dict("NAME_CONFLICT", f"输出文件名与“{other}”相同{hint}，请改名后重新处理", rel)


# ---- duplicates -----------------------------------------------------------------------

_COPY_PATTERNS = (re.compile(r"^副本\s*[-－—]\s*(.+)$"), re.compile(r"^(.+?)\s*[-－—]\s*副本(?:\s*[(（]\d+[)）])?$"),
                  re.compile(r"^(.+?)的副本$"), re.compile(r"^(.+?)\s*[(（]\d+[)）]$"), re.compile(r"^Copy of (.+)$", re.I),
                  re.compile(r"^(.+?) - Copy(?: \(\d+\))?$", re.I))


def _original_stem(stem: str) -> str | None:
    for pat in _COPY_PATTERNS:
        m = pat.match(stem)
        if m:
            return m.group(1).strip()
    return None


def _norm_text(t) -> str:
    return re.sub(r"\s+", "", str(t or "")).casefold()


def mark_duplicates(entries: list[dict]) -> int:
    """Flag DUPLICATE_PROJECT: a project reviewed again under another input — the same 项目名称
    and 主管部门, or a copy's name (``副本 - X.xlsx``, ``X - 副本.xlsx``, ``X (2).xlsx``) beside X.
    The first input (an original name before a copy's, a shallower path, then path order) keeps it;
    the others carry ``duplicate_of`` (汇总 says so; mail sends the project once). Returns the count."""
    ok = [e for e in entries if e.get("status") == "ok"]
    by_path = {e["input"]: e for e in ok}

    def order(e):  # an original name before a copy's, a shallower path first, then path order
        p = PurePosixPath(e["input"])
        return (_original_stem(p.stem) is not None or "副本" in p.stem, len(p.parts), e["input"])

    seen: dict[tuple[str, str], str] = {}
    n = 0
    for e in sorted(ok, key=order):
        e.pop("duplicate_of", None)  # marked afresh each time (--watch, reused entries)
        for proj in e.get("projects") or ():
            proj.pop("duplicate_of", None)
        dup = None
        p = PurePosixPath(e["input"])
        orig = _original_stem(p.stem)
        if orig is not None:
            dup = next((q for q in by_path if q != e["input"] and PurePosixPath(q).parent == p.parent
                        and PurePosixPath(q).stem.casefold() == orig.casefold()), None)
        projects = e.get("projects") or [{"project": e.get("project"), "sheet": ""}]
        for proj in projects:
            info = proj.get("project") or {}
            key = (_norm_text(info.get("name")), _norm_text(info.get("department")))
            if not key[0] or not key[1]:
                continue
            first = seen.get(key)
            if first is None:
                seen[key] = e["input"]
            elif first != e["input"]:
                proj["duplicate_of"] = first
                dup = dup or first
        if dup:
            e["duplicate_of"] = dup
            if len(projects) == 1 and e.get("projects"):
                e["projects"][0]["duplicate_of"] = dup
            n += 1
    return n


# ---- run / watch ----------------------------------------------------------------------

def counts_of(entries: list[dict]) -> dict[str, int]:
    from .manifest import counts_of as count

    return count(entries)


def result_line(entries: list[dict]) -> str:
    c = counts_of(entries)
    line = f"处理 {c['ok'] + c['failed']} 个文件：成功 {c['ok']}，失败 {c['failed']}，跳过 {c['skipped']}"
    unchanged = sum(1 for e in entries if e.get("unchanged"))
    if unchanged:
        line += f"（其中 {unchanged} 个未变化，沿用上次结果）"
    dups = sum(1 for e in entries if e.get("duplicate_of"))
    if dups:
        line += f"；重复提交 {dups} 个（DUPLICATE_PROJECT，见汇总.xlsx）"
    return line


def problem_lines(entries: list[dict]) -> list[str]:
    """Each failure with its code and Chinese message, then each duplicate (stderr, also with -q)."""
    lines = []
    failed = [e for e in entries if e["status"] == "failed"]
    if failed:
        lines.append(f"失败的文件（{len(failed)}）：")
        for e in sorted(failed, key=lambda e: e["input"]):
            err = e.get("error") or {}
            lines.append(f"  {e['input']}：{err.get('message') or err.get('code') or '未知错误'}")
    dups = [e for e in entries if e.get("duplicate_of")]
    if dups:
        lines.append(f"重复提交（{len(dups)}）：")
        for e in sorted(dups, key=lambda e: e["input"]):
            lines.append(f"  {e['input']}：[DUPLICATE_PROJECT] 与 {e['duplicate_of']} 为同一项目，邮件只发送一次")
    return lines


def write_outputs(outbox: Path, options: Options, entries: list[dict], started: str, inbox: Path, **extra) -> None:
    entries = sorted(entries, key=lambda e: e["input"])
    mark_duplicates(entries)
    from . import overview  # pandas: parent process only

    timing.mark("summary_imported")
    overview.write_summary(Path(outbox) / SUMMARY_NAME, entries)
    timing.mark("summary")
    m = RunManifest(inbox=str(Path(inbox).resolve()), outbox=str(Path(outbox).resolve()), started=started,
                    finished=now_iso(), options=options.to_json(), files=[FileEntry.from_json(e) for e in entries],
                    version=__version__, interrupted=bool(extra.pop("interrupted", False)),
                    watching=extra.pop("watching", None), extra=extra)
    m.write(Path(outbox) / RUN_JSON_NAME)
    timing.mark("run_json")


def write_overview(outbox: Path, options: Options) -> Path | None:
    """复核汇总报告.docx (and 对比.xlsx with --compare) from the run.json just written; a
    failure is reported on stderr and leaves the batch's results and exit code alone."""
    from .errors import TemplateError
    from .overview_report import write_overview_report

    comparison = None
    try:
        if options.compare:
            from .compare import COMPARE_NAME, compare, write_comparison

            comparison = compare(Path(options.compare), outbox)
            write_comparison(comparison, Path(outbox) / COMPARE_NAME)
        return write_overview_report(outbox, comparison, fonts=options.fonts or None)
    except (ValueError, OSError, TemplateError) as exc:
        print(f"警告：复核汇总报告未能生成：{exc}", file=sys.stderr)
        return None


class _TermAsInterrupt:
    """On POSIX, SIGTERM ends a run like Ctrl-C (summary written, workers killed)."""

    def __enter__(self):
        self.old = None
        if hasattr(signal, "SIGTERM") and os.name == "posix":
            try:
                self.old = signal.signal(signal.SIGTERM, self._raise)
            except ValueError:  # not the main thread
                self.old = None
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)
        return False


def exit_code(entries: list[dict]) -> int:
    return ExitCode.FAILED if any(e["status"] == "failed" for e in entries) else ExitCode.OK


def _print_problems(entries: list[dict]) -> None:
    lines = problem_lines(entries)
    if lines:
        print("\n".join(lines), file=sys.stderr, flush=True)


def run(inbox: Path, outbox: Path, options: Options, out: TextIO | None = None) -> int:
    """One batch over INBOX, holding the OUTBOX lock. Returns the exit code (0 all processed,
    1 some failed, 130 Ctrl-C). Raises lock.LockedError (a UsageError) if OUTBOX is in use."""
    from .lock import outbox_lock

    timing.mark("run")
    try:
        with outbox_lock(outbox, "运行批量复核" if not options.watch else "监视"):
            timing.mark("locked")
            clean_stale_staging(outbox)
            if options.watch:
                return watch(inbox, outbox, options, out=out)
            return _run_once(inbox, outbox, options, out)
    finally:
        timing.mark("end")
        timing.dump()


def _run_once(inbox: Path, outbox: Path, options: Options, out: TextIO | None) -> int:
    out = out or sys.stdout
    started = now_iso()
    outbox.mkdir(parents=True, exist_ok=True)
    previous = load_run_json(outbox / RUN_JSON_NAME)
    todo, skipped = discover(inbox, outbox, options.follow_links)
    timing.mark("discovered")
    if todo:
        start_fork_server()  # first: its preload is the longest wait before the first file
    warm = warm_parent(options.overview)
    batch = Batch(inbox, outbox, options, previous)
    done: dict[str, dict] = {}
    progress = Progress(len(todo), not options.quiet and sys.stderr.isatty())
    interrupted = False
    with _TermAsInterrupt():
        try:
            batch.process(todo, progress, sink=done)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            progress.close()
        entries = list(done.values()) + skipped_entries(skipped, inbox)
        warm.join()
        write_outputs(outbox, options, entries, started, inbox, **({"interrupted": True} if interrupted else {}))
        batch.clear_journal()
        if options.overview and not interrupted:
            write_overview(outbox, options)
            timing.mark("overview")
    if not todo:
        what = "没有找到任何文件" if not skipped else f"没有可复核的电子表格（{len(skipped)} 个文件已跳过，原因见 run.json 和汇总.xlsx）"
        print(f"输入文件夹 {inbox} 中{what}", file=sys.stderr, flush=True)
    line = result_line(entries)
    if interrupted:
        line += f"；已中断，{len(todo) - len(done)} 个文件未处理"
    print(line, file=out, flush=True)
    _print_problems(entries)
    return ExitCode.INTERRUPTED if interrupted else exit_code(entries)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def watch_line(e: dict) -> str:
    """One --watch line per processed file: its name and its score, or why it failed."""
    if e["status"] == "failed":
        return f"失败 {e['input']}：{(e.get('error') or {}).get('message', '')}"
    from .fmt import points

    parts = []
    for p in e.get("projects") or [{"totals": e.get("totals"), "sheet": ""}]:
        t = p.get("totals") or {}
        stated = t.get("stated") if t.get("stated") is not None else t.get("self")
        score = f"规则总分 {points(t['computed'])}" if t.get("computed") is not None else "规则总分 —"
        if stated is not None:
            score += f"（自评 {points(stated)}）"
        parts.append((f"{p['sheet']}：" if p.get("sheet") and len(e.get("projects") or ()) > 1 else "") + score)
    tail = "，沿用上次结果" if e.get("unchanged") else ""
    return f"完成 {e['input']}：{'；'.join(parts)}{tail}"


def watch(inbox: Path, outbox: Path, options: Options, out: TextIO | None = None,
          interval: float | None = None, settle: int | None = None, max_polls: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Process INBOX, then keep polling it; Ctrl-C (or SIGTERM on POSIX) ends with the summary
    written and exit code 130.

    A new or changed workbook is processed once its (size, mtime) has stayed the same for
    ``settle`` polls after it was first seen. Output names are claimed against everything this
    session has written into OUTBOX (a.ods arriving after a.xlsx is a NAME_CONFLICT).
    ``max_polls`` and ``sleep`` are for tests.
    """
    out = out or sys.stdout
    started = now_iso()
    interval = options.poll_interval if interval is None else interval
    settle = options.settle if settle is None else settle
    outbox.mkdir(parents=True, exist_ok=True)
    batch = Batch(inbox, outbox, options, load_run_json(outbox / RUN_JSON_NAME), keep_workers=True)
    state: dict[str, dict] = {}
    processed: dict[str, tuple[int, int] | None] = {}  # input -> signature when last processed
    seen: dict[str, list] = {}  # input -> [signature, polls unchanged]
    polls = 0
    interrupted = False

    def announce(entries: list[dict]) -> None:
        if options.quiet:
            for e in entries:
                if e["status"] == "failed":
                    print(f"[{datetime.now():%H:%M:%S}] {watch_line(e)}", file=sys.stderr, flush=True)
            return
        for e in sorted(entries, key=lambda e: e["input"]):
            print(f"[{datetime.now():%H:%M:%S}] {watch_line(e)}", file=out, flush=True)
        print(f"[{datetime.now():%H:%M:%S}] {result_line(entries)}", file=out, flush=True)

    def process(files: list[Path], skipped: list[tuple[Path, str]]) -> None:
        sigs = {rel_of(p, inbox): _signature(p) for p in files}
        results: dict[str, dict] = {}
        progress = Progress(len(files), not options.quiet and sys.stderr.isatty())
        try:
            batch.process(files, progress, sink=results)
        finally:
            progress.close()
            for rel, e in results.items():
                state[rel] = e
                processed[rel] = sigs.get(rel)
                batch.prev_entries[rel] = e
            batch.prev_key = output_key(options.to_json())
        for s in skipped_entries(skipped, inbox):
            state[s["input"]] = s
        if files:
            announce(list(results.values()))

    def save(watching: bool) -> None:
        write_outputs(outbox, options, list(state.values()), started, inbox, watching=watching)
        batch.clear_journal()

    with _TermAsInterrupt():
        try:
            todo, skipped = discover(inbox, outbox, options.follow_links)
            if not todo and not options.quiet:
                print(f"输入文件夹 {inbox} 中暂时没有可复核的电子表格，继续监视", file=out, flush=True)
            process(todo, skipped)
            save(True)
            if not options.quiet:
                print(f"正在监视 {inbox}（按 Ctrl-C 结束）", file=out, flush=True)
            while max_polls is None or polls < max_polls:
                sleep(interval)
                polls += 1
                todo, skipped = discover(inbox, outbox, options.follow_links)
                ready: list[Path] = []
                present: set[str] = set()
                for p in todo:
                    rel = rel_of(p, inbox)
                    present.add(rel)
                    sig = _signature(p)
                    if sig is None or processed.get(rel) == sig:
                        seen.pop(rel, None)
                        continue
                    entry = seen.get(rel)
                    if entry and entry[0] == sig:
                        entry[1] += 1
                    else:
                        seen[rel] = entry = [sig, 0]
                    if entry[1] >= settle:
                        ready.append(p)
                        seen.pop(rel, None)
                skipped_now = {rel_of(p, inbox) for p, _ in skipped}
                gone = [rel for rel in state if rel not in present and rel not in skipped_now]
                skipped_before = {rel for rel, e in state.items() if e["status"] == "skipped"}
                for rel in gone:
                    state.pop(rel, None)
                    processed.pop(rel, None)
                    batch.release(rel)
                if ready or gone or skipped_now != skipped_before:
                    process(ready, skipped)
                    save(True)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            batch.close()  # the session's workers (kept across cycles)
        entries = list(state.values())
        save(False)
    if options.overview:
        write_overview(outbox, options)
    print(result_line(entries), file=out, flush=True)
    _print_problems(entries)
    return ExitCode.INTERRUPTED if interrupted else exit_code(entries)
