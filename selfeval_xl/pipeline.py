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
    # An earlier reviewed workbook of this file (at the final output location): its reviewer
    # decisions (复核认定/复核说明) are carried over to the new review (decisions.py).
    previous_reviewed: str | None = None


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
    kind: str = "workbook"  # what the input was: "workbook" or "word" (a 自评价报告 .docx/.doc/.wps)


def project_summary(r: Review) -> dict:
    """The JSON-ready facts of one reviewed project (run.json / 汇总.xlsx / mail read these)."""
    from .fmt import json_number as num

    ev = r.evaluation
    counts = r.severity_counts()
    return {
        "sheet": ev.sheet,
        "profile": r.profile,
        "totals": {"stated": num(r.stated_total), "self": num(r.self_total), "computed": num(r.computed_total)},
        "grade": r.grade,  # 等级 of the computed total by the profile's grade bands; None for Suzhou
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
    from .safety import sniff
    from .word_review import WORD_KINDS, review_word_into
    from .naming import reviewed_name
    from .writeback import write_reviewed

    src = Path(src)
    if sniff(src) in WORD_KINDS:  # by content: a Word document has its own outputs
        return review_word_into(src, folder, options)
    evaluations = read_all(src)
    reviews = [review(ev, options.profile) for ev in evaluations]
    reviews, decided = _carry_decisions(reviews, src, options.previous_reviewed)
    # Several forms (one per sheet): ONE reviewed workbook with every form sheet annotated (it is
    # an output of each project), and one report per project (report.report_names).
    projects = [ProjectOutput(r.evaluation.sheet, r) for r in reviews]
    workbook = Path(write_reviewed(reviews, src, folder / reviewed_name(src), decisions=decided)).name
    outputs = [workbook]
    for project in projects:
        project.outputs.append(workbook)
    if options.report:
        from .naming import report_names
        from .report import render_report

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


def _carry_decisions(reviews: list[Review], src: Path, previous: str | None) -> tuple[list[Review], dict]:
    """The reviews with DECISION_STALE findings added, and the decisions to pre-fill (every sheet).

    Decisions come from ``previous`` (the earlier reviewed workbook) when it exists, else from
    ``src`` itself when that is a reviewed workbook being reviewed again. An earlier workbook
    that cannot be read carries nothing over, and the new review says so (DECISION_STALE).
    """
    from .naming import is_reviewed

    path = Path(previous) if previous and Path(previous).is_file() else (src if is_reviewed(src) else None)
    return carry_decisions_from(reviews, path)


def carry_decisions_from(reviews: list[Review], path: Path | None) -> tuple[list[Review], dict]:
    """``_carry_decisions`` once the earlier reviewed workbook is known (None: nothing to carry).

    A Word input's decisions live in its rebuilt ``.复核.xlsx`` (word_review), so it comes here
    directly with that workbook."""
    import dataclasses

    from .decisions import STALE, STALE_SEVERITY, carry_over, read_decisions
    from .errors import ReadError
    from .model import Finding

    if path is None:
        return reviews, {}
    try:
        old = read_decisions(path)
    except ReadError as err:
        lost = Finding(STALE, STALE_SEVERITY, "", f"上次的复核工作簿无法读取（{err.message}），其中的复核认定未能沿用")
        return [dataclasses.replace(reviews[0], findings=reviews[0].findings + (lost,)), *reviews[1:]], {}
    if not old:
        return reviews, {}
    decided: dict = {}
    out = []
    for r in reviews:
        mine, stale = carry_over(old, r)
        decided.update(mine)
        out.append(dataclasses.replace(r, findings=r.findings + tuple(stale)) if stale else r)
    return out, decided
