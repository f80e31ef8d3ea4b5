"""The per-file job for a Word 自评价报告: read its tables, review, and write three outputs.

* ``<stem>.复核.docx`` - the submitted document with one comment per finding (docx_review);
* ``<stem>.复核.xlsx`` - the form as a workbook, so a bureau can sort and filter: for the Suzhou
  form it is the blank form's layout (``form.build``) filled with what the document says, re-read
  and reviewed by the normal write-back (review columns, 复核结果); a form without a workbook
  builder (e.g. the national form) becomes its tables as sheets 表1 … with the same cells, so the
  Word review lands on them unchanged;
* the Word report, from the Word review (its cells are ``表1!G30``, as in the comments).

The Suzhou workbook is reviewed afresh rather than mapping the Word review's cells onto it: the
rebuilt form's rows are not the document's rows (blank rows dropped, merges normalised), and
re-reading is the one mapping that cannot drift - the tests check both reviews agree.
"""
from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from . import word
from .errors import ReadError
from .model import BUDGET_FIELDS, FUNDS_FIELDS, SelfEvaluation, Value

WORD_KINDS = ("docx", "doc")


def review_word_into(src: Path, folder: Path, options):
    """``pipeline.review_into`` for a Word input (sniffed as docx/doc)."""
    from .docx_review import write_reviewed_docx
    from .naming import report_name, reviewed_docx_name, reviewed_name
    from .pipeline import JobResult, ProjectOutput, carry_decisions_from
    from .reader import read_all
    from .review import review
    from .safety import sniff
    from .writeback import write_reviewed

    src, folder = Path(src), Path(folder)
    with tempfile.TemporaryDirectory(prefix="selfeval-word-") as tmp:
        tmp = Path(tmp)
        docx = src
        removed: list[str] = []
        if sniff(src) == "doc":
            docx = word.convert_to_docx(src, tmp, removed=removed)
        try:
            evaluations = [replace(ev, file=src.name) for ev in read_all(docx)]
        except ReadError as err:
            err.file = src.name
            err.args = (err.message,)
            raise
        reviews = [review(ev, options.profile) for ev in evaluations]
        # TODO(issue 13): several forms in one document - one report per project, as for workbooks.
        r = reviews[0]
        project = ProjectOutput(r.evaluation.sheet, r)
        project.outputs.append(Path(write_reviewed_docx(reviews, docx, folder / reviewed_docx_name(src))).name)
        book, book_review = rebuild_workbook(r, docx, tmp / f"{src.stem}.xlsx", options.profile)
        note = (f"本工作簿由 Word 文档“{src.name}”中的自评表重建（按空白自评表的版式），单元格位置与原文档不同；"
                f"各项发现在原文档中的位置（{r.evaluation.sheet}!单元格，{r.evaluation.sheet} 即文档中的第几个表格）见 .复核.docx 的批注和复核报告。")
        notes = (note,)
        if removed:
            notes += (f"原文档含从外部加载内容的域或链接图片（{'、'.join(removed[:5])}{'等' if len(removed) > 5 else ''}），"
                      "为安全起见转换前已去除其链接，这些内容未载入。",)
        # The reviewer decides in this workbook: carry the decisions of its previous version over
        # (DECISION_STALE findings land on it, at the rebuilt workbook's cells).
        previous = Path(options.previous_reviewed) if options.previous_reviewed else None
        [book_review], decided = carry_decisions_from([book_review], previous if previous and previous.is_file() else None)
        project.outputs.append(Path(write_reviewed(book_review, book, folder / reviewed_name(src), source_name=src.name,
                                                   notices=notes, decisions=decided)).name)
    if options.report:
        from .report import render_report

        project.outputs.append(Path(render_report(r, folder / report_name(src), template=options.template,
                                                  findings=options.findings, fonts=options.fonts)).name)
    missing = [n for n in project.outputs if not (folder / n).is_file()]
    if missing:
        raise RuntimeError(f"输出文件未生成：{'、'.join(missing)}")
    return JobResult([project], list(project.outputs), kind="word")


def rebuild_workbook(r, docx: Path, target: Path, profile="auto"):
    """(workbook path, its review): the form of ``r`` as a workbook at ``target``.

    Suzhou: the blank form filled from the evaluation, read and reviewed again (same profile).
    Other forms (and, as a fallback, a Suzhou form the rebuilt workbook does not read back): the
    document's tables as sheets 表1 … with their cells and merges; the review is ``r``.
    """

    ev = r.evaluation
    if ev.form == "suzhou":
        from . import form
        from .reader import read_all
        from .review import review

        form.write(target, form_content(ev))
        try:
            again = next((e for e in read_all(target) if e.form == ev.form), None)
        except ReadError:  # content the blank form cannot hold the same way: keep the document's cells
            again = None
        if again is not None:
            return target, review(replace(again, file=ev.file), profile)
    from .fsutil import atomic_write_bytes
    from .writeback import _rebuild_from_values

    atomic_write_bytes(target, _rebuild_from_values(docx, b"", False))
    return target, r


def form_content(ev: SelfEvaluation) -> dict:
    """The content dict of ``form.build`` (see tools/build_sample.py) from a Suzhou evaluation:
    amounts, weights and scores as numbers when they are numbers, targets and actuals as typed."""
    from .form import BLANK

    def n(v: Value):
        if v.number is not None:
            return int(v.number) if v.number == v.number.to_integral_value() else float(v.number)
        return v.text or None

    title = ev.title or ""
    return {
        "report_title": title if "自评价报告" in title else BLANK["report_title"],
        "title": title if "自评表" in title else BLANK["title"],
        "project_name": ev.project_name.text,
        "year": n(ev.year),
        "department": ev.department.text or None,
        "budget": {k: n(ev.budget.get(k, Value(""))) for k in BUDGET_FIELDS},
        "funds": {k: n(ev.funds.get(k, Value(""))) for k in FUNDS_FIELDS},
        "composition_total": n(ev.composition_total),
        "sub_items": [(s.name, n(s.amount)) for s in ev.sub_items] or [(None, None)],
        "performance_label": ev.performance_label or BLANK["performance_label"],
        "categories": [(c.label, [(i.name, i.target.text or None, n(i.weight), i.actual.text or None, n(i.self_score))
                                  for i in c.indicators]) for c in ev.categories],
        "total": n(ev.stated_total),
        "instructions": ev.instructions or None,
        "narrative": {h: nv.text for h, nv in ev.narrative.items()},
    }


__all__ = ["review_word_into", "rebuild_workbook", "form_content", "WORD_KINDS"]
