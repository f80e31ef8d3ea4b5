"""Benchmark of the batch overview: 汇总.xlsx, 复核汇总报告.docx, frames() and compare for a
large synthetic batch (default 2,000 projects), time and peak memory.

    python benchmarks/bench_overview.py [--n 2000] [--small 200] [--out DIR]

Inputs are synthetic run outputs (no workbook is reviewed): the sample's real review
(``review.to_json``: 92 indicators, 26 findings) copied N times with other project names,
40 departments, scores and money shifted, written as run.json + kept review JSON exactly as a
``run`` writes them, and a second "previous year" outbox for compare. Every measurement runs
in a fresh process (``--measure``) so that its peak RSS (``ru_maxrss``) is its own; each is
done for N and for ``--small`` projects to show whether memory grows with the batch. Times
include the imports (pandas, openpyxl, docxtpl) as a run pays them; CPU seconds are reported
beside wall time because on a shared machine wall time mostly measures the other load.
"""
from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "samples" / "苏州市打造先进制造业基地专项资金_2020.xlsx"
MEASURES = ("summary", "report", "frames", "compare")


def make_outbox(root: Path, n: int, year: int, seed_review: dict) -> Path:
    from selfeval_xl.store import write_reviews

    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n):
        dept = f"苏州市第{i % 40 + 1}局"
        name = f"专项资金项目{i:05d}" + ("（调整）" if year == 2021 and i % 17 == 0 else "")
        r = copy.deepcopy(seed_review)
        shift = (i % 13) * 0.37
        r["project"] = {"name": name, "department": dept, "year": year}
        r["totals"] = {"stated": round(77.38 - shift, 2), "self": round(77.38 - shift, 2), "computed": round(77.51 - shift * 1.5, 2)}
        r["funds"] = {**r["funds"], "allocated": 1000 + i, "paid": 900 + i}
        findings = r["findings"][: 6 + i % 20]
        r["findings"] = findings
        rel = f"{dept}/{name}.xlsx"
        outputs = [f"{dept}/{name}.复核.xlsx", f"{dept}/{name}.自评价报告.docx"]
        entries.append({"input": rel, "status": "ok", "error": None, "outputs": outputs, "sha256": None,
                        "totals": r["totals"], "project": r["project"], "profile": r["profile"], "sheet": r["sheet"],
                        "findings": {k: sum(1 for f in findings if f["severity"] == k) for k in ("error", "warning", "info")},
                        "finding_items": [{k: f[k] for k in ("cell", "code", "severity", "message")} for f in findings]})
        write_reviews(root, rel, [r])
    for k in range(n // 100):
        entries.append({"input": f"坏{k}.xlsx", "status": "failed", "error": {"code": "CORRUPT", "message": "[CORRUPT] 坏"},
                        "outputs": [], "totals": None, "findings": None, "sha256": None})
    (root / "run.json").write_text(json.dumps({"files": entries}, ensure_ascii=False), encoding="utf-8")
    return root


def measure(what: str, outbox: Path, previous: Path) -> dict:
    t = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    if what == "summary":
        from selfeval_xl.overview import write_summary
        from selfeval_xl.tables import load_run

        write_summary(outbox / "汇总.xlsx", load_run(outbox)["files"])
    elif what == "report":
        from selfeval_xl.overview_report import write_overview_report

        write_overview_report(outbox)
    elif what == "frames":
        import selfeval_xl

        f = selfeval_xl.frames(outbox)
        assert len(f.indicators) == 92 * len(f.projects)
    elif what == "compare":
        from selfeval_xl.compare import compare, write_comparison

        write_comparison(compare(previous, outbox), outbox / "对比.xlsx")
    seconds = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)  # robust when the machine is shared
    peak = r1.ru_maxrss / 1024  # KiB on Linux
    return {"measure": what, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "selfeval-xl-bench-overview")
    ap.add_argument("--measure", nargs=3, metavar=("WHAT", "OUTBOX", "PREVIOUS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure[0], Path(args.measure[1]), Path(args.measure[2]))))
        return 0
    from selfeval_xl.review import review_file, to_json

    seed_review = to_json(review_file(SAMPLE))
    results = []
    for n in (args.small, args.n):
        cur, prev = args.out / f"n{n}" / "2021", args.out / f"n{n}" / "2020"
        if not (cur / "run.json").is_file():
            make_outbox(prev, n, 2020, seed_review)
            make_outbox(cur, n, 2021, seed_review)
        for what in MEASURES:
            out = subprocess.run([sys.executable, __file__, "--measure", what, str(cur), str(prev)],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            r["projects"] = n
            results.append(r)
            print(f"N={n:>5}  {what:<8} {r['seconds']:>7.2f} s wall  {r['cpu_seconds']:>7.2f} s CPU  "
                  f"peak RSS {r['peak_rss_mb']:>7.1f} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
