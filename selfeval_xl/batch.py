"""Batch conversion: a folder of 自评表 → reviewed workbooks, reports, 汇总.xlsx and run.json.

``selfeval-xl run INBOX -o OUTBOX`` walks INBOX (subfolders mirrored in OUTBOX), reviews every
spreadsheet in a worker process and writes, per input, ``<stem>.复核.xlsx`` and (unless
``--no-report``) the Word report, plus ``汇总.xlsx`` and ``run.json`` at the top of OUTBOX.

Design decisions
- **Own process pool, not ProcessPoolExecutor.** A running future cannot be cancelled, so a hung
  worker could never be stopped, and one dead worker breaks the whole executor
  (BrokenProcessPool fails every pending file). ``_Pool`` keeps N long-lived
  ``multiprocessing.Process`` workers (``spawn`` context everywhere: same behaviour on Linux and
  Windows, no forked locks), one duplex Pipe each. The parent waits on pipes and process
  sentinels; a worker past the per-file deadline is killed and replaced (TIMEOUT), a worker
  that dies is replaced (CRASHED). Workers ignore SIGINT: Ctrl-C reaches the parent only,
  which kills them.
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
- **PDF** (``--pdf``) is converted by the parent after the workers, all reports in one
  LibreOffice call (much faster than one call per file), then committed.
- **Skipped, listed in run.json**: lock files ``~$*``, hidden files and folders (dot-names, and
  the Windows hidden attribute), non-spreadsheets, and this tool's own ``*.复核.xlsx``. The
  OUTBOX folder is left out of the walk silently when it lies inside INBOX.
- **Watch mode** polls (no dependency); a new or changed file is processed once its size and
  mtime have been identical for ``settle`` further polls. Files that disappear drop out of
  the summary (their outputs stay).

Test-only fault injection: ``SELFEVAL_XL_FAULT="verb[=arg]:glob[;…]"`` makes the worker misbehave
on files whose name matches ``glob``: ``sleep=S``, ``exit=N`` (``os._exit``), ``segv`` (a real
segmentation fault), ``raise`` (an exception), ``memory=MB`` (allocate that much). It is read
only inside workers and does nothing unless set; tests use it to prove crash/timeout isolation.
"""
from __future__ import annotations

import fnmatch
import multiprocessing
import os
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

from . import __version__, store
from .errors import CODES, ReadError
from .fmt import columns
from .sources import DEFAULT_LIMITS, SPREADSHEET_SUFFIXES, WORD_SUFFIXES
from .summary import RUN_JSON_NAME, SUMMARY_NAME, load_run_json, write_run_json

FAULT_ENV = "SELFEVAL_XL_FAULT"
DEFAULT_MAX_MEMORY_MB = 2048
STARTUP_TIMEOUT = 120.0  # seconds a worker may take to import everything and load the template
STAGING_PREFIX = ".selfeval-staging-"
LOCK_PREFIX = "~$"
NATIVE_SUFFIXES = {".xlsx", ".xlsm"}  # written back as they are; other formats are converted
OWN_OUTPUT_MARK = ".复核."  # <stem>.复核.xlsx, written by writeback

# run.json error codes besides errors.CODES (batch-only situations).
EXTRA_CODES: dict[str, str] = {
    "TEMPLATE_ERROR": "报告模板无法渲染",
    "PDF_FAILED": "PDF 转换失败",
    "NAME_CONFLICT": "输出文件名与同一文件夹中的另一个文件冲突",
}


class UsageError(Exception):
    """Bad command line (exit code 2); the message is Chinese."""


def error_dict(code: str, detail: str, file: str = "") -> dict:
    """``{"code", "message"}`` in the same words and form as ``ReadError.message``."""
    if code in CODES:
        return ReadError(code, detail, file).to_dict()
    text = f"{EXTRA_CODES.get(code, code)}：{detail}" if detail else EXTRA_CODES.get(code, code)
    return {"code": code, "message": f"[{code}] {file}：{text}" if file else f"[{code}] {text}"}


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

    def to_json(self) -> dict:
        return {
            "profile": self.profile, "report_template": self.template, "report": self.report,
            "findings": self.findings, "pdf": self.pdf, "skip_unchanged": self.skip_unchanged,
            "jobs": self.jobs, "timeout": self.timeout, "max_memory_mb": self.max_memory_mb,
            "watch": self.watch, "poll_interval": self.poll_interval, "settle": self.settle, "version": __version__,
            "report_template_sha256": self.template_sha256, "profile_sha256": self.profile_sha256,
            "fonts": self.fonts, "overview": self.overview, "compare": self.compare,
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
                skip_unchanged=args.skip_unchanged, quiet=args.quiet, watch=args.watch)
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


def skip_reason(path: Path) -> str | None:
    """Why a file in INBOX is not processed, or None if it is a workbook to review."""
    name = path.name
    if name.startswith(LOCK_PREFIX):
        return "Excel/WPS 临时锁定文件（工作簿正在被打开），已跳过"
    if _hidden(path, name):
        return "隐藏文件，已跳过"
    if path.suffix.lower() not in SPREADSHEET_SUFFIXES | WORD_SUFFIXES:
        return f"不是电子表格文件（扩展名“{path.suffix or '无'}”），已跳过"
    if OWN_OUTPUT_MARK in name:
        return "本工具生成的复核工作簿，已跳过"
    if not path.is_file():
        return "不是普通文件，已跳过"
    return None


def discover(inbox: Path, outbox: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Workbooks to review and (path, reason) of everything skipped, both sorted."""
    inbox = Path(inbox)
    out_resolved = Path(outbox).resolve()
    todo: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for dirpath, dirnames, filenames in os.walk(inbox, followlinks=False):
        d = Path(dirpath)
        keep = []
        for name in sorted(dirnames):
            sub = d / name
            if name.startswith(STAGING_PREFIX) or sub.resolve() == out_resolved:
                continue
            if _hidden(sub, name):
                skipped.append((sub, "隐藏文件夹，其中的文件未处理"))
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            p = d / name
            reason = skip_reason(p)
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


def _fault(name: str) -> None:
    """Test-only fault injection, see the module docstring."""
    spec = os.environ.get(FAULT_ENV)
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
        elif verb == "memory":
            block = bytearray(int(arg or 4096) * 2**20)
            block[::4096] = b"x" * len(block[::4096])


def _worker_init(config: dict) -> dict:
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
        _fault(src.name)
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
        result.update(status="ok", staged=list(job.outputs), projects=projects,
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


def _worker_main(conn, config: dict) -> None:
    """Entry point of a worker process (module level: picklable under spawn)."""
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
        state = _worker_init(config)
    except BaseException as exc:  # noqa: BLE001 - report why the worker cannot start
        detail = "内存上限过低，处理进程无法启动" if isinstance(exc, MemoryError) else f"处理进程无法启动：{type(exc).__name__}: {exc}"
        try:
            conn.send(("init_error", detail[:500]))
        finally:
            return
    conn.send(("ready", note))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        result = process_file(task, state)
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

    def __init__(self, jobs: int, config: dict, timeout: float):
        self.ctx = multiprocessing.get_context("spawn")
        self.jobs = jobs
        self.config = config
        self.timeout = timeout
        self.start_failures = 0

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

    def run(self, tasks: list[dict], on_result: Callable[[dict, dict], None]) -> None:
        pending = deque(tasks)
        slots = [self._spawn() for _ in range(min(self.jobs, len(pending)))]
        startup_error: str | None = None
        ok = False
        try:
            while slots and (pending or any(s.task is not None for s in slots)):
                for s in slots:
                    if s.ready and s.task is None and pending:
                        s.task, s.started = pending.popleft(), time.monotonic()
                        try:
                            s.conn.send(s.task)
                        except (OSError, ValueError):
                            pass  # the worker is dead: its sentinel fires below
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
                            elif kind == "done":
                                task, s.task = s.task, None
                                if payload.get("restart"):
                                    s.ready, s.retiring = False, True  # exits now: give it nothing more
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
            detail = startup_error or "处理进程无法启动"
            while pending:
                task = pending.popleft()
                on_result(task, _failed(task, "CRASHED", detail))
            ok = True
        finally:
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
           data: dict | None = None, reason: str | None = None) -> dict:
    data = data or {}
    e = {"input": rel, "status": status, "error": error, "outputs": list(outputs),
         "totals": data.get("totals"), "findings": data.get("findings"), "sha256": sha,
         "project": data.get("project"), "finding_items": data.get("finding_items")}
    if reason:
        e["reason"] = reason
    if "seconds" in data:
        e["seconds"] = data["seconds"]
    return e


def skipped_entries(skipped: list[tuple[Path, str]], inbox: Path) -> list[dict]:
    return [_entry(rel_of(p, inbox), "skipped", reason=reason) for p, reason in skipped]


class Batch:
    """Processes lists of INBOX files into OUTBOX; remembers the latest entry per input."""

    def __init__(self, inbox: Path, outbox: Path, options: Options, previous: dict | None = None):
        self.inbox = Path(inbox)
        self.outbox = Path(outbox)
        self.options = options
        self.previous = previous or {}
        self.prev_entries: dict[str, dict] = {e.get("input"): e for e in self.previous.get("files", []) if isinstance(e, dict)}
        self.prev_key = output_key(self.previous.get("options")) if self.previous else None

    # -- helpers
    def _inside_outbox(self, rel: str) -> Path | None:
        p = (self.outbox / rel).resolve()
        root = self.outbox.resolve()
        return p if p != root and root in p.parents else None

    def _unchanged(self, rel: str, sha: str) -> dict | None:
        if not self.options.skip_unchanged or self.prev_key != output_key(self.options.to_json()):
            return None
        prev = self.prev_entries.get(rel)
        if not prev or prev.get("status") != "ok" or prev.get("sha256") != sha or not prev.get("outputs"):
            return None
        for out in prev["outputs"]:
            p = self._inside_outbox(out)
            if p is None or not p.is_file():
                return None
        e = dict(prev)
        e["unchanged"] = True
        e.pop("seconds", None)
        return e

    def _drop_stale(self, rel: str) -> None:
        """A file that fails now must not keep the outputs of an earlier version."""
        prev = self.prev_entries.get(rel)
        for out in (prev or {}).get("outputs") or ():
            p = self._inside_outbox(out)
            if p is not None and p.is_file():
                try:
                    p.unlink()
                except OSError:
                    pass

    def _names(self, src: Path) -> list[str]:
        from .writeback import reviewed_name

        names = [reviewed_name(src)]
        if self.options.report:
            from .report import report_name

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
        claimed: dict[tuple[str, str], str] = {}
        from .fsutil import sha256

        # .xlsx/.xlsm claim their output names first: next to a.xlsx, a.xls (→ a.复核.xlsx) yields
        for src in sorted(files, key=lambda p: (p.suffix.lower() not in NATIVE_SUFFIXES, rel_of(p, self.inbox))):
            rel = rel_of(src, self.inbox)
            try:
                sha = sha256(src)
            except OSError as exc:
                done[rel] = _entry(rel, "failed", error=error_dict("NOT_A_WORKBOOK", f"无法读取文件（{exc.strerror or exc}）", rel))
                progress.step(rel)
                continue
            names = self._names(src)
            parent = PurePosixPath(rel).parent.as_posix()
            clash = next((claimed[(parent, n.casefold())] for n in names if (parent, n.casefold()) in claimed), None)
            if clash:
                done[rel] = _entry(rel, "failed", sha=sha, error=error_dict("NAME_CONFLICT", f"输出文件名与“{clash}”相同，请改名后重新处理", rel))
                progress.step(rel)
                continue
            for n in names:
                claimed[(parent, n.casefold())] = rel
            same = self._unchanged(rel, sha)
            if same is not None:
                done[rel] = same
                progress.step(rel)
                continue
            tasks.append({"source": str(src.resolve()), "rel": rel, "sha256": sha, "report": o.report,
                          "findings": o.findings, "fonts": o.fonts, "max_memory_mb": o.max_memory_mb,
                          "previous_reviewed": str(self.outbox / parent / names[0])})  # decisions to carry over
        tasks.sort(key=lambda t: t["rel"])
        for i, t in enumerate(tasks):
            t["index"], t["staging"] = i, str(staging_root / str(i))

        held: list[tuple[dict, dict]] = []  # waiting for PDF conversion

        def on_result(task: dict, res: dict) -> None:
            rel = task["rel"]
            if res["status"] == "ok" and o.pdf:
                held.append((task, res))
                return
            self._finish(task, res, done)
            progress.step(rel)

        config = {"profile": o.profile, "template": o.template, "report": o.report, "max_memory_mb": o.max_memory_mb}
        try:
            if tasks:
                _Pool(o.jobs, config, o.timeout).run(tasks, on_result)
            if held:
                self._pdf(held, staging_root, done, progress)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)
        return done

    def _finish(self, task: dict, res: dict, done: dict) -> None:
        rel = task["rel"]
        if res["status"] == "ok":
            try:
                outputs = self._commit(rel, Path(task["staging"]), res["staged"])
            except OSError as exc:
                res = _failed(task, "INTERNAL", f"无法写入输出文件（{exc.strerror or exc}：{getattr(exc, 'filename', '') or ''}），该文件可能正在 Excel/Word 中打开")
            else:
                done[rel] = _entry(rel, "ok", sha=task["sha256"], outputs=outputs, data=res)
                store.write_reviews(self.outbox, rel, res.get("reviews") or [])
                return
        self._drop_stale(rel)
        store.drop_reviews(self.outbox, rel)
        done[rel] = _entry(rel, "failed", sha=task["sha256"], error=res.get("error"), data=res)

    def _pdf(self, held: list[tuple[dict, dict]], staging_root: Path, done: dict, progress: Progress) -> None:
        """All reports of the batch in one LibreOffice call; a file without its PDF fails whole."""
        from .report import to_pdf

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
            else:
                res = _failed(task, "PDF_FAILED", why)
            self._finish(task, res, done)
            progress.step(task["rel"])


# ---- run / watch ----------------------------------------------------------------------

def counts_of(entries: list[dict]) -> dict[str, int]:
    c = {"ok": 0, "failed": 0, "skipped": 0}
    for e in entries:
        c[e["status"]] = c.get(e["status"], 0) + 1
    return c


def result_line(entries: list[dict]) -> str:
    c = counts_of(entries)
    line = f"处理 {c['ok'] + c['failed']} 个文件：成功 {c['ok']}，失败 {c['failed']}，跳过 {c['skipped']}"
    unchanged = sum(1 for e in entries if e.get("unchanged"))
    if unchanged:
        line += f"（其中 {unchanged} 个未变化，沿用上次结果）"
    return line


def write_outputs(outbox: Path, options: Options, entries: list[dict], started: str, inbox: Path, **extra) -> None:
    entries = sorted(entries, key=lambda e: e["input"])
    from . import overview  # pandas: parent process only

    overview.write_summary(Path(outbox) / SUMMARY_NAME, entries)
    data = {"tool": "selfeval-xl", "version": __version__, "inbox": str(Path(inbox).resolve()),
            "outbox": str(Path(outbox).resolve()), "started": started, "finished": now_iso(),
            "options": options.to_json(), "counts": counts_of(entries), **extra, "files": entries}
    write_run_json(Path(outbox) / RUN_JSON_NAME, data)


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
    return 1 if any(e["status"] == "failed" for e in entries) else 0


def run(inbox: Path, outbox: Path, options: Options, out: TextIO | None = None) -> int:
    """One batch over INBOX. Returns the exit code (0 all processed, 1 some failed, 130 Ctrl-C)."""
    if options.watch:
        return watch(inbox, outbox, options, out=out)
    out = out or sys.stdout
    started = now_iso()
    outbox.mkdir(parents=True, exist_ok=True)
    previous = load_run_json(outbox / RUN_JSON_NAME)
    todo, skipped = discover(inbox, outbox)
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
        write_outputs(outbox, options, entries, started, inbox, **({"interrupted": True} if interrupted else {}))
    if options.overview and not interrupted:
        write_overview(outbox, options)
    line = result_line(entries)
    if interrupted:
        line += f"；已中断，{len(todo) - len(done)} 个文件未处理"
    print(line, file=out, flush=True)
    return 130 if interrupted else exit_code(entries)


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def watch(inbox: Path, outbox: Path, options: Options, out: TextIO | None = None,
          interval: float | None = None, settle: int | None = None, max_polls: int | None = None,
          sleep: Callable[[float], None] = time.sleep) -> int:
    """Process INBOX, then keep polling it; Ctrl-C (or SIGTERM on POSIX) ends with the summary written.

    A new or changed workbook is processed once its (size, mtime) has stayed the same for
    ``settle`` polls after it was first seen. ``max_polls`` and ``sleep`` are for tests.
    """
    out = out or sys.stdout
    started = now_iso()
    interval = options.poll_interval if interval is None else interval
    settle = options.settle if settle is None else settle
    outbox.mkdir(parents=True, exist_ok=True)
    batch = Batch(inbox, outbox, options, load_run_json(outbox / RUN_JSON_NAME))
    state: dict[str, dict] = {}
    processed: dict[str, tuple[int, int] | None] = {}  # input -> signature when last processed
    seen: dict[str, list] = {}  # input -> [signature, polls unchanged]
    polls = 0

    def announce(entries: list[dict]) -> None:
        if not options.quiet:
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

    with _TermAsInterrupt():
        try:
            todo, skipped = discover(inbox, outbox)
            process(todo, skipped)
            write_outputs(outbox, options, list(state.values()), started, inbox, watching=True)
            if not options.quiet:
                print(f"正在监视 {inbox}（按 Ctrl-C 结束）", file=out, flush=True)
            while max_polls is None or polls < max_polls:
                sleep(interval)
                polls += 1
                todo, skipped = discover(inbox, outbox)
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
                if ready or gone or skipped_now != skipped_before:
                    process(ready, skipped)
                    write_outputs(outbox, options, list(state.values()), started, inbox, watching=True)
        except KeyboardInterrupt:
            pass
        entries = list(state.values())
        write_outputs(outbox, options, entries, started, inbox, watching=False)
    if options.overview:
        write_overview(outbox, options)
    print(result_line(entries), file=out, flush=True)
    return exit_code(entries)
