"""Run the whole pipeline on seeded mutants of the sample and count what happens.

    python -m tests.fuzz.run_fuzz --count 1000 --seed 1        (from the repository root)
    python tests/fuzz/run_fuzz.py --count 1000 --seed 1
    python -m tests.fuzz.run_fuzz --seed 1 --only 537 --keep   (reproduce one mutant)

Each mutant is written to its own input folder and handed to a long-lived worker process
(``--worker`` mode of this file) that runs read → review → JSON/summary → write back → report,
each stage only if its module exists. The parent enforces the per-mutant time limit (a worker
over it is killed and replaced: *hang*), notices a worker that dies (abort, segfault: *crash*),
and checks afterwards that the input is byte-identical (*modified*) and that a failed mutant left
no file behind, in the output folder or beside the input (*stray*).

Outcomes: ``ok`` (a Review; findings counted), ``error:<CODE>`` (a ReadError), and the bugs:
``crash`` (any other exception, or the process died), ``hang``, ``stray``, ``modified``,
``unexpected`` (a mutant built to trigger one error code — a bomb, an XML entity — ended
otherwise), ``slow`` (a bomb-type mutant took over a second to be refused).
The exit status is 1 when any bug was seen.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from collections import Counter, defaultdict
from pathlib import Path, PurePath
from zlib import error as zlib_error

if __package__ in (None, ""):  # run as a script: make ``tests.fuzz`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.fuzz.mutants import make  # noqa: E402
else:
    from .mutants import make

HERE = Path(__file__).resolve()
BUGS = ("crash", "hang", "stray", "modified", "unexpected", "slow")
FAST_SECONDS = 1.0


# ---------------------------------------------------------------------------- worker side

def _limit_memory(mb: int) -> None:
    if not mb:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (mb * 2**20, resource.RLIM_INFINITY))
    except (ImportError, ValueError, OSError):
        pass


REVIEW_SHEET = "复核结果"  # the sheet write-back adds (writeback.REVIEW_SHEET)


def _formulas(path: Path, only: str | None = None) -> int:
    """Formula cells in an xlsx, in all worksheets or in the sheet named ``only`` (0 for non-xlsx)."""
    try:
        with zipfile.ZipFile(path) as zf:
            parts = [n for n in zf.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            if only is not None:
                wb = zf.read("xl/workbook.xml").decode("utf-8", "replace")
                rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
                rid = re.search(r'<sheet [^>]*name="%s"[^>]*r:id="([^"]+)"' % re.escape(only), wb)
                target = re.search(r'<Relationship [^>]*Id="%s"[^>]*/>' % re.escape(rid.group(1)), rels) if rid else None
                name = re.search(r'Target="/?(?:xl/)?([^"]+)"', target.group(0)).group(1) if target else ""
                parts = [p for p in parts if p.endswith(name)] if name else []
            return sum(len(re.findall(rb"<(?:\w+:)?f[ >/]", zf.read(n))) for n in parts)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, zlib_error):
        return 0


def pipeline(path: Path, out: Path) -> dict:
    """The batch's own per-file job (pipeline.review_into: read → review → write back → report),
    then the harness's checks on what it returned: strict JSON, the text summary, no formula
    added by the write-back. Never raises."""
    from selfeval_xl.errors import ReadError
    from selfeval_xl.pipeline import JobOptions, review_into
    from selfeval_xl.review import to_json

    times: dict[str, float] = {}
    outputs: list[str] = []  # finished outputs; a later stage failing may leave these, nothing else
    stage = "job"
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t, stage
        now = time.perf_counter()
        times[stage] = round(now - t, 4)
        t, stage = now, name

    try:
        job = review_into(path, out, JobOptions(report=True))
        outputs.extend(job.outputs)
        lap("json")
        reviews = [p.review for p in job.projects]
        for r in reviews:
            json.dumps(to_json(r), ensure_ascii=False, allow_nan=False)  # check --json must be strict JSON
        from selfeval_xl.printout import review_summary

        for r in reviews:
            review_summary(r)
        lap("formulas")
        # A string like "=5家" written as a formula breaks the output in Excel. Compared with the
        # source only on the openpyxl path: LibreOffice (.xls/.et/.ods are converted) writes
        # booleans and error constants as formulas (TRUE(), #NAME?) by itself.
        for name in job.outputs:
            if not name.endswith((".xlsx", ".xlsm")):
                continue
            added = _formulas(out / name, only=REVIEW_SHEET if path.suffix.lower() not in (".xlsx", ".xlsm") else None)
            added -= _formulas(path) if path.suffix.lower() in (".xlsx", ".xlsm") else 0
            if added > 0:
                raise AssertionError(f"write-back added {added} formula(s) that were not in the source")
        lap("done")
        return {"outcome": "ok", "findings": sum(len(r.findings) for r in reviews),
                "indicators": sum(len(r.evaluation.indicators) for r in reviews), "outputs": outputs, "times": times}
    except ReadError as err:
        times["read"] = round(time.perf_counter() - t, 4)  # a ReadError comes from reading: the job's time is read time
        lap("done")
        return {"outcome": "error", "code": err.code, "stage": "read", "message": err.message[:300], "times": times,
                "outputs": outputs}
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - anything else is a bug, PanicException included
        failed = stage
        lap("done")
        return {"outcome": "crash", "stage": failed, "type": f"{type(exc).__module__}.{type(exc).__name__}",
                "message": str(exc)[:300], "traceback": traceback.format_exc()[-3000:], "times": times, "outputs": outputs}


def worker_main(memory_mb: int) -> None:
    """Read one JSON task per line on stdin, answer one JSON line on the original stdout."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to the log, not into the protocol
    sys.stdout = sys.stderr
    try:
        os.setpgid(0, 0)  # own process group: a kill reaches LibreOffice children too
    except OSError:
        pass
    _limit_memory(memory_mb)
    import selfeval_xl.reader  # noqa: F401 - warm up before the first timed mutant
    import selfeval_xl.review  # noqa: F401
    import selfeval_xl.report  # noqa: F401
    import selfeval_xl.writeback  # noqa: F401
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        task = json.loads(line)
        res = pipeline(Path(task["path"]), Path(task["out"]))
        out.write(json.dumps(res, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------- parent side

class Worker:
    def __init__(self, memory_mb: int, log: Path):
        self.log = log
        self.logfh = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE), "--worker", "--memory-mb", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.logfh, text=True, encoding="utf-8",
            cwd=str(HERE.parents[2]), start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.lines.get(timeout=120)
        if first is None or not json.loads(first).get("ready"):
            raise RuntimeError(f"fuzz worker did not start, see {log}")

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, task: dict, timeout: float) -> dict:
        self.proc.stdin.write(json.dumps(task, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            return {"outcome": "hang", "message": f"over {timeout:g} s"}
        if line is None:
            rc = self.proc.wait()
            sig = -rc if rc < 0 else None
            return {"outcome": "crash", "stage": "process", "type": f"died ({signal.Signals(sig).name if sig else f'exit {rc}'})",
                    "message": self._log_tail()}
        return json.loads(line)

    def _log_tail(self) -> str:
        try:
            self.logfh.flush()
            return self.log.read_bytes()[-1500:].decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.logfh.close()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def run_one(worker: Worker, m, work: Path, timeout: float) -> dict:
    src_dir, out_dir = work / "in" / f"{m.index:05d}", work / "out" / f"{m.index:05d}"
    src_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    src = src_dir / m.name
    src.write_bytes(m.data)
    before = _sha(src)
    t0 = time.perf_counter()
    res = worker.run({"path": str(src), "out": str(out_dir)}, timeout)
    res["seconds"] = round(time.perf_counter() - t0, 3)
    res.update(index=m.index, family=m.family, name=m.name, ops=m.ops, expect=m.expect, size=len(m.data))
    bugs = []
    if res["outcome"] in ("crash", "hang"):
        bugs.append(res["outcome"])
    if not src.exists() or _sha(src) != before:
        bugs.append("modified")
    beside = [f for f in _files(src_dir) if f != m.name]
    extra = sorted(set(_files(out_dir)) - set(res.get("outputs", [])))  # temp files, half-written outputs
    missing = [f for f in res.get("outputs", []) if not (out_dir / f).is_file()]
    if extra or beside or missing:
        bugs.append("stray")
        res["stray_files"] = extra + [f"(beside input) {f}" for f in beside] + [f"(listed, missing) {f}" for f in missing]
    if m.expect and res["outcome"] in ("ok", "error") and res.get("code") != m.expect:
        bugs.append("unexpected")
    read_s = res.get("times", {}).get("read")
    if m.fast and res["outcome"] == "error" and read_s is not None and read_s > FAST_SECONDS:
        bugs.append("slow")
    res["bugs"] = bugs
    return res


def label(res: dict) -> str:
    return f"error:{res['code']}" if res["outcome"] == "error" else res["outcome"]


def fuzz(count: int, seed: int, *, start: int = 0, only: list[int] | None = None, jobs: int = 2, timeout: float = 30.0,
         memory_mb: int = 4096, workdir: Path | None = None, keep: bool = False, progress=None) -> dict:
    """Run the mutants and return the summary (also used by tests/test_fuzz.py)."""
    indices = list(only) if only else list(range(start, start + count))
    own = workdir is None
    work = Path(tempfile.mkdtemp(prefix="selfeval-fuzz-")) if own else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    todo: queue.Queue = queue.Queue()
    for i in indices:
        todo.put(i)
    results: list[dict] = []
    lock = threading.Lock()
    t_start = time.perf_counter()

    def thread_main(n: int) -> None:
        worker = Worker(memory_mb, work / f"worker{n}.log")
        try:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    m = make(seed, i)
                except Exception as exc:  # a harness bug, not a product bug: say so loudly
                    res = {"index": i, "outcome": "harness", "message": repr(exc), "bugs": ["crash"], "family": "?", "ops": []}
                else:
                    res = run_one(worker, m, work, timeout)
                    if not worker.alive() or res["outcome"] in ("hang", "crash") and res.get("stage") == "process":
                        worker.close()
                        worker = Worker(memory_mb, work / f"worker{n}.log")
                    if not res["bugs"] and not keep:
                        shutil.rmtree(work / "in" / f"{i:05d}", ignore_errors=True)
                        shutil.rmtree(work / "out" / f"{i:05d}", ignore_errors=True)
                with lock:
                    results.append(res)
                    if progress:
                        progress(res, len(results), len(indices))
        finally:
            worker.close()

    threads = [threading.Thread(target=thread_main, args=(n,)) for n in range(max(1, min(jobs, len(indices))))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    results.sort(key=lambda r: r["index"])
    summary = summarize(results, seed, time.perf_counter() - t_start)
    summary["workdir"] = str(work)
    if own and not keep and not summary["bugs"]:
        shutil.rmtree(work, ignore_errors=True)
    return summary


def summarize(results: list[dict], seed: int, seconds: float) -> dict:
    outcomes = Counter(label(r) for r in results)
    bugs = Counter(b for r in results for b in r["bugs"])
    by_family: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_family[r["family"]][label(r)] += 1
    slowest = sorted(results, key=lambda r: -r.get("seconds", 0))[:5]
    return {
        "seed": seed, "mutants": len(results), "seconds": round(seconds, 1),
        "outcomes": dict(sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "bugs": {b: bugs.get(b, 0) for b in BUGS if bugs.get(b)},
        "bug_counts": {b: bugs.get(b, 0) for b in BUGS},
        "by_family": {f: dict(c) for f, c in sorted(by_family.items())},
        "ok_findings": sum(r.get("findings", 0) for r in results if r["outcome"] == "ok"),
        "slowest": [{"index": r["index"], "seconds": r.get("seconds"), "ops": r.get("ops")} for r in slowest],
        "failures": [r for r in results if r["bugs"]],
    }


def print_summary(s: dict, out=sys.stdout) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"\n{s['mutants']} mutants, seed {s['seed']}, {s['seconds']} s")
    p("outcomes:")
    for k, v in s["outcomes"].items():
        p(f"  {k:<32} {v}")
    p("bugs: " + ", ".join(f"{b}={n}" for b, n in s["bug_counts"].items()))
    p("by family: " + "; ".join(f"{f}: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items())) for f, c in s["by_family"].items()))
    p("slowest: " + ", ".join(f"#{r['index']} {r['seconds']}s" for r in s["slowest"]))
    for r in s["failures"][:50]:
        p(f"\n!! #{r['index']} {r['bugs']} {r.get('name', '')} — {'; '.join(r.get('ops', []))}")
        p(f"   outcome={label(r)} stage={r.get('stage')} type={r.get('type', '')} expect={r.get('expect') or '-'}"
          f" seconds={r.get('seconds')} times={r.get('times')}")
        if r.get("message"):
            p("   " + r["message"].strip().replace("\n", "\n   ")[:800])
        if r.get("traceback"):
            p("   " + r["traceback"].strip().replace("\n", "\n   ")[-1500:])
        if r.get("stray_files"):
            p(f"   stray: {r['stray_files']}")
        p(f"   reproduce: python -m tests.fuzz.run_fuzz --seed {s['seed']} --only {r['index']} --keep")


def _strict_json(text: str):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def batch_check(seed: int, indices: list[int], work: Path, *, timeout: float = 30.0, jobs: int = 2,
                report: bool = True) -> dict:
    """The same mutants through ``selfeval-xl run`` (the batch command, one folder).

    Bugs: a file entry that is INTERNAL/CRASHED/TIMEOUT, outputs for a failed file, a listed output
    that is missing, an input changed, staging/temporary files left, a formula in 汇总.xlsx, a
    run.json that is not strict JSON, or the command itself failing with anything but 0/1.
    """
    inbox, outbox = work / "inbox", work / "outbox"
    shutil.rmtree(inbox, ignore_errors=True)
    shutil.rmtree(outbox, ignore_errors=True)
    inbox.mkdir(parents=True)
    names, shas = {}, {}
    for i in indices:
        m = make(seed, i)
        name = m.name.rsplit(".", 1)[0] + "." + m.name.rsplit(".", 1)[1].lower()  # batch picks files by suffix
        (inbox / name).write_bytes(m.data)
        names[name], shas[name] = m, hashlib.sha256(m.data).hexdigest()
    cmd = [sys.executable, "-m", "selfeval_xl", "run", str(inbox), "-o", str(outbox), "-j", str(jobs), "-q",
           "--timeout", str(timeout)] + ([] if report else ["--no-report"])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(HERE.parents[2]),
                          timeout=timeout * len(indices) + 120)
    bugs: list[str] = []
    if proc.returncode not in (0, 1):
        bugs.append(f"exit code {proc.returncode}: {proc.stderr[-500:]}")
    try:
        run = _strict_json((outbox / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"bugs": bugs + [f"run.json: {exc}"], "seconds": round(time.perf_counter() - t0, 1)}
    entries = {PurePath(e["input"]).name: e for e in run["files"]}
    outcomes = Counter()
    for name, m in names.items():
        e = entries.get(name)
        if e is None:
            outcomes["skipped"] += 1
            continue
        if e["status"] == "ok":
            outcomes["ok"] += 1
            for o in e.get("outputs", []):
                if not (outbox / o).is_file():
                    bugs.append(f"#{m.index} {name}: listed output {o} missing")
        else:
            code = (e.get("error") or {}).get("code")
            outcomes[f"error:{code}"] += 1
            if code in ("INTERNAL", "CRASHED", "TIMEOUT", None):
                bugs.append(f"#{m.index} {name} ({'; '.join(m.ops)}): {code} {(e.get('error') or {}).get('message', '')[:300]}")
            stem = name.rsplit(".", 1)[0]
            left = [p.name for p in outbox.rglob(f"{stem}*")]
            if e.get("outputs") or left:
                bugs.append(f"#{m.index} {name}: failed ({code}) but outputs {e.get('outputs') or left}")
        if hashlib.sha256((inbox / name).read_bytes()).hexdigest() != shas[name]:
            bugs.append(f"#{m.index} {name}: input modified")
    stray = [str(p.relative_to(work)) for p in work.rglob("*") if p.name.startswith((".~tmp-", ".selfeval-staging"))]
    stray += [str(p.relative_to(inbox)) for p in inbox.iterdir() if p.name not in names]
    if stray:
        bugs.append(f"stray files: {stray[:10]}")
    summary = outbox / "汇总.xlsx"
    if not summary.is_file():
        bugs.append("汇总.xlsx missing")
    else:
        with zipfile.ZipFile(summary) as zf:
            for part in zf.namelist():
                if part.startswith("xl/worksheets/") and re.search(rb"<f[ >]", zf.read(part)):
                    bugs.append(f"汇总.xlsx {part} contains a formula")
    return {"mutants": len(indices), "outcomes": dict(outcomes), "bugs": bugs, "exit_code": proc.returncode,
            "seconds": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fuzz the selfeval-xl pipeline with seeded mutants of the sample")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first mutant index")
    ap.add_argument("--only", type=lambda s: [int(x) for x in s.split(",")], help="comma-separated mutant indices")
    ap.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=30.0, help="per-mutant limit in seconds (a hang beyond it)")
    ap.add_argument("--memory-mb", type=int, default=4096, help="address-space cap of each worker (0 = none)")
    ap.add_argument("--workdir", type=Path, help="keep mutants and outputs here (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep every mutant and output, not only the failing ones")
    ap.add_argument("--json", type=Path, help="write the summary (with failures) as JSON")
    ap.add_argument("--quiet", "-q", action="store_true")
    ap.add_argument("--batch", type=int, metavar="N", default=0,
                    help="also run the first N mutants through `selfeval-xl run` (one folder) and check its outputs")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main(args.memory_mb)
        return 0

    def progress(res, done, total):
        if args.quiet:
            return
        mark = "!" if res["bugs"] else "."
        print(mark, end="" if done % 100 else f" {done}/{total}\n", flush=True)

    s = fuzz(args.count, args.seed, start=args.start, only=args.only, jobs=args.jobs, timeout=args.timeout,
             memory_mb=args.memory_mb, workdir=args.workdir, keep=args.keep, progress=progress)
    print_summary(s)
    if s["bugs"]:
        print(f"\nmutants and outputs of the failures kept in {s['workdir']}")
    failed = bool(s["bugs"])
    if args.batch:
        work = Path(tempfile.mkdtemp(prefix="selfeval-fuzz-batch-"))
        indices = (args.only or list(range(args.start, args.start + args.count)))[: args.batch]
        b = batch_check(args.seed, indices, work, timeout=args.timeout, jobs=args.jobs)
        s["batch"] = b
        print(f"\nbatch (selfeval-xl run) over {len(indices)} mutants: {b.get('outcomes')} exit={b.get('exit_code')} "
              f"{b['seconds']} s, bugs={len(b['bugs'])}")
        for line in b["bugs"][:30]:
            print("  !! " + line)
        if b["bugs"]:
            failed = True
            print(f"  kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(s, ensure_ascii=False, indent=1), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
