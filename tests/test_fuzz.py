"""A fixed, seeded slice of the fuzz run (issue 8), small enough for the normal suite.

The full run is ``python -m tests.fuzz.run_fuzz --count 1000 --seed 1`` (see the README). Here:
60 mutants (every family: cell values, structure, damaged zips, bombs, XML entities, .xls/.ods)
through read → review → JSON → write back → report in worker processes with a time limit, and
20 of them through ``selfeval-xl run``. Any crash, hang, stray output or modified input fails,
with the command that reproduces the mutant.
"""
from __future__ import annotations

import os

import pytest

from fuzz import run_fuzz
from fuzz.mutants import make

# Every test here starts worker processes (fuzz slice, batch pool): the full suite runs them, the fast loop does not.
pytestmark = pytest.mark.slow

SEED = 1
COUNT = 60


def _explain(summary: dict) -> str:
    lines = []
    for r in summary["failures"]:
        lines.append(f"#{r['index']} {r['bugs']} {run_fuzz.label(r)} stage={r.get('stage')} {r.get('type', '')}: "
                     f"{'; '.join(r.get('ops', []))}\n  {(r.get('message') or '').strip()[:300]}\n"
                     f"  reproduce: python -m tests.fuzz.run_fuzz --seed {SEED} --only {r['index']} --keep")
    return "\n".join(lines)


def test_mutants_are_reproducible():
    a, b = make(SEED, 7), make(SEED, 7)
    assert (a.name, a.ops, a.data) == (b.name, b.ops, b.data)
    assert make(SEED, 8).data != a.data


def test_fuzz_slice_has_no_crash_hang_stray_or_modified_input(tmp_path):
    summary = run_fuzz.fuzz(COUNT, SEED, jobs=min(4, os.cpu_count() or 2), timeout=60, workdir=tmp_path)
    assert summary["mutants"] == COUNT
    assert not summary["bugs"], _explain(summary)
    families = set(summary["by_family"])
    assert families == {"cell", "structure", "file", "format"}
    outcomes = summary["outcomes"]
    assert outcomes.get("ok", 0) >= 10  # mutated but readable workbooks went all the way through
    assert {"error:CORRUPT", "error:TOO_LARGE", "error:UNSAFE_CONTENT"} <= set(outcomes)


def test_fuzz_slice_through_the_batch_command(tmp_path):
    result = run_fuzz.batch_check(SEED, list(range(20)), tmp_path, timeout=60, jobs=2)
    assert not result["bugs"], "\n".join(result["bugs"])
    assert result["outcomes"].get("ok", 0) >= 5


def test_regressions_found_by_the_1000_mutant_run(tmp_path):
    """Mutants that once crashed (overlapping merges made write-back comment a MergedCell)."""
    summary = run_fuzz.fuzz(0, SEED, only=[216, 291], jobs=2, timeout=60, workdir=tmp_path)
    assert summary["mutants"] == 2
    assert not summary["bugs"], _explain(summary)


def test_word_mutants_have_no_crash_hang_stray_or_modified_input(tmp_path):
    """Format-family mutants of the Word base (bases/sample.docx): spans, merges, rows, nesting,
    DTDs, damaged zips, through read → review → commented .docx, rebuilt .xlsx and report."""
    indices = [18, 88, 98, 138, 168, 178, 268, 338]
    assert all(make(SEED, i).name.endswith(".docx") for i in indices)
    summary = run_fuzz.fuzz(0, SEED, only=indices, jobs=2, timeout=90, workdir=tmp_path)
    assert summary["mutants"] == len(indices)
    assert not summary["bugs"], _explain(summary)
    assert summary["outcomes"].get("ok", 0) >= 3
