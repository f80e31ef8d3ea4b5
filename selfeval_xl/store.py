"""Where a batch keeps the full review of every project: ``OUTBOX/.selfeval/reviews/<input>.json``.

run.json holds what a summary needs (totals, counts, findings); the indicators with their
scores and bases are in the review JSON (``review.to_json``, the ``check --json`` contract),
one file per input, mirroring INBOX (``sub/a.xlsx`` → ``.selfeval/reviews/sub/a.xlsx.json``):
``{"input": "sub/a.xlsx", "projects": [to_json(review), ...]}`` in the order of the forms in
the file. The batch parent writes it from the worker's result when the file's outputs are
committed and removes it when the file fails, so it always describes the outputs beside it.
Beside it, ``.selfeval/facts/<input>.json`` holds the few keys the overview, the report and
``compare`` read (``facts``), so that they need not parse the full reviews of thousands of
projects. The folder is hidden (users browse OUTBOX for workbooks and reports); ``frames()``,
the overview and ``compare`` read it.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from .fsutil import atomic_write_text

STORE_DIR = ".selfeval"
REVIEWS_DIR = "reviews"
FACTS_DIR = "facts"  # the few keys of each review that 汇总.xlsx / the report / compare read
FACT_KEYS = ("sheet", "profile", "project", "totals", "budget", "funds", "execution", "grade")


def review_path(outbox: Path, rel: str, kind: str = REVIEWS_DIR) -> Path | None:
    """The review JSON (or, with ``kind=FACTS_DIR``, its facts) of input ``rel``; None when
    ``rel`` would leave the store."""
    parts = PurePosixPath(rel).parts
    if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(rel).is_absolute():
        return None
    return Path(outbox, STORE_DIR, kind, *parts[:-1], parts[-1] + ".json")


def facts(review: dict) -> dict:
    """The part of one review JSON a batch summary reads: ``FACT_KEYS`` and ``rows``, the
    indicator names by cell (so a finding can name its indicator). About 1/20 of the review."""
    out = {k: review[k] for k in FACT_KEYS if k in review}
    out["rows"] = [[i.get("cell"), i.get("name")] for i in review.get("indicators") or () if isinstance(i, dict)]
    return out


def write_reviews(outbox: Path, rel: str, projects: list[dict]) -> Path | None:
    path, small = review_path(outbox, rel), review_path(outbox, rel, FACTS_DIR)
    if path is None or small is None:
        return None
    try:
        atomic_write_text(path, _dump({"input": rel, "projects": projects}))
        atomic_write_text(small, _dump({"input": rel, "projects": [facts(p) for p in projects]}))
        return path
    except OSError:  # the outputs are in place; only the analyst tables lose this file's indicators
        return None


def _dump(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def drop_reviews(outbox: Path, rel: str) -> None:
    for kind in (REVIEWS_DIR, FACTS_DIR):
        path = review_path(outbox, rel, kind)
        if path is not None:
            path.unlink(missing_ok=True)


def _load(path: Path | None) -> list[dict] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    projects = data.get("projects") if isinstance(data, dict) else None
    return [p for p in projects if isinstance(p, dict)] if isinstance(projects, list) else None


def load_reviews(outbox: Path, rel: str) -> list[dict]:
    """The project reviews of input ``rel`` ([] when missing or unreadable: a run made before
    reviews were kept, or a file that failed)."""
    return _load(review_path(outbox, rel)) or []


def load_facts(outbox: Path, rel: str) -> list[dict]:
    """The facts of input ``rel``'s reviews (from the full reviews when the facts file is missing)."""
    found = _load(review_path(outbox, rel, FACTS_DIR))
    return found if found is not None else [facts(r) for r in load_reviews(outbox, rel)]
