"""Benchmark the selfeval-xl batch: pipeline stages against their floors, -j scaling, memory, start-up.

    python benchmarks/bench.py                 # default: N=200, 3 repeats (about 5 minutes on 2 cores)
    python benchmarks/bench.py --quick         # N=40, 2 repeats (about 1.5 minutes; the -j 1 pass alone is ~30 s)
    python benchmarks/bench.py --profile       # also write pyinstrument profiles of the pipeline

One command generates the inputs (N workbooks shaped like the sample, varied a little, and one
large workbook with 1,000 indicators and 500 sub-items), then measures in the same run:

* the pipeline per workbook, stage by stage (read, review, write back, report), in this process;
* the floors for the same files: python-calamine reading alone, openpyxl load + save alone,
  docxtpl render + save of the report template with the same context alone;
* ``selfeval-xl run -j 1`` against ``-j 2`` (the real CLI in a subprocess);
* the peak RSS of every batch worker at N=20 and at N (polled from /proc, cross-checked with
  ``os.wait4`` rusage), and the start-up cost (imports).

Pipeline stages and floors are interleaved file by file, so background load hits both alike; every
number is a median over repeats, and the ratios (pipeline / floor, -j 2 / -j 1, large / sample)
are the result - the absolute times are context only. The table is printed and written to
benchmarks/results.md with the date and the machine.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.md"
README = Path(__file__).resolve().parent / "README.md"
MARK_BEGIN, MARK_END = "<!-- results:begin (written by bench.py) -->", "<!-- results:end -->"
GENERATOR_VERSION = "1"  # bump when the generated content changes (invalidates cached inputs)
LARGE_INDICATORS, LARGE_SUB_ITEMS = 1000, 500
MEMORY_SMALL_N = 20

# Targets (issue 9).
TARGET_PIPELINE_RATIO = 1.5  # pipeline <= 1.5 x (openpyxl load + save + report render)
TARGET_SPEEDUP = 1.7  # -j 2 >= 1.7 x -j 1
TARGET_WORKER_MB = 300.0  # peak RSS per worker
TARGET_FLAT = 1.10  # worker peak at N / at 20 (plus 10 MB slack): "does not grow with N"
TARGET_LARGE_RATIO = 10.0  # large workbook < 10 x the sample's time

TARGET_DIY_RATIO = 0.5  # issue 16: pipeline <= 0.5 x a staff member's own openpyxl + docxtpl script
DIY = "DIY script (openpyxl load + 6 columns + save; docxtpl report)"
CPU_PIPE, CPU_DIY = "pipeline, CPU time", "DIY script, CPU time"  # process_time: less sensitive to a busy machine

WORKER_MODULES = ("selfeval_xl.reader", "selfeval_xl.review", "selfeval_xl.writeback", "selfeval_xl.report")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def have(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# ---- inputs ---------------------------------------------------------------------------

def seed_content() -> dict:
    spec = importlib.util.spec_from_file_location("_build_sample", ROOT / "tools" / "build_sample.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.parse_seed(mod.SEED.read_text(encoding="utf-8"))


def _wiggle(x, rng: random.Random):
    """A number changed by at most 1 %, kept to cents (ints stay ints when unchanged)."""
    if not isinstance(x, (int, float)) or isinstance(x, bool) or x == 0:
        return x
    return round(x * (1 + rng.uniform(-0.01, 0.01)), 2)


def varied_content(seed: dict, i: int) -> dict:
    """The seed project with a different name and slightly different numbers and self-scores."""
    rng = random.Random(i)
    c = dict(seed)
    c["project_name"] = f"{seed['project_name']}（{i + 1:04d}）"
    c["department"] = rng.choice([seed["department"], "苏州市工业和信息化局", "苏州市财政局", "苏州市科学技术局"])
    c["budget"] = {k: _wiggle(v, rng) for k, v in seed["budget"].items()}
    c["funds"] = {k: _wiggle(v, rng) for k, v in seed["funds"].items()}
    c["sub_items"] = [(name, _wiggle(amount, rng)) for name, amount in seed["sub_items"]]
    c["composition_total"] = round(sum(a for _, a in c["sub_items"] if isinstance(a, (int, float))), 2)
    cats = []
    for label, rows in seed["categories"]:
        new = []
        for name, target, weight, actual, score in rows:
            if isinstance(score, (int, float)) and score > 0 and rng.random() < 0.1:
                score = max(0, score - 1)
            new.append((name, target, weight, actual, score))
        cats.append((label, new))
    c["categories"] = cats
    c["total"] = round(sum(r[4] for _, rows in cats for r in rows if isinstance(r[4], (int, float))), 2)
    return c


def large_content(seed: dict) -> dict:
    """1,000 indicators (250 per class, cycling the seed's) and 500 sub-items."""
    c = dict(seed)
    c["project_name"] = f"{seed['project_name']}（大表）"
    items = [(f"{name}（{k // len(seed['sub_items']) + 1}）", amount)
             for k, (name, amount) in ((k, seed["sub_items"][k % len(seed["sub_items"])]) for k in range(LARGE_SUB_ITEMS))]
    c["sub_items"] = items
    c["composition_total"] = round(sum(a for _, a in items), 2)
    per = LARGE_INDICATORS // len(seed["categories"])
    cats = []
    for label, rows in seed["categories"]:
        new = []
        for k in range(per):
            name, target, weight, actual, score = rows[k % len(rows)]
            new.append((f"{name}{k // len(rows) + 1}", target, weight, actual, score))
        cats.append((label, new))
    c["categories"] = cats
    c["total"] = round(sum(r[4] for _, rows in cats for r in rows if isinstance(r[4], (int, float))), 2)
    return c


def _write_one(args: tuple[str, dict]) -> str:
    from selfeval_xl import form

    path, content = args
    form.write(Path(path), content)
    return path


def _fingerprint() -> str:
    """What the generated inputs depend on: the form, the seed and the generator functions."""
    import inspect

    h = hashlib.sha256(GENERATOR_VERSION.encode())
    for p in (ROOT / "selfeval_xl" / "form.py", ROOT / "tests" / "data" / "seed_suzhou_2020.txt", ROOT / "tools" / "build_sample.py"):
        h.update(p.read_bytes())
    for fn in (_wiggle, varied_content, large_content):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:16]


def generate(out: Path, n: int) -> tuple[list[Path], Path]:
    """N sample-shaped workbooks in out/inbox and the large one in out/large; reused when unchanged."""
    inbox, large_dir = out / "inbox", out / "large"
    stamp = out / "inputs.json"
    fp = _fingerprint()
    try:
        old = json.loads(stamp.read_text())
    except (OSError, ValueError):
        old = {}
    seed = seed_content()
    want = [inbox / f"{i + 1:04d}_自评表.xlsx" for i in range(n)]
    large = large_dir / "大表_1000指标.xlsx"
    if old.get("fingerprint") != fp:
        shutil.rmtree(inbox, ignore_errors=True)
        shutil.rmtree(large_dir, ignore_errors=True)
        old = {}
    inbox.mkdir(parents=True, exist_ok=True)
    large_dir.mkdir(parents=True, exist_ok=True)
    for extra in set(inbox.iterdir()) - set(want):  # a previous, larger N: drop the surplus
        extra.unlink()
    todo = [(str(p), varied_content(seed, i)) for i, p in enumerate(want) if not p.exists()]
    if not large.exists():
        todo.append((str(large), large_content(seed)))
    if todo:
        t = time.perf_counter()
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(_write_one, todo, chunksize=4))
        log(f"generated {len(todo)} workbooks in {time.perf_counter() - t:.1f}s")
    stamp.write_text(json.dumps({"fingerprint": fp, "n": n}))
    return want, large


# ---- the pipeline and its floors, in this process ---------------------------------------

class Stages:
    """The pipeline stages, resolved from whatever modules exist now."""

    def __init__(self, work: Path):
        from selfeval_xl import reader, review

        self.work = work
        self.reader, self.review = reader, review
        self.writeback = importlib.import_module("selfeval_xl.writeback") if have("selfeval_xl.writeback") else None
        self.report = importlib.import_module("selfeval_xl.report") if have("selfeval_xl.report") else None
        self.template = self._template_path()

    def _template_path(self) -> Path | None:
        if self.report is not None and callable(getattr(self.report, "default_template", None)):
            p = Path(self.report.default_template())
            if p.is_file():
                return p
        if self.report is not None:
            for name in ("TEMPLATE", "DEFAULT_TEMPLATE", "TEMPLATE_PATH"):
                p = getattr(self.report, name, None)
                if p is not None and Path(str(p)).is_file():
                    return Path(str(p))
        from selfeval_xl.resources import template_file

        p = template_file("自评报告.docx")
        return p if p.is_file() else None

    def names(self) -> list[str]:
        return ["read", "review"] + (["write back"] if self.writeback else []) + (["report"] if self.report else [])

    def run(self, path: Path, times: dict[str, float]) -> object:
        t0 = time.perf_counter()
        ev = self.reader.read(path)
        t1 = time.perf_counter()
        r = self.review.review(ev)
        t2 = time.perf_counter()
        times["read"], times["review"] = t1 - t0, t2 - t1
        if self.writeback:
            target = self.work / self.writeback.reviewed_name(path)
            t = time.perf_counter()
            self.writeback.write_reviewed(r, path, target)
            times["write back"] = time.perf_counter() - t
        if self.report:
            target = self.work / (Path(path).stem + ".自评价报告.docx")
            t = time.perf_counter()
            self.report.render_report(r, target)
            times["report"] = time.perf_counter() - t
        return r

    # -- floors --

    def context(self, r) -> dict | None:
        """The report's template context for a review, built by report.py itself."""
        if self.report is None:
            return None
        for name in ("context", "build_context", "report_context", "make_context"):
            fn = getattr(self.report, name, None)
            if callable(fn):
                return fn(r)
        return None

    @staticmethod
    def floor_calamine(path: Path) -> None:
        import python_calamine as pc

        wb = pc.CalamineWorkbook.from_path(str(path))
        try:
            for idx in range(len(wb.sheet_names)):
                wb.get_sheet_by_index(idx).to_python(skip_empty_area=True)
        finally:
            wb.close()

    def floor_openpyxl(self, path: Path) -> None:
        import openpyxl

        wb = openpyxl.load_workbook(path)
        wb.save(self.work / "floor.xlsx")

    def floor_diy(self, path: Path, r, ctx: dict | None) -> None:
        """What a staff member's own script does: openpyxl load, six values per indicator row
        written right of the table, save; then the docxtpl report (template, render, save)."""
        import openpyxl

        wb = openpyxl.load_workbook(path)
        ws = wb[r.evaluation.sheet]
        first = ws.max_column + 1
        for s in r.scored:
            row = int(s.indicator.cell.split("!")[1].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
            values = (s.target.display, s.actual.display, float(s.completion) if s.completion is not None else None,
                      float(s.score), float(s.score - (s.indicator.self_score.number or 0)), s.basis)
            for i, v in enumerate(values):
                ws.cell(row, first + i, v)
        wb.save(self.work / "diy.xlsx")
        if ctx is not None and self.template:
            self.floor_docxtpl(ctx)

    def floor_docxtpl(self, ctx: dict) -> None:
        """Load the template, render the context (with the chart already drawn), save: docxtpl alone."""
        import io

        from docx.shared import Mm
        from docxtpl import DocxTemplate, InlineImage

        ctx = dict(ctx)
        png = ctx.pop("chart_png", None)
        doc = DocxTemplate(str(self.template))
        ctx["chart"] = InlineImage(doc, io.BytesIO(png), width=Mm(140)) if png else None
        doc.render(ctx)
        doc.save(str(self.work / "floor.docx"))


def measure_inprocess(files: list[Path], large: Path, repeat: int, work: Path) -> dict:
    """Per-workbook medians of each stage and each floor; stages and floors interleaved per file."""
    st = Stages(work)
    work.mkdir(parents=True, exist_ok=True)
    r0 = st.run(files[0], {})  # warm-up: imports, profile and template caches (the worker's steady state)
    ctx = st.context(r0)
    floors = ["calamine read", "openpyxl load+save"] + (["docxtpl render+save"] if ctx is not None and st.template else [])
    floors.append(DIY)
    if ctx is not None:
        st.floor_docxtpl(ctx)
    st.floor_openpyxl(files[0])
    per_repeat: dict[str, list[float]] = {}  # key -> per-repeat mean seconds per workbook
    cpu0, wall0, own0 = cpu_busy(), time.perf_counter(), time.process_time()

    def add(key: str, value: float) -> None:
        per_repeat.setdefault(key, []).append(value)

    for rep in range(repeat):
        sums: dict[str, float] = {}
        for path in files:
            times: dict[str, float] = {}
            c0 = time.process_time()
            r = st.run(path, times)
            times[CPU_PIPE] = time.process_time() - c0
            for k, v in times.items():
                sums[k] = sums.get(k, 0.0) + v
            t = time.perf_counter()
            st.floor_calamine(path)
            t1 = time.perf_counter()
            st.floor_openpyxl(path)
            t2 = time.perf_counter()
            sums["calamine read"] = sums.get("calamine read", 0.0) + t1 - t
            sums["openpyxl load+save"] = sums.get("openpyxl load+save", 0.0) + t2 - t1
            c = st.context(r)
            if "docxtpl render+save" in floors:
                t = time.perf_counter()
                st.floor_docxtpl(c)
                sums["docxtpl render+save"] = sums.get("docxtpl render+save", 0.0) + time.perf_counter() - t
            t, c0 = time.perf_counter(), time.process_time()
            st.floor_diy(path, r, c)
            sums[DIY] = sums.get(DIY, 0.0) + time.perf_counter() - t
            sums[CPU_DIY] = sums.get(CPU_DIY, 0.0) + time.process_time() - c0
        for k, v in sums.items():
            add(k, v / len(files))
        add("pipeline", sum(sums[k] for k in st.names()) / len(files))
        # The large workbook: pipeline and its openpyxl floor.
        times = {}
        st.run(large, times)
        add("large pipeline", sum(times.values()))
        for k, v in times.items():
            add(f"large {k}", v)
        log(f"in-process repeat {rep + 1}/{repeat}: pipeline {per_repeat['pipeline'][-1] * 1000:.0f} ms/workbook, "
            f"large {per_repeat['large pipeline'][-1]:.2f} s")
    machine = busy_cores(cpu0, cpu_busy())
    ours = (time.process_time() - own0) / (time.perf_counter() - wall0)
    return {"stages": st.names(), "floors": floors, "runs": per_repeat, "files": len(files),
            "cores_ours": ours, "cores_others": max(0.0, machine - ours),
            "template": str(st.template) if st.template else None}


def profile_pipeline(files: list[Path], large: Path, work: Path, out: Path) -> list[Path]:
    """pyinstrument profiles of the pipeline: sample-shaped files (after a warm-up) and the large one."""
    from pyinstrument import Profiler

    st = Stages(work)
    work.mkdir(parents=True, exist_ok=True)
    written = []
    for name, paths, warm in (("sample", files, True), ("large", [large], True), ("cold", files[:1], False)):
        if warm:
            st.run(files[0], {})
        p = Profiler(interval=0.0005)
        p.start()
        for path in paths:
            st.run(path, {})
        p.stop()
        html, txt = out / f"profile_{name}.html", out / f"profile_{name}.txt"
        html.write_text(p.output_html(), encoding="utf-8")
        txt.write_text(p.output_text(unicode=True, show_all=False), encoding="utf-8")
        written += [html, txt]
        if name == "cold":
            break
    return written


# ---- the batch through the real CLI --------------------------------------------------------

def cli_command() -> list[str]:
    exe = Path(sys.executable).parent / "selfeval-xl"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "selfeval_xl"]


def _proc_table() -> dict[int, int]:
    """pid -> ppid for every process (from /proc/*/stat)."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as fh:
                    s = fh.read()
                out[int(d)] = int(s[s.rindex(b")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    return out


def _status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    total = sum(f[:8])
    return total - idle, total


def busy_cores(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Average number of busy CPUs (all processes) between two ``cpu_busy()`` snapshots."""
    d_total = after[1] - before[1]
    return (after[0] - before[0]) / d_total * (os.cpu_count() or 1) if d_total > 0 else float("nan")


class PeakMonitor(threading.Thread):
    """Polls VmHWM (peak RSS) of a process tree until stopped.

    VmHWM only ever grows, so polling loses nothing while a process lives; a worker that exits
    between two polls loses at most its last 0.1 s. ``checkpoint``: when ``outputs()`` first
    reaches that many finished files, every process's VmHWM so far is recorded too (the peak
    after the first N files of the same run).
    """

    def __init__(self, root: int, interval: float = 0.1, rescan: float = 0.5,
                 checkpoint: int = 0, outputs: Callable[[], int] | None = None):
        super().__init__(daemon=True)
        self.root, self.interval, self.rescan = root, interval, rescan
        self.checkpoint, self.outputs = checkpoint, outputs
        self.peaks: dict[int, int] = {}  # pid -> VmHWM kB
        self.at_checkpoint: dict[int, int] | None = None
        self.cmd: dict[int, str] = {}
        self.parent: dict[int, int] = {}  # pid -> ppid when first seen (a fork server is reparented when the CLI exits)
        self.stop = threading.Event()

    def run(self) -> None:
        known: set[int] = {self.root}
        last_scan = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now - last_scan >= self.rescan:
                # descendants at any depth: under forkserver the workers are the fork server's
                # children (grandchildren of the CLI); a process seen once stays known (its
                # parent may have exited since, and it is then reparented)
                kids: dict[int, list[int]] = {}
                for pid, ppid in _proc_table().items():
                    kids.setdefault(ppid, []).append(pid)
                stack, seen = list(known), set()
                while stack:
                    p = stack.pop()
                    if p not in seen:
                        seen.add(p)
                        for k in kids.get(p, ()):
                            self.parent.setdefault(k, p)
                            stack.append(k)
                known |= seen
                last_scan = now
            done = self.outputs() if self.outputs and self.at_checkpoint is None else 0
            for pid in list(known):
                hwm = _status_kb(pid, "VmHWM")
                if hwm is None:
                    continue
                if pid not in self.cmd:
                    self.cmd[pid] = _cmdline(pid)
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)
            if self.checkpoint and self.at_checkpoint is None and done >= self.checkpoint:
                self.at_checkpoint = dict(self.peaks)
            self.stop.wait(self.interval)


# Runs the CLI and reports RUSAGE_CHILDREN: CPU time and the largest peak RSS of the CLI and of
# every process below it. A small wrapper, because Linux carries a parent's RSS into a forked
# child's maxrss: forked from this (large) benchmark process, the CLI would report our memory,
# not its own. The wrapper is a child subreaper (Linux, PR_SET_CHILD_SUBREAPER): a fork server
# is never waited for by the CLI (it exits after the CLI, when its pipe closes), so it and the
# workers it reaped would be missing from the CLI's rusage; as a subreaper the wrapper inherits
# it when the CLI exits and reaps it (and any other orphan) before reading its rusage.
# "cli_s": the CLI's own wall time; "reaped_s": until the last descendant was reaped.
_WRAPPER = (
    "import ctypes, json, os, resource, subprocess, sys, time\n"
    "sub = False\n"
    "if sys.platform.startswith('linux'):\n"
    "    try:\n"
    "        sub = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER\n"
    "    except (OSError, AttributeError):\n"
    "        pass\n"
    "t = time.perf_counter()\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "cli_s = time.perf_counter() - t\n"
    "deadline = time.monotonic() + 30\n"
    "while sub and time.monotonic() < deadline:\n"
    "    try:\n"
    "        pid, _ = os.waitpid(-1, os.WNOHANG)\n"
    "    except ChildProcessError:\n"
    "        break\n"
    "    if pid == 0:\n"
    "        time.sleep(0.01)\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(json.dumps({'rc': rc, 'maxrss_kb': u.ru_maxrss, 'cpu': u.ru_utime + u.ru_stime,\n"
    "                                         'subreaper': sub, 'cli_s': cli_s, 'reaped_s': time.perf_counter() - t}))\n"
    "sys.exit(rc)\n"
)


def run_batch(inbox: Path, outbox: Path, jobs: int, extra: list[str] = (), checkpoint: int = 0,
              env: dict | None = None) -> dict:
    """One ``selfeval-xl run`` into a fresh outbox: wall time, exit code, peak RSS of main and workers."""
    shutil.rmtree(outbox, ignore_errors=True)
    cmd = cli_command() + ["run", str(inbox), "-o", str(outbox), "-j", str(jobs), "-q", *extra]
    usage_file = outbox.with_name(outbox.name + ".rusage.json")

    def finished() -> int:
        try:
            return sum(1 for n in os.listdir(outbox) if ".复核." in n)
        except OSError:
            return 0

    timing_file = outbox.with_name(outbox.name + ".timing.json")
    timing_file.unlink(missing_ok=True)
    env = {**(env if env is not None else os.environ), "SELFEVAL_XL_TIMING": str(timing_file)}  # selfeval_xl/timing.py
    cpu0 = cpu_busy()
    t = time.perf_counter()
    t_epoch = time.time()
    proc = subprocess.Popen([sys.executable, "-c", _WRAPPER, str(usage_file), *cmd],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    mon = PeakMonitor(proc.pid, checkpoint=checkpoint, outputs=finished)
    mon.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t
    machine = busy_cores(cpu0, cpu_busy())
    mon.stop.set()
    mon.join()
    try:
        usage = json.loads(usage_file.read_text())
    except (OSError, ValueError):
        usage = {"maxrss_kb": 0}
    # The tree: wrapper -> CLI main -> workers (spawn), or CLI main -> fork server -> workers
    # (forkserver), + multiprocessing's resource tracker, + fc-match run for the chart font.
    tree = {pid: c for pid, c in mon.cmd.items() if pid != proc.pid}
    main = next((pid for pid, c in tree.items() if "selfeval" in c and " run " in f" {c} "), None)
    # the fork server: started by the CLI; its forked children carry the same command line
    servers = {pid for pid, c in tree.items() if "forkserver" in c and mon.parent.get(pid) == main}

    def is_worker(pid: int) -> bool:
        """A multiprocessing worker: spawned by the CLI (``spawn_main``) or forked by its fork
        server; not the resource tracker, not the fork server itself, not fc-match."""
        c = mon.cmd.get(pid, "")
        if pid in (proc.pid, main) or pid in servers:
            return False
        if "spawn_main" in c:
            return "resource_tracker" not in c
        return mon.parent.get(pid) in servers and "python" in c

    workers = {pid: kb for pid, kb in mon.peaks.items() if is_worker(pid)}
    at_cp = {pid: kb for pid, kb in (mon.at_checkpoint or {}).items() if is_worker(pid)}
    res = {
        "cmd": " ".join(cmd[1:]), "jobs": jobs, "wall": wall, "rc": proc.returncode,
        "main_mb": mon.peaks.get(main, 0) / 1024, "worker_mb": max(workers.values(), default=0) / 1024,
        "workers": len(workers), "rusage_max_mb": usage.get("maxrss_kb", 0) / 1024,
        "fork_server_mb": max((mon.peaks.get(p, 0) for p in servers), default=0) / 1024,
        "cli_s": usage.get("cli_s"), "subreaper": usage.get("subreaper"),
        # cores used by this run, and by everything else on the machine meanwhile
        "cores_ours": usage.get("cpu", 0) / wall, "cores_others": max(0.0, machine - usage.get("cpu", 0) / wall),
        "stderr": err.decode("utf-8", "replace")[-2000:],
    }
    if at_cp:
        res["worker_mb_at_checkpoint"] = max(at_cp.values()) / 1024
    res.update(_run_json_stats(outbox))
    res["phases"] = _phases(timing_file, t_epoch, wall, res.get("file_seconds_sum"), jobs)
    return res


# Where "outside the files" goes: the batch parent's marks (SELFEVAL_XL_TIMING) turned into
# phases that add up to wall - sum(per-file seconds) / jobs.
PHASES = (
    ("start-up to cmd_run (python, imports; incl. the bench's wrapper)", None, "cli"),
    ("options, lock, discovery, tasks", "cli", "pool_start"),
    ("pool start to first worker ready (fork server preload, fork, worker init)", "pool_start", "worker_ready"),
    ("between files (hand-over, results, the tail's idle worker)", "worker_ready", "drained"),
    ("workers stopped", "drained", "pool_done"),
    ("汇总.xlsx + run.json", "pool_done", "run_json"),
    ("复核汇总报告", "run_json", "overview"),
    ("exit (CLI, fork server)", "overview", None),
)


def _phases(path: Path, t0: float, wall: float, file_sum: float | None, jobs: int) -> dict[str, float] | None:
    try:
        marks = json.loads(path.read_text(encoding="utf-8"))["marks"]
    except (OSError, ValueError, KeyError):
        return None
    at: dict[str, float] = {}
    for name, when in marks:
        at.setdefault(name, when - t0)  # the first time each was reached
    if not file_sum or any(m and m not in at for _, a, b in PHASES for m in (a, b)):
        return None
    out = {}
    for label, a, b in PHASES:
        start = at[a] if a else 0.0
        end = at[b] if b else wall
        out[label] = end - start
    out["between files (hand-over, results, the tail's idle worker)"] -= file_sum / jobs
    return out


def _run_json_stats(outbox: Path) -> dict:
    """What the batch itself recorded in run.json: statuses and, if present, per-file peak RSS."""
    try:
        data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"ok": None}
    files = data.get("files") or []
    ok = sum(1 for f in files if f.get("status") == "ok")
    rss = [v for f in files for k, v in f.items() if isinstance(v, (int, float)) and "rss" in k.lower()]
    secs = sorted(f["seconds"] for f in files if isinstance(f.get("seconds"), (int, float)))
    out = {"ok": ok, "files": len(files)}
    if secs:
        out["file_seconds_median"] = statistics.median(secs)
        out["file_seconds_sum"] = sum(secs)
    if rss:
        out["file_rss_max"] = max(rss)
    return out


def batch_ok(r: dict) -> bool:
    """The run finished and processed every file (run.json present, all entries ok)."""
    return r["rc"] in (0, 1) and r.get("ok") is not None and r["ok"] == r.get("files")


def cli_has(flag: str) -> bool:
    try:
        res = subprocess.run(cli_command() + ["run", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return flag in res.stdout


def has_run_command() -> bool:
    try:
        res = subprocess.run(cli_command() + ["run", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return res.returncode == 0


_SPIN = "n = 0\nfor i in range(8_000_000):\n    n += i & 7\n"


def machine_ceiling() -> float:
    """What two processes can get from this machine right now: a fixed CPU-bound loop run
    alone, twice at once, alone again; 2 x mean t(alone) / t(two at once). 2.0 on an idle
    2-core machine; the bracketing keeps a burst of other load from skewing one side.

    With ``sched_autogroup_enabled`` (Linux default) the CPU is shared per session: while
    another session runs CPU-bound work, our session gets the same share with 1 or 2 processes,
    and the ceiling drops towards 1.0 - -j 2 cannot beat it, whatever the batch does."""
    def spin(k: int) -> float:
        t = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(k)]
        for pr in procs:
            pr.wait()
        return time.perf_counter() - t

    one_a, two, one_b = spin(1), spin(2), spin(1)
    return (one_a + one_b) / two


def subset_inbox(files: list[Path], n: int, where: Path) -> Path:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    for p in files[:n]:
        try:
            os.link(p, where / p.name)
        except OSError:
            shutil.copy2(p, where / p.name)
    return where


# ---- start-up --------------------------------------------------------------------------

def time_python(code: str, repeat: int) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def import_offenders(code: str, top: int = 8) -> list[tuple[str, float]]:
    """The heaviest top-level packages by cumulative import time (``python -X importtime``)."""
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    best: dict[str, float] = {}
    for line in res.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        try:
            _, cum, name = line[len("import time:"):].split("|")
            name = name.strip()
            us = int(cum)
        except ValueError:
            continue
        pkg = name.split(".")[0]
        if pkg == "selfeval_xl" and "." in name:
            pkg = name  # our own modules, one by one
        best[pkg] = max(best.get(pkg, 0.0), us / 1000)
    return sorted(best.items(), key=lambda kv: -kv[1])[:top]


def loaded_heavy(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(' '.join(m for m in ('pandas', 'numpy', 'docxtpl', 'docx', 'openpyxl', 'jinja2', 'lxml', 'PIL', 'msoffcrypto') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return res.stdout.split()


def measure_startup(repeat: int) -> dict:
    worker = [m for m in WORKER_MODULES if have(m)]
    if have("selfeval_xl.batch"):
        worker.append("selfeval_xl.batch")
    worker_code = "\n".join(f"import {m}" for m in worker)
    cli_code = "import selfeval_xl.cli"
    init_code = None
    if have("selfeval_xl.batch"):
        from selfeval_xl import batch

        if callable(getattr(batch, "_worker_init", None)):
            # what a batch worker does before its first file: imports, profile, report template
            init_code = ("from selfeval_xl.batch import worker_init\n"
                         "_worker_init({'profile': 'suzhou-2020', 'template': None, 'report': True, 'max_memory_mb': 0})")
    return {
        "init": time_python(init_code, repeat) if init_code else None,
        "init_loaded": loaded_heavy(init_code) if init_code else [],
        "python": time_python("pass", repeat),
        "cli": time_python(cli_code, repeat),
        "worker": time_python(worker_code, repeat),
        "worker_modules": worker,
        "cli_loaded": loaded_heavy(cli_code),
        "worker_loaded": loaded_heavy(worker_code),
        "offenders": import_offenders(worker_code),
    }


# ---- worker start method (issue 16) ---------------------------------------------------------

def worker_first_file(method: str, sample: Path, work: Path, repeat: int) -> dict:
    """A fresh one-worker pool of ``method`` per repeat, one sample file each: the worker's own
    CPU seconds from its start to ready for its first file (``process_time`` in the worker: a
    forked worker counts from its fork), and the wall time from pool start to the first result."""
    from selfeval_xl import batch

    cpu, wall = [], []
    config = {"profile": "auto", "template": None, "report": True, "max_memory_mb": 0, "timeout": 300}
    for i in range(repeat):
        stage = work / f"first-{method}-{i}"
        shutil.rmtree(stage, ignore_errors=True)
        task = {"source": str(sample), "rel": sample.name, "report": True, "findings": True, "staging": str(stage), "index": 0}
        got: list[dict] = []
        t = time.perf_counter()
        batch._Pool(1, config, 300, method=method).run([task], lambda _t, res: got.append(res))
        wall.append(time.perf_counter() - t)
        if got and got[0].get("worker"):
            cpu.append(got[0]["worker"]["startup_cpu_s"])
            assert got[0]["worker"]["start_method"] == method, got[0]["worker"]
        shutil.rmtree(stage, ignore_errors=True)
    return {"cpu": cpu, "wall": wall}


def preload_cpu(repeat: int) -> float:
    """CPU seconds a fresh interpreter spends importing batch.WORKER_PRELOAD (paid once per run by
    the fork server), over a bare interpreter."""
    import resource

    from selfeval_xl import batch

    def cpu_of(code: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in batch.WORKER_PRELOAD)
    return statistics.median(cpu_of(code) for _ in range(repeat)) - statistics.median(cpu_of("pass") for _ in range(repeat))


def measure_workers(files: list[Path], n: int, out: Path, repeat: int) -> dict:
    """Worker start cost and ``run -j 1`` / ``-j 2`` for spawn and forkserver, alternating, same run."""
    from selfeval_xl import batch

    methods = ["spawn"] + (["forkserver"] if "forkserver" in __import__("multiprocessing").get_all_start_methods() else [])
    work = out / "work-workers"
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"n": n, "methods": methods, "first": {}, "runs": {m: {"j1": [], "j2": []} for m in methods},
                 "preload_cpu": preload_cpu(3) if "forkserver" in methods else None}
    for m in methods:
        log(f"workers: first file, {m} × {repeat}")
        res["first"][m] = worker_first_file(m, files[0], work, repeat)
    inbox = subset_inbox(files, n, out / f"inbox_workers_{n}")
    for rep in range(repeat):
        for j in (1, 2):
            for m in methods:
                env = {**os.environ, batch.START_METHOD_ENV: m}
                r = run_batch(inbox, out / f"outbox_workers_{m}_j{j}", j, env=env)
                res["runs"][m][f"j{j}"].append(r)
                log(f"workers: {m} -j {j} repeat {rep + 1}: {r['wall']:.1f}s ok={r.get('ok')}/{r.get('files')} "
                    f"cores ours {r['cores_ours']:.2f} others {r['cores_others']:.2f}")
    return res


def workers_table(w: dict) -> str:
    rows = []
    n = w["n"]
    for m in w["methods"]:
        f = w["first"][m]
        rows.append((f"{m}: worker CPU s from start to its first file (imports, profile, template)", f"{med(f['cpu']):.3f}",
                     spread(f["cpu"], 1, "{:.3f}"), "", ""))
        rows.append((f"{m}: wall s from pool start to the first file's result", f"{med(f['wall']):.2f}", spread(f["wall"], 1, "{:.2f}"), "", ""))
    if w.get("preload_cpu") is not None:
        rows.append(("forkserver: CPU s of the preload, paid once per run by the fork server", f"{w['preload_cpu']:.3f}", "", "", ""))
    if len(w["methods"]) == 2:
        a, b = (med(w["first"][m]["cpu"]) for m in w["methods"])
        rows.append(("ratio: worker start CPU forkserver ÷ spawn", "", "", "spawn", f"{b / a:.2f}" if a else "n/a"))
    for m in w["methods"]:
        t1 = [r["wall"] for r in w["runs"][m]["j1"]]
        t2 = [r["wall"] for r in w["runs"][m]["j2"]]
        ok = all(batch_ok(r) for r in w["runs"][m]["j1"] + w["runs"][m]["j2"])
        rows.append((f"{m}: run -j 1, N={n} (workbooks/s)", f"{n / med(t1):.2f}", spread([n / t for t in t1], 1, "{:.2f}"), "wall s", f"{med(t1):.1f}"))
        rows.append((f"{m}: run -j 2, N={n} (workbooks/s)", f"{n / med(t2):.2f}", spread([n / t for t in t2], 1, "{:.2f}"), "wall s", f"{med(t2):.1f}"))
        sp = [x / y for x, y in zip(t1, t2)]
        rows.append((f"{m}: speed-up -j 2 ÷ -j 1" + ("" if ok else " (RUNS FAILED)"), "", spread(sp, 1, "{:.2f}"), "-j 1", f"{med(sp):.2f}"))
        for j in ("j1", "j2"):
            # forkserver: its workers are the fork server's children, never reaped by the CLI; the
            # wrapper counts them as a child subreaper (Linux); elsewhere "ours" is undercounted
            undercounted = m == "forkserver" and not all(r.get("subreaper") for r in w["runs"][m][j])
            rows.append((f"{m}: -{j[0]} {j[1]} CPU cores used by the run / by others meanwhile"
                         + (" (ours undercounted: workers not in rusage)" if undercounted else ""), "", "", "",
                         f"{med([r['cores_ours'] for r in w['runs'][m][j]]):.2f} / {med([r['cores_others'] for r in w['runs'][m][j]]):.2f}"))
    if len(w["methods"]) == 2:
        for j in ("j1", "j2"):
            s_, f_ = ([r["wall"] for r in w["runs"][m][j]] for m in w["methods"])
            rr = [a / b for a, b in zip(s_, f_)]
            rows.append((f"ratio: run -{j[0]} {j[1]} throughput forkserver ÷ spawn", "", spread(rr, 1, "{:.2f}"), "spawn", f"{med(rr):.2f}"))
    return "\n".join(["| measure | median | spread (min–max) | vs | ratio / value |", "|---|---:|---:|---|---:|",
                      *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows]])


# ---- the table -----------------------------------------------------------------------------

def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def spread(xs: list[float], scale: float = 1.0, fmt: str = "{:.0f}") -> str:
    if len(xs) < 2:
        return ""
    return f"{fmt.format(min(xs) * scale)}–{fmt.format(max(xs) * scale)}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def build_report(args, ip: dict | None, batch: dict | None, start: dict | None, meta: dict) -> tuple[str, list[str]]:
    rows: list[tuple[str, str, str, str, str]] = []  # measure, median, spread, vs, ratio
    targets: list[str] = []
    if ip:
        runs = ip["runs"]
        pipe = runs["pipeline"]
        for k in ip["stages"]:
            share = med(runs[k]) / med(pipe)
            rows.append((f"pipeline: {k} (ms/workbook)", f"{med(runs[k]) * 1000:.0f}", spread(runs[k], 1000), "share of pipeline", f"{share:.0%}"))
        rows.append(("pipeline: total (ms/workbook)", f"{med(pipe) * 1000:.0f}", spread(pipe, 1000), "", ""))
        for k in ip["floors"]:
            rows.append((f"floor: {k} (ms/workbook)", f"{med(runs[k]) * 1000:.0f}", spread(runs[k], 1000), "", ""))

        def ratio(a: str, b: list[str]) -> list[float]:
            return [x / sum(runs[k][i] for k in b) for i, x in enumerate(runs[a])]

        rows.append(("ratio: read ÷ calamine read", "", spread(ratio("read", ["calamine read"]), 1, "{:.2f}"),
                     "floor", f"{med(ratio('read', ['calamine read'])):.2f}"))
        if "write back" in runs:
            rr = ratio("write back", ["openpyxl load+save"])
            rows.append(("ratio: write back ÷ openpyxl load+save", "", spread(rr, 1, "{:.2f}"), "floor", f"{med(rr):.2f}"))
        if "report" in runs and "docxtpl render+save" in runs:
            rr = ratio("report", ["docxtpl render+save"])
            rows.append(("ratio: report ÷ docxtpl render+save", "", spread(rr, 1, "{:.2f}"), "floor", f"{med(rr):.2f}"))
        floor_keys = ["openpyxl load+save"] + (["docxtpl render+save"] if "docxtpl render+save" in runs else [])
        rr = ratio("pipeline", floor_keys)
        complete = "write back" in runs and "report" in runs and "docxtpl render+save" in runs
        rows.append(("ratio: pipeline ÷ (" + " + ".join(floor_keys) + ")", "", spread(rr, 1, "{:.2f}"), "floor", f"{med(rr):.2f}"))
        targets.append(f"1. pipeline ≤ {TARGET_PIPELINE_RATIO} × (openpyxl load+save + report render): "
                       f"{verdict(med(rr) <= TARGET_PIPELINE_RATIO if complete else None)} — ratio {med(rr):.2f}"
                       + ("" if complete else " (incomplete: write back / report not available yet)"))
        if DIY in runs:
            rd = ratio("pipeline", [DIY])
            rows.append((f"ratio: pipeline ÷ {DIY}", "", spread(rd, 1, "{:.2f}"), "floor", f"{med(rd):.2f}"))
            cpu = ratio(CPU_PIPE, [CPU_DIY]) if CPU_PIPE in runs and CPU_DIY in runs else None
            if cpu:
                rows.append((f"ratio (CPU time): pipeline ÷ DIY script", "", spread(cpu, 1, "{:.2f}"), "floor", f"{med(cpu):.2f}"))
            targets.append(f"5. pipeline ≤ {TARGET_DIY_RATIO} × the DIY script (issue 16): "
                           f"{verdict(med(rd) <= TARGET_DIY_RATIO if complete else None)} — ratio {med(rd):.2f} (wall)"
                           + (f", {med(cpu):.2f} (CPU time)" if cpu else ""))
        before = ip.get("before")
        if before:
            bruns = before["runs"]
            for k in before["stages"] + ["pipeline", CPU_PIPE]:
                if k in bruns and k in runs:
                    rows.append((f"before ({before['ref']}): {k} (ms/workbook)", f"{med(bruns[k]) * 1000:.0f}", spread(bruns[k], 1000),
                                 "now ÷ before", f"{med(runs[k]) / med(bruns[k]):.2f}"))
            for k in ("large pipeline", "large write back", "large report"):
                if k in bruns and k in runs:
                    rows.append((f"before ({before['ref']}): {k} (s)", f"{med(bruns[k]):.2f}", spread(bruns[k], 1, "{:.2f}"),
                                 "now ÷ before", f"{med(runs[k]) / med(bruns[k]):.2f}"))
            if DIY in bruns:
                rows.append((f"before ({before['ref']}): ratio pipeline ÷ DIY script", "", "", "floor",
                             f"{med(bruns['pipeline']) / med(bruns[DIY]):.2f}"))
            sp = med(bruns["pipeline"]) / med(pipe)
            spc = med(bruns[CPU_PIPE]) / med(runs[CPU_PIPE]) if CPU_PIPE in bruns and CPU_PIPE in runs else None
            targets.append(f"6. end-to-end at least 2.5 × faster than before ({before['ref']}, same run, in-process pipeline): "
                           f"{verdict(sp >= 2.5)} — {sp:.2f} × (wall)" + (f", {spc:.2f} × (CPU time)" if spc else ""))
        large = runs["large pipeline"]
        lr = [x / pipe[i] for i, x in enumerate(large)]
        rows.append(("large workbook: pipeline (s)", f"{med(large):.2f}", spread(large, 1, "{:.2f}"), "", ""))
        for k in ip["stages"]:
            rows.append((f"large workbook: {k} (s)", f"{med(runs['large ' + k]):.2f}", spread(runs["large " + k], 1, "{:.2f}"), "share", f"{med(runs['large ' + k]) / med(large):.0%}"))
        rows.append(("in-process: CPU cores used by us / by other processes meanwhile", "", "", "",
                     f"{ip['cores_ours']:.2f} / {ip['cores_others']:.2f}"))
        rows.append(("ratio: large ÷ sample pipeline", "", spread(lr, 1, "{:.1f}"), "sample", f"{med(lr):.1f}"))
        targets.append(f"4. large workbook < {TARGET_LARGE_RATIO:g} × sample: {verdict(med(lr) < TARGET_LARGE_RATIO)} — ratio {med(lr):.1f}")
    if batch and not all(batch_ok(r) for k in ("j1", "j2", "mem_small", "j1_noreport", "j2_noreport") for r in batch[k]):
        targets.append("2. -j 2 ≥ 1.7 × -j 1: n/a — batch runs failed (see notes)")
        targets.append("3. worker memory: n/a — batch runs failed (see notes)")
    elif batch:
        j1, j2 = batch["j1"], batch["j2"]
        label = "".join(" " + x for x in batch.get("extra") or [])
        n = batch["n"]
        t1, t2 = [r["wall"] for r in j1], [r["wall"] for r in j2]
        rows.append((f"run -j 1{label}, N={n} (workbooks/s)", f"{n / med(t1):.2f}", spread([n / t for t in t1], 1, "{:.2f}"), "wall s", f"{med(t1):.1f}"))
        rows.append((f"run -j 2{label}, N={n} (workbooks/s)", f"{n / med(t2):.2f}", spread([n / t for t in t2], 1, "{:.2f}"), "wall s", f"{med(t2):.1f}"))
        for key, runs_ in (("-j 1", j1), ("-j 2", j2)):
            fs = [r["file_seconds_median"] for r in runs_ if "file_seconds_median" in r]
            if fs:
                rows.append((f"run {key}: per-file time inside the worker (ms, run.json)", f"{med(fs) * 1000:.0f}",
                             spread(fs, 1000), "", ""))
        for key, runs_ in (("-j 1", j1), ("-j 2", j2)):
            serial = [r["wall"] - r["file_seconds_sum"] / r["jobs"] for r in runs_ if "file_seconds_sum" in r]
            if serial:
                rows.append((f"run {key}: outside the files (s) = wall − Σ per-file time ÷ jobs", f"{med(serial):.1f}", spread(serial, 1, "{:.1f}"),
                             "share of wall", f"{med(serial) / med([r['wall'] for r in runs_]):.0%}"))
        ph1 = [r["phases"] for r in j1 if r.get("phases")]
        ph2 = [r["phases"] for r in j2 if r.get("phases")]
        if ph1 and ph2:
            for label, _, _ in PHASES:
                rows.append((f"outside the files, -j 1 / -j 2: {label} (s)", "", "", "",
                             f"{med([p[label] for p in ph1]):.2f} / {med([p[label] for p in ph2]):.2f}"))
        for key, runs_ in (("-j 1", j1), ("-j 2", j2)):
            rows.append((f"run {key}: CPU cores used by the run / by other processes meanwhile", "", "", "",
                         f"{med([r['cores_ours'] for r in runs_]):.2f} / {med([r['cores_others'] for r in runs_]):.2f}"))
        cpu1 = [r["cores_ours"] * r["wall"] / n for r in j1]
        cpu2 = [r["cores_ours"] * r["wall"] / n for r in j2]
        rows.append(("run: CPU seconds per workbook, -j 1 / -j 2 (equal = no parallel overhead)", "", "", "",
                     f"{med(cpu1):.2f} / {med(cpu2):.2f}"))
        sp = [a / b for a, b in zip(t1, t2)]
        rows.append(("ratio: speed-up -j 2 ÷ -j 1", "", spread(sp, 1, "{:.2f}"), "-j 1", f"{med(sp):.2f}"))
        if batch.get("ceiling"):
            cl = batch["ceiling"]
            rows.append(("calibration: 2 CPU-bound processes ÷ 1, snapshots before and after the -j pair (machine ceiling)", "",
                         spread(cl, 1, "{:.2f}"), "ideal 2.00", f"{med(cl):.2f}"))
        ceiling = (f" (cores the runs got: -j 1 {med([r['cores_ours'] for r in j1]):.2f}, -j 2 {med([r['cores_ours'] for r in j2]):.2f}"
                   + (f"; machine-ceiling snapshots {', '.join(f'{c:.2f}' for c in batch['ceiling'])}" if batch.get("ceiling") else "") + ")")
        targets.append(f"2. -j 2 ≥ {TARGET_SPEEDUP} × -j 1: {verdict(med(sp) >= TARGET_SPEEDUP)} — ratio {med(sp):.2f}{ceiling}")
        for key, label in (("j1_noreport", "-j 1 --no-report"), ("j2_noreport", "-j 2 --no-report")):
            if batch.get(key):
                tt = [r["wall"] for r in batch[key]]
                rows.append((f"run {label}, N={n} (workbooks/s)", f"{n / med(tt):.2f}", spread([n / t for t in tt], 1, "{:.2f}"), "wall s", f"{med(tt):.1f}"))
        if batch.get("j1_noreport") and batch.get("j2_noreport"):
            sp2 = [a["wall"] / b["wall"] for a, b in zip(batch["j1_noreport"], batch["j2_noreport"])]
            rows.append(("ratio: speed-up -j 2 ÷ -j 1 (--no-report)", "", spread(sp2, 1, "{:.2f}"), "-j 1", f"{med(sp2):.2f}"))
        big = [r["worker_mb"] for r in j2]
        cp = [r["worker_mb_at_checkpoint"] for r in j2 if "worker_mb_at_checkpoint" in r]
        sep = [r["worker_mb"] for r in batch["mem_small"]]
        if cp:
            rows.append((f"peak RSS per worker after the first {MEMORY_SMALL_N} files of the N={n} run (MB)", f"{med(cp):.0f}", spread(cp), "", ""))
        if sep:
            rows.append((f"peak RSS per worker, separate N={MEMORY_SMALL_N} run (MB)", f"{med(sep):.0f}", spread(sep),
                         "main process MB", f"{med([r['main_mb'] for r in batch['mem_small']]):.0f}"))
        rows.append((f"peak RSS per worker, N={n} (MB)", f"{med(big):.0f}", spread(big), "main process MB", f"{med([r['main_mb'] for r in j2]):.0f}"))
        ws = med(sep) if sep else med(cp) if cp else 0.0
        wb = med(big)
        basis = f"separate N={MEMORY_SMALL_N} run" if sep else f"first {MEMORY_SMALL_N} files"
        rows.append((f"ratio: worker peak N={n} ÷ N={MEMORY_SMALL_N} ({basis})", "", "", f"N={MEMORY_SMALL_N}", f"{wb / ws:.2f}" if ws else "n/a"))
        flat = bool(ws) and wb <= ws * TARGET_FLAT + 10
        under = 0 < wb < TARGET_WORKER_MB and 0 < ws < TARGET_WORKER_MB
        targets.append(f"3. worker peak flat from N={MEMORY_SMALL_N} to N={n} and < {TARGET_WORKER_MB:.0f} MB: "
                       f"{verdict(flat and under if ws and wb else None)} — {ws:.0f} MB → {wb:.0f} MB, ratio {wb / ws if ws else float('nan'):.2f}")
    elif batch is None:
        targets.append("2. -j 2 ≥ 1.7 × -j 1: n/a — `selfeval-xl run` not available")
        targets.append("3. worker memory: n/a — `selfeval-xl run` not available")
    if start:
        rows.append(("start-up: python -c pass (ms)", f"{start['python'] * 1000:.0f}", "", "", ""))
        rows.append(("start-up: import selfeval_xl.cli (ms)", f"{start['cli'] * 1000:.0f}", "", "over bare python",
                     f"+{(start['cli'] - start['python']) * 1000:.0f} ms"))
        rows.append(("start-up: import worker modules (ms)", f"{start['worker'] * 1000:.0f}", "", "over bare python",
                     f"+{(start['worker'] - start['python']) * 1000:.0f} ms"))
        if start.get("init"):
            rows.append(("start-up: batch worker init (imports, profile, template) (ms)", f"{start['init'] * 1000:.0f}", "",
                         "over bare python", f"+{(start['init'] - start['python']) * 1000:.0f} ms"))
    lines = [
        "| measure | median | spread (min–max) | vs | ratio / value |",
        "|---|---:|---:|---|---:|",
        *[f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows],
    ]
    return "\n".join(lines), targets


def render_markdown(args, table: str, targets: list[str], meta: dict, ip, batch, start) -> str:
    out = [
        f"## Benchmark results — {meta['date']}",
        "",
        f"Machine: {meta['machine']}; nproc {meta['nproc']}; Python {meta['python']}; "
        f"load average {meta['load_before']} before, {meta['load_after']} after; sched_autogroup {meta['autogroup']}.",
        f"Command: `{meta['command']}` — N={args.n}, repeats={args.repeat} (batch repeats={args.batch_repeat}), "
        f"in-process sample files={ip['files'] if ip else 0}; total {meta['elapsed']:.0f} s.",
        "",
        "Medians over repeats; ratios are computed within each repeat, then the median is taken. "
        "Absolute times are context; the ratios are the result.",
        "",
        table,
        "",
        "Targets:",
        "",
        *[f"- {t}" for t in targets],
    ]
    if start:
        out += ["", f"Modules loaded by `import selfeval_xl.cli`: {', '.join(start['cli_loaded']) or 'none of the heavy ones'}; "
                f"by the worker modules ({', '.join(start['worker_modules'])}): {', '.join(start['worker_loaded']) or 'none'}; "
                f"by a batch worker's init: {', '.join(start.get('init_loaded') or []) or 'n/a'}.",
                "", "Heaviest imports of the worker modules (`python -X importtime`, cumulative ms): "
                + ", ".join(f"{n} {ms:.0f}" for n, ms in start["offenders"]) + "."]
    if batch:
        bad = [r for k in ("j1", "j2", "mem_small", "j1_noreport", "j2_noreport") for r in batch[k] if not batch_ok(r)]
        notes = [f"worker processes seen per -j 2 run: {sorted({r['workers'] for r in batch['j2']})}",
                 f"rusage max RSS (main or any reaped worker), -j 2 N={batch['n']}: {med([r['rusage_max_mb'] for r in batch['j2']]):.0f} MB"]
        if any("file_rss_max" in r for r in batch["j2"]):
            notes.append(f"batch's own per-file peak RSS (run.json), max: {max(r.get('file_rss_max', 0) for r in batch['j2'])}")
        if bad:
            notes.append(f"WARNING: {len(bad)} batch runs had failures (rc/ok): " + "; ".join(f"{r['cmd']} rc={r['rc']} ok={r.get('ok')}/{r.get('files')}" for r in bad[:3]))
        out += ["", "Batch notes: " + "; ".join(notes) + "."]
    return "\n".join(out) + "\n"


def measure_baseline(args, out: Path) -> dict | None:
    """The in-process measurements of git ``args.baseline``, on the same inputs, in a subprocess
    whose ``selfeval_xl`` is that tree (exported with ``git archive``)."""
    tree = out / f"baseline-{args.baseline.replace('/', '_')}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline], capture_output=True)
    if archive.returncode != 0:
        log(f"baseline {args.baseline}: git archive failed: {archive.stderr.decode(errors='replace')}")
        return None
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    result = out / "baseline.json"
    log(f"baseline {args.baseline}: in-process pipeline and floors: {args.files} files + large × {args.repeat}")
    env = {**os.environ, "PYTHONPATH": str(tree) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--out", str(out), "--n", str(args.n), "--repeat", str(args.repeat),
           "--files", str(args.files), "--inprocess-json", str(result)]
    done = subprocess.run(cmd, env=env, cwd=str(tree))
    if done.returncode != 0 or not result.exists():
        log(f"baseline {args.baseline}: measurement failed (rc {done.returncode})")
        return None
    data = json.loads(result.read_text(encoding="utf-8"))
    data["ref"] = args.baseline
    return data


# ---- main ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="N=40, 2 repeats, fewer files in-process (about 1.5 minutes)")
    ap.add_argument("--n", type=int, help="workbooks in the batch (default 200; quick 40)")
    ap.add_argument("--repeat", type=int, help="repeats of the in-process measurements (default 3; quick 2)")
    ap.add_argument("--batch-repeat", type=int, help="repeats of each batch run (default 1: one -j 1 pass over N=200 alone takes minutes)")
    ap.add_argument("--files", type=int, help="sample-shaped files measured in-process per repeat (default 8; quick 3)")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "selfeval-xl-bench",
                    help="working folder: generated inputs (reused between runs), outputs, profiles")
    ap.add_argument("--profile", action="store_true", help="write pyinstrument profiles of the pipeline to OUT")
    ap.add_argument("--skip-batch", action="store_true", help="in-process measurements only")
    ap.add_argument("--variants", action="store_true", help="also run the batch with --no-report (-j 1 and -j 2)")
    ap.add_argument("--no-results", action="store_true", help="do not write benchmarks/results.md")
    ap.add_argument("--baseline", metavar="REF", help="also measure the in-process pipeline of git REF (e.g. main) "
                    "on the same inputs in this run: its tree is exported and run in a subprocess")
    ap.add_argument("--inprocess-json", type=Path, help=argparse.SUPPRESS)  # the baseline subprocess writes here
    ap.add_argument("--workers", action="store_true", help="only the worker start-method comparison (issue 16): "
                    "start cost to the first file and run -j 1 / -j 2 under spawn and forkserver (N default 64)")
    args = ap.parse_args(argv)
    if args.workers:
        n = args.n or 64
        out = args.out.resolve()
        out.mkdir(parents=True, exist_ok=True)
        load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
        files, _large = generate(out, n)
        w = measure_workers(files, n, out, args.batch_repeat or 2)
        print(f"## Worker start method — {_dt.datetime.now():%Y-%m-%d %H:%M}\n\nnproc {os.cpu_count()}; load average "
              f"{load0} before, {' '.join(f'{x:.2f}' for x in os.getloadavg())} after; N={n}, repeats={args.batch_repeat or 2}.\n\n"
              + workers_table(w))
        (out / "workers.json").write_text(json.dumps(w, ensure_ascii=False, indent=1, default=str))
        return 0
    args.n = args.n or (40 if args.quick else 200)
    args.repeat = args.repeat or (2 if args.quick else 3)
    args.batch_repeat = args.batch_repeat or 1
    args.files = args.files or (3 if args.quick else 8)
    started = time.perf_counter()
    meta = {
        "date": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.system()} {platform.machine()} ({platform.processor() or platform.node()})"
                   + ("; bytecode cache off (PYTHONDONTWRITEBYTECODE: every process compiles selfeval_xl's modules)"
                      if sys.flags.dont_write_bytecode else ""),
        "nproc": os.cpu_count(), "python": platform.python_version(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "autogroup": Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
        if Path("/proc/sys/kernel/sched_autogroup_enabled").exists() else "n/a",
        "command": "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    files, large = generate(out, max(args.n, MEMORY_SMALL_N))
    work = out / "work"

    if args.profile:
        for p in profile_pipeline(files[:args.files], large, work, out):
            log(f"profile written: {p}")

    if args.inprocess_json:  # the baseline subprocess: in-process measurements only
        ip = measure_inprocess(files[:args.files], large, args.repeat, work)
        args.inprocess_json.write_text(json.dumps(ip, default=str), encoding="utf-8")
        return 0
    before = measure_baseline(args, out) if args.baseline else None
    log("start-up")
    start = measure_startup(3)
    log(f"in-process pipeline and floors: {args.files} files + large × {args.repeat}")
    ip = measure_inprocess(files[:args.files], large, args.repeat, work)
    if before:
        ip["before"] = before

    batch = None
    if not args.skip_batch and has_run_command():
        noreport = cli_has("--no-report")
        # Until report.py exists the batch cannot render reports: measure it without them.
        base = [] if have("selfeval_xl.report") else ["--no-report"]
        if base:
            log("selfeval_xl.report is missing: batch runs use --no-report")
        batch = {"n": args.n, "j1": [], "j2": [], "mem_small": [], "j1_noreport": [], "j2_noreport": [], "extra": base}
        inbox = files[0].parent
        small = subset_inbox(files, MEMORY_SMALL_N, out / f"inbox_{MEMORY_SMALL_N}")
        for rep in range(args.batch_repeat):
            # -j 1 and -j 2 alternate, so drifting background load hits both alike. The -j 2 run
            # also records each worker's peak after its first 20 finished files (checkpoint).
            plan = [("j1", 1, inbox, 0), ("j2", 2, inbox, MEMORY_SMALL_N)]
            if not args.quick:  # a separate batch of 20 files, as a cross-check of the checkpoint
                plan.append(("mem_small", 2, small, 0))
            if args.variants and noreport and not base:
                plan += [("j1_noreport", 1, inbox, 0), ("j2_noreport", 2, inbox, 0)]
            batch.setdefault("ceiling", []).append(machine_ceiling())  # before the pair ...
            for key, j, box, cp in plan:
                extra = ["--no-report"] if key.endswith("_noreport") else []
                r = run_batch(box, out / f"outbox_{key}", j, base + extra, checkpoint=cp)
                batch[key].append(r)
                log(f"batch {key} repeat {rep + 1}: {r['wall']:.1f}s rc={r['rc']} ok={r.get('ok')}/{r.get('files')} "
                    f"worker peak {r['worker_mb']:.0f} MB (after {MEMORY_SMALL_N} files: {r.get('worker_mb_at_checkpoint', 0):.0f} MB) "
                    f"main {r['main_mb']:.0f} MB, rusage max {r['rusage_max_mb']:.0f} MB")
                if not batch_ok(r):
                    log(f"batch run failed: {r['cmd']}\n{r['stderr']}")
                if key == "j2":
                    batch["ceiling"].append(machine_ceiling())  # ... and right after it
    elif not args.skip_batch:
        log("`selfeval-xl run` is not available yet: batch measurements skipped")

    meta["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["elapsed"] = time.perf_counter() - started
    table, targets = build_report(args, ip, batch, start, meta)
    md = render_markdown(args, table, targets, meta, ip, batch, start)
    print(md)
    (out / "results.json").write_text(json.dumps({"meta": meta, "inprocess": ip, "batch": batch, "startup": start}, ensure_ascii=False, indent=1, default=str))
    if not args.no_results:
        RESULTS.write_text("# selfeval-xl benchmark results\n\nWritten by `benchmarks/bench.py`; see benchmarks/README.md.\n\n" + md, encoding="utf-8")
        log(f"written {RESULTS}")
        try:
            text = README.read_text(encoding="utf-8")
            i, j = text.index(MARK_BEGIN) + len(MARK_BEGIN), text.index(MARK_END)
        except (OSError, ValueError):
            pass
        else:
            README.write_text(text[:i] + "\n" + md.replace("## Benchmark results", "### Measured", 1) + text[j:], encoding="utf-8")
            log(f"updated the results section of {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
