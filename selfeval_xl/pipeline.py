"""The per-file job: read → review → write back → report, into one folder.

One function, ``review_into``, used by the batch worker (and meant for the fuzz harness and the
benchmark): what a file turns into lives here and nowhere else. The batch machinery around it
(pool, staging, run.json) only moves the files it names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .model import Review


@dataclass(frozen=True)
class JobOptions:
    """What the job needs to know besides the file (picklable: sent to spawned workers)."""

    profile: object = "auto"  # a profile name/path, a rules.Profile, or "auto" (by the form read)
    report: bool = True
    findings: bool = True  # the report's 附件：复核发现
    template: str | None = None  # report template path
    fonts: dict[str, str] | None = None


@dataclass
class ProjectOutput:
    """One project (one form) of a file, its review and the outputs written for it."""

    sheet: str
    review: Review
    outputs: list[str] = field(default_factory=list)  # names inside the folder


@dataclass
class JobResult:
    """Everything written for one input file: the projects and the names of all outputs."""

    projects: list[ProjectOutput]
    outputs: list[str]  # every file written into the folder, in order


def project_summary(r: Review) -> dict:
    """The JSON-ready facts of one reviewed project (run.json / 汇总.xlsx / mail read these)."""
    from .review import num

    ev = r.evaluation
    counts = r.severity_counts()
    return {
        "sheet": ev.sheet,
        "profile": r.profile,
        "totals": {"stated": num(r.stated_total), "self": num(r.self_total), "computed": num(r.computed_total)},
        "findings": {k: counts.get(k, 0) for k in ("error", "warning", "info")},
        "project": {"name": ev.project_name.text, "department": ev.department.text,
                    "year": num(ev.year.number) if ev.year.number is not None else (ev.year.text or None)},
        "finding_items": [{"cell": f.cell, "code": f.code, "severity": f.severity, "message": f.message}
                          for f in r.findings],
    }


def review_into(src: Path, folder: Path, options: JobOptions = JobOptions()) -> JobResult:
    """Review ``src`` and write its outputs into ``folder`` (which must exist).

    Raises ReadError for a file that cannot be read, TemplateError for a broken report template;
    anything else is a bug. Writes nothing into ``folder`` but the names it returns (outputs are
    written atomically by the writers).
    """
    from .reader import read_all
    from .review import review
    from .writeback import reviewed_name, write_reviewed

    src = Path(src)
    evaluations = read_all(src)
    reviews = [review(ev, options.profile) for ev in evaluations]
    # Several forms (one per sheet): ONE reviewed workbook with every form sheet annotated (it is
    # an output of each project), and one report per project (report.report_names).
    projects = [ProjectOutput(r.evaluation.sheet, r) for r in reviews]
    workbook = Path(write_reviewed(reviews, src, folder / reviewed_name(src))).name
    outputs = [workbook]
    for project in projects:
        project.outputs.append(workbook)
    if options.report:
        from .report import render_report, report_names

        names = report_names(src, [r.evaluation.sheet for r in reviews])
        for project, name in zip(projects, names):
            written = Path(render_report(project.review, folder / name, template=options.template,
                                         findings=options.findings, fonts=options.fonts)).name
            project.outputs.append(written)
            outputs.append(written)
    missing = [n for n in outputs if not (folder / n).is_file()]
    if missing:
        raise RuntimeError(f"输出文件未生成：{'、'.join(missing)}")
    return JobResult(projects, outputs)
