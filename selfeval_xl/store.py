"""Where a batch keeps the full review of every project: ``OUTBOX/.selfeval/reviews/<input>.json``.

run.json holds what a summary needs (totals, counts, findings); the indicators with their
scores and bases are in the review JSON (``review.to_json``, the ``check --json`` contract),
one file per input, mirroring INBOX (``sub/a.xlsx`` → ``.selfeval/reviews/sub/a.xlsx.json``):
``{"input": "sub/a.xlsx", "projects": [to_json(review), ...]}`` in the order of the forms in
the file. The batch parent writes it from the worker's result when the file's outputs are
committed and removes it when the file fails, so it always describes the outputs beside it.
The folder is hidden (users browse OUTBOX for workbooks and reports); ``frames()``, the
overview and ``compare`` read it.
"""
from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from .fsutil import atomic_write_text

STORE_DIR = ".selfeval"
REVIEWS_DIR = "reviews"


def review_path(outbox: Path, rel: str) -> Path | None:
    """The review JSON of input ``rel``, or None when ``rel`` would leave the store."""
    parts = PurePosixPath(rel).parts
    if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(rel).is_absolute():
        return None
    return Path(outbox, STORE_DIR, REVIEWS_DIR, *parts[:-1], parts[-1] + ".json")


def write_reviews(outbox: Path, rel: str, projects: list[dict]) -> Path | None:
    path = review_path(outbox, rel)
    if path is None:
        return None
    text = json.dumps({"input": rel, "projects": projects}, ensure_ascii=False, separators=(",", ":"))
    try:
        return atomic_write_text(path, text + "\n")
    except OSError:  # the outputs are in place; only the analyst tables lose this file's indicators
        return None


def drop_reviews(outbox: Path, rel: str) -> None:
    path = review_path(outbox, rel)
    if path is not None:
        path.unlink(missing_ok=True)


def load_reviews(outbox: Path, rel: str) -> list[dict]:
    """The project reviews of input ``rel`` ([] when missing or unreadable: a run made before
    reviews were kept, or a file that failed)."""
    path = review_path(outbox, rel)
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    projects = data.get("projects") if isinstance(data, dict) else None
    return [p for p in projects if isinstance(p, dict)] if isinstance(projects, list) else []
