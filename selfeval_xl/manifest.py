"""run.json, typed: the one owner of its encoding. Batch writes it; 汇总.xlsx, --skip-unchanged
and mail read it.

Contract: keys are only ever added (tests/test_manifest.py holds the keys of every release).
Readers of older files get defaults; keys this version does not know are kept (``extra``) and
written back, so a newer tool's run.json survives an older reader.

One entry per input file (``FileEntry``). Its ``projects`` list has one item per form found in the
file (a workbook may hold several projects, each with its sheet and outputs); the top-level
``totals`` / ``findings`` / ``project`` / ``finding_items`` / ``profile`` repeat the first project so
that readers written for one project per file keep working.

``output_sha256`` (output path → sha256 when it was committed) is what ``--skip-unchanged`` and
mail trust: an output whose bytes differ (rewritten by a killed run under other options, or
edited by hand) is not this entry's output.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from .fsutil import atomic_write_text

RUN_JSON_NAME = "run.json"
TOOL = "selfeval-xl"

# Every top-level key of a file entry as written by this version, in order.
_FIRST_PROJECT_KEYS = ("totals", "findings", "project", "finding_items", "profile")


@dataclass
class ProjectEntry:
    """One form (project) of a file."""

    sheet: str = ""
    profile: str | None = None
    totals: dict | None = None
    findings: dict | None = None
    project: dict | None = None
    finding_items: list | None = None
    outputs: list[str] = field(default_factory=list)  # paths relative to OUTBOX
    duplicate_of: str | None = None  # DUPLICATE_PROJECT: the input this project repeats
    extra: dict = field(default_factory=dict)  # keys added by the per-file job (e.g. "grade")

    def to_json(self) -> dict:
        d = {"sheet": self.sheet, "profile": self.profile, "totals": self.totals, "findings": self.findings,
             "project": self.project, "finding_items": self.finding_items, "outputs": list(self.outputs)}
        if self.duplicate_of:
            d["duplicate_of"] = self.duplicate_of
        return {**self.extra, **d}

    @classmethod
    def from_json(cls, d: dict) -> "ProjectEntry":
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: d[k] for k in known if k in d}, extra={k: v for k, v in d.items() if k not in known})


@dataclass
class FileEntry:
    input: str  # path relative to INBOX, POSIX separators
    status: str  # ok | failed | skipped
    error: dict | None = None  # {"code", "message"}
    outputs: list[str] = field(default_factory=list)
    sha256: str | None = None  # of the input, when it was reviewed
    projects: list[ProjectEntry] = field(default_factory=list)
    output_sha256: dict[str, str] = field(default_factory=dict)
    reason: str | None = None  # why skipped
    seconds: float | None = None
    unchanged: bool = False  # --skip-unchanged reused the previous result
    duplicate_of: str | None = None
    size: int | None = None  # bytes of the input when it was reviewed
    extra: dict = field(default_factory=dict)

    @property
    def first(self) -> ProjectEntry:
        return self.projects[0] if self.projects else ProjectEntry()

    def to_json(self) -> dict:
        first = self.first
        d = {"input": self.input, "status": self.status, "error": self.error, "outputs": list(self.outputs),
             "totals": first.totals, "findings": first.findings, "sha256": self.sha256,
             "project": first.project, "finding_items": first.finding_items}
        if self.projects:
            d["profile"] = first.profile
            d["projects"] = [p.to_json() for p in self.projects]
        if self.output_sha256:
            d["output_sha256"] = dict(self.output_sha256)
        if self.size is not None:
            d["size"] = self.size
        if self.reason:
            d["reason"] = self.reason
        if self.seconds is not None:
            d["seconds"] = self.seconds
        if self.unchanged:
            d["unchanged"] = True
        if self.duplicate_of:
            d["duplicate_of"] = self.duplicate_of
        return {**self.extra, **d}

    @classmethod
    def from_json(cls, d: dict) -> "FileEntry":
        projects = [ProjectEntry.from_json(p) for p in d.get("projects") or () if isinstance(p, dict)]
        if not projects and d.get("status") == "ok" and (d.get("totals") or d.get("project")):
            # written before projects[] existed: the top-level keys are the one project
            projects = [ProjectEntry(sheet="", profile=d.get("profile"), totals=d.get("totals"),
                                     findings=d.get("findings"), project=d.get("project"),
                                     finding_items=d.get("finding_items"), outputs=list(d.get("outputs") or ()))]
        simple = ("error", "sha256", "reason", "seconds", "duplicate_of", "size")
        known = {"input", "status", "outputs", "projects", "output_sha256", "unchanged", *simple, *_FIRST_PROJECT_KEYS}
        return cls(input=str(d.get("input") or ""), status=str(d.get("status") or ""),
                   outputs=[str(o) for o in d.get("outputs") or ()], projects=projects,
                   output_sha256={str(k): str(v) for k, v in (d.get("output_sha256") or {}).items()},
                   unchanged=bool(d.get("unchanged")), **{k: d.get(k) for k in simple},
                   extra={k: v for k, v in d.items() if k not in known})


def counts_of(entries) -> dict[str, int]:
    c = {"ok": 0, "failed": 0, "skipped": 0}
    for e in entries:
        status = e.status if isinstance(e, FileEntry) else e["status"]
        c[status] = c.get(status, 0) + 1
    return c


@dataclass
class RunManifest:
    inbox: str
    outbox: str
    started: str
    finished: str
    options: dict
    files: list[FileEntry]
    version: str = ""
    tool: str = TOOL
    interrupted: bool = False
    watching: bool | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = {"tool": self.tool, "version": self.version, "inbox": self.inbox, "outbox": self.outbox,
             "started": self.started, "finished": self.finished, "options": self.options,
             "counts": counts_of(self.files)}
        if self.interrupted:
            d["interrupted"] = True
        if self.watching is not None:
            d["watching"] = self.watching
        d["files"] = [f.to_json() for f in self.files]
        return {**self.extra, **d}

    @classmethod
    def from_json(cls, d: dict) -> "RunManifest":
        known = {"tool", "version", "inbox", "outbox", "started", "finished", "options", "counts", "interrupted",
                 "watching", "files"}
        return cls(inbox=str(d.get("inbox") or ""), outbox=str(d.get("outbox") or ""),
                   started=str(d.get("started") or ""), finished=str(d.get("finished") or ""),
                   options=d.get("options") if isinstance(d.get("options"), dict) else {},
                   files=[FileEntry.from_json(f) for f in d.get("files") or () if isinstance(f, dict) and f.get("input")],
                   version=str(d.get("version") or ""), tool=str(d.get("tool") or TOOL),
                   interrupted=bool(d.get("interrupted")), watching=d.get("watching"),
                   extra={k: v for k, v in d.items() if k not in known})

    def write(self, target: Path) -> Path:
        return atomic_write_text(Path(target), json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n",
                                 fsync=True)


def load(path: Path) -> RunManifest | None:
    """The run.json at ``path``, or None when missing or unreadable (never an error)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        return None
    return RunManifest.from_json(data)


def load_json(path: Path) -> dict | None:
    """The run.json at ``path`` as JSON (``load``, normalised), or None when missing or unreadable."""
    m = load(path)
    return None if m is None else m.to_json()


def write_json(target: Path, data: dict) -> Path:
    """Write run.json from its JSON form (through RunManifest: one encoding)."""
    return RunManifest.from_json(data).write(Path(target))
