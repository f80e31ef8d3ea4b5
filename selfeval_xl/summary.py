"""Where the batch outputs are and the dict-level doors to run.json (its encoding is owned by
``manifest``). 汇总.xlsx itself is written by ``overview`` (pandas, in the batch parent only).
"""
from __future__ import annotations

from pathlib import Path

SUMMARY_NAME = "汇总.xlsx"
RUN_JSON_NAME = "run.json"


# ---- run.json -------------------------------------------------------------------------

def write_run_json(target: Path, data: dict) -> Path:
    """Write run.json from its JSON form (through manifest.RunManifest: one encoding)."""
    from .manifest import RunManifest

    return RunManifest.from_json(data).write(Path(target))


def load_run_json(path: Path) -> dict | None:
    """The previous run.json as JSON (manifest.load, normalised), or None when missing or
    unreadable (never an error)."""
    from .manifest import load

    m = load(path)
    return None if m is None else m.to_json()
