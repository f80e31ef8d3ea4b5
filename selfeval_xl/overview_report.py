"""The 复核汇总报告: one Word document about the whole batch, for leadership.

    write_overview_report(outbox, comparison=None) -> OUTBOX/复核汇总报告.docx

Written by the batch parent after a run (``run --no-overview`` skips it; ``run --compare
PREVIOUS_OUTBOX`` adds the 对比 section), from run.json and the kept reviews (``tables.records``,
the same rows as 汇总.xlsx). Template ``templates/复核汇总报告.docx`` is made by
``tools/make_overview_template.py`` in the per-project report's GB/T 9704 family and is
rendered through the same sandboxed docxtpl machinery as the report (``report.render_docx``).

Template variables (``build_context``; numbers are formatted text):
``title subtitle intro``; ``scope`` {sentence, failures[no input message]}; ``scores``
{sentence, bands[label count share], chart, grade_sentence, grades[grade count share]};
``departments`` {sentence, rows[department projects self_mean review_mean with_errors top], total};
``largest`` {sentence, rows[no department project self review diff]}; ``problems`` {sentence,
rows[no label projects count text]}; ``comparison`` (None, or {sentence, departments[…],
repeated[no text]}); ``advice`` [no text]; ``advice_number`` (六 or 七); ``t``: table numbers by
name (failures bands grades departments largest compare), counted over the tables present.
"""
from __future__ import annotations

import io
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from .fmt import points, share
from .labels import FINDINGS, finding_label, remedy
from .model import severity_rank

OVERVIEW_NAME = "复核汇总报告.docx"
TEMPLATE_NAME = "复核汇总报告.docx"
TOP_DIFFERENCES = 10  # 差异最大的项目: how many
TOP_PROBLEMS = 8  # 主要问题: how many finding types get a subsection with an example
TOP_REPEATED = 10  # 对比: how many repeated problems are listed by name
CN_NUM = "一二三四五六七八九十"


def _mean(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None]
    return points(sum(xs) / len(xs)) if xs else ""  # fmt rounds half up


def _cn(i: int) -> str:
    return CN_NUM[i - 1] if 0 < i <= len(CN_NUM) else str(i)


def build_context(rec, comparison=None, today: date | None = None) -> dict[str, Any]:
    """The template variables for the batch ``rec`` (tables.Records) and an optional
    compare.Comparison with the previous run."""
    from .histogram import bands, histogram

    projects, findings, files = rec.projects, rec.findings, rec.files
    n = len(projects)
    years = Counter(p["year"] for p in projects if p["year"])
    year_label = f"{years.most_common(1)[0][0]}年度" if years else ""
    depts = sorted({p["department"] or "（未填写）" for p in projects})
    status = Counter(f["status"] for f in files)
    failed = [f for f in files if f["status"] == "failed"]
    today = today or date.today()
    n_dup = sum(1 for p in projects if p["duplicate"])
    # tables are numbered in order of appearance; the optional ones take a number only when present
    scored = [p["review_score"] for p in projects if p["review_score"] is not None]
    grades = Counter(p["grade"] for p in projects if p["grade"])
    diffs = [p for p in projects if p["difference"] is not None]
    big = sorted((p for p in diffs if abs(p["difference"]) >= 0.005),
                 key=lambda p: (-abs(p["difference"]), -p["errors"], p["department"], p["project"]))[:TOP_DIFFERENCES]
    present = {"failures": bool(failed), "bands": bool(scored), "grades": bool(grades), "departments": True,
               "largest": bool(big), "compare": comparison is not None}
    t: dict[str, str] = {}
    for name, shown in present.items():
        t[name] = str(sum(1 for v in t.values() if v) + 1) if shown else ""

    scope = {
        "sentence": (f"本次共收到自评表文件{len(files)}个，成功复核{status['ok']}个，未能复核{status['failed']}个，"
                     f"跳过{status['skipped']}个（临时文件、隐藏文件或非表格文件）；成功复核的文件中共有项目{n}个，"
                     f"涉及主管部门{len(depts)}个" + (f"，其中疑似重复报送（主管部门、项目名称和年度相同）的项目{n_dup}个，"
                                                   "见汇总.xlsx的“项目”表" if n_dup else "") + "。"
                     + (f"未能复核的文件见表{t['failures']}。" if failed else "")),
        "failures": [{"no": str(i), "input": f["input"], "message": f["message"]} for i, f in enumerate(failed, 1)],
    }

    band_rows = bands(scored)
    png = histogram(band_rows)
    if scored:
        hi, lo = max(scored), min(scored)
        s_sentence = (f"{len(scored)}个项目的复核得分平均{_mean(scored)}分，最高{points(hi)}分，最低{points(lo)}分；"
                      f"各分数段的项目数见{'图1和' if png else ''}表{t['bands']}。")
    else:
        s_sentence = "本次没有得出复核得分的项目。"
    if grades:
        g_sentence = f"按表式规定的等级，{sum(grades.values())}个项目的等级分布见表{t['grades']}。"
    else:
        g_sentence = "本批自评表的表式未规定等级，不作等级统计。"
    order = {"优": 0, "良": 1, "中": 2, "差": 3}
    scores = {"sentence": s_sentence, "bands": [{"label": b, "count": str(c), "share": share(c, len(scored))}
                                                for b, c in band_rows],
              "chart": None, "chart_png": png, "grade_sentence": g_sentence,
              "grades": [{"grade": g, "count": str(c), "share": share(c, sum(grades.values()))}
                         for g, c in sorted(grades.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))]}

    # departments: the same numbers as 汇总.xlsx's 按部门 (overview.department_table)
    from .overview import department_table, frames_of

    pdf, fdf, _ = frames_of(rec)
    dept, total = department_table(pdf, fdf)
    rows = [{"department": d, "projects": str(int(r["projects"])), "self_mean": _fmt(r["self_mean"]),
             "review_mean": _fmt(r["review_mean"]), "with_errors": str(int(r["with_errors"])), "top": r["top"] or "—"}
            for d, r in dept.iterrows()]
    attention = [r["department"] for r in rows if r["with_errors"] != "0"][:3]
    d_sentence = (f"各主管部门的项目数、平均得分和主要问题见表{t['departments']}（按有错误的项目数排列）。"
                  + (f"有错误的项目较多的是{'、'.join(attention)}，建议重点关注。" if attention else "各部门的项目均未发现错误。"))
    departments = {"sentence": d_sentence, "rows": rows,
                   "total": {"projects": str(total["projects"]), "self_mean": _fmt(total["self_mean"]),
                             "review_mean": _fmt(total["review_mean"]), "with_errors": str(total["with_errors"]),
                             "top": total["top"] or "—"}}

    n_lower = sum(1 for p in diffs if p["difference"] <= -0.005)
    n_higher = sum(1 for p in diffs if p["difference"] >= 0.005)
    largest = {"sentence": (f"复核得分低于自评分的项目{n_lower}个，高于自评分的{n_higher}个，一致的{len(diffs) - n_lower - n_higher}个。"
                            + (f"差异最大的{len(big)}个项目见表{t['largest']}（差异＝复核得分－自评分）。" if big else "")),
               "rows": [{"no": str(i), "department": p["department"], "project": p["project"],
                         "self": points(p["self_score"]), "review": points(p["review_score"]),
                         "diff": points(p["difference"])} for i, p in enumerate(big, 1)]}

    # per finding code: its first finding (the example), how many, and the projects concerned; read
    # from the findings' columns (tables.Table) so that no dict per finding is kept
    col = findings.columns if hasattr(findings, "columns") else {
        k: [f[k] for f in findings] for k in ("code", "input", "project_index", "severity")}
    by_code: dict[str, dict] = {}
    for i, (code, inp, idx) in enumerate(zip(col["code"], col["input"], col["project_index"])):
        k = by_code.get(code)
        if k is None:
            k = by_code[code] = {"first": findings[i], "count": 0, "projects": set()}
        k["count"] += 1
        k["projects"].add((inp, idx))
    # problems first (errors and warnings), 提示 last; then by projects concerned, findings, code
    kinds = sorted(by_code, key=lambda c: (by_code[c]["first"]["severity"] == "info", -len(by_code[c]["projects"]),
                                           severity_rank(by_code[c]["first"]["severity"]), -by_code[c]["count"], c))
    problem_rows = []
    for i, code in enumerate(kinds[:TOP_PROBLEMS], 1):
        n_proj, n_code, ex = len(by_code[code]["projects"]), by_code[code]["count"], by_code[code]["first"]
        where = f"{ex['department'] or '（未填写主管部门）'}《{ex['project'] or ex['input']}》"
        cell = f"（{ex['cell']}）" if ex["cell"] else ""
        problem_rows.append({"no": _cn(i), "label": ex["label"], "projects": str(n_proj), "count": str(n_code),
                             "text": f"涉及{n_proj}个项目，共{n_code}条。例如{where}{cell}：{_period(ex['message'])}"})
    n_find, n_sev = len(findings), Counter(col["severity"])
    problems = {"sentence": (f"复核共发现问题{n_find}条，其中错误{n_sev['error']}条、"
                             f"警告{n_sev['warning']}条、"
                             f"提示{n_sev['info']}条，分属{len(by_code)}类。"
                             + (f"按涉及项目数排列，主要的{len(problem_rows)}类如下（提示类排在最后）。" if problem_rows else ""))
                if n_find else "复核未发现问题。", "rows": problem_rows}

    comp = None
    if comparison is not None:
        c = comparison.counts()
        rep = [(m, t) for m in comparison.matches for t in m.repeated]
        rep.sort(key=lambda mt: (severity_rank(mt[1][0]), mt[0].b["department"], mt[0].b["project"]))
        comp = {"sentence": (f"与上次（{comparison.a_label}）的复核结果对比：两次都有的项目{c['matched']}个"
                             f"（其中{c['fuzzy']}个按名称相近匹配，已在对比.xlsx中列明），复核得分提高的{c['better']}个、"
                             f"降低的{c['worse']}个；本次新增项目{c['new']}个，上次有而本次没有的{c['gone']}个。"
                             f"上次发现的问题中已改正{c['fixed']}条，重复出现{c['repeated']}条，另新出现{c['new_problems']}条。"
                             + (f"重复出现的问题（前{min(len(rep), TOP_REPEATED)}条）如下。" if rep else "")),
                "departments": [{**d, "mean_change": points(d["mean_change"]) if d["mean_change"] is not None else "—",
                                 **{k: str(d[k]) for k in ("a", "b", "repeated", "fixed", "new_problems")}}
                                for d in comparison.departments()],
                "repeated": [{"no": str(i), "text": f"{m.b['department']}《{m.b['project']}》：{finding_label(code, sev)}"
                              + (f"（指标“{ind}”）" if ind else "")} for i, (m, (sev, code, ind, msg, cell)) in
                             enumerate(rep[:TOP_REPEATED], 1)]}

    advice = []
    for code in [k for k in kinds if by_code[k]["first"]["severity"] in ("error", "warning")] + \
                [k for k in kinds if by_code[k]["first"]["severity"] == "info"]:
        if code in FINDINGS:  # the 整改要求 of labels.py, one per finding type found
            advice.append(f"针对“{by_code[code]['first']['label']}”（{len(by_code[code]['projects'])}个项目）：{remedy(code)}")
    if attention:
        advice.insert(0, f"请{'、'.join(attention)}等主管部门对照复核工作簿中标出的单元格逐项核实整改，重新报送自评表。")
    if comparison is not None and comparison.counts()["repeated"]:
        advice.append("上次复核指出的问题本次仍重复出现的，建议在绩效评价结果应用中予以关注，并督促相关部门说明原因。")
    if failed:
        advice.append(f"未能复核的{len(failed)}个文件，请相关部门按表{t['failures']}所列原因修正后重新报送。")
    if not advice:
        advice.append("本次复核未发现需要整改的问题，建议保持现有的自评工作质量。")

    return {
        "title": f"{year_label}项目支出绩效自评复核汇总报告",
        "subtitle": f"（{today.year}年{today.month}月{today.day}日）",
        "intro": (f"按照各类自评表《填表说明》的评分规则，对{len(depts)}个主管部门报送的{len(files)}个自评表文件逐项重新评分、"
                  f"核对数据勾稽关系和文字说明，现将复核情况报告如下。"),
        "scope": scope, "scores": scores, "departments": departments, "largest": largest, "problems": problems,
        "comparison": comp, "advice": [{"no": str(i), "text": t} for i, t in enumerate(advice, 1)],
        "advice_number": "七" if comp else "六", "t": t,
    }


def _period(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith(("。", "！", "？")) else text + "。"


def _fmt(x) -> str:
    try:
        if x is None or x != x:
            return ""
    except TypeError:  # pandas NA
        return ""
    return points(float(x))  # fmt rounds half up (binary round() would make 2.675 2.67)


def write_overview_report(outbox: Path, comparison=None, target: Path | None = None, template: Path | None = None,
                          fonts: dict[str, str] | None = None) -> Path:
    """Render the 复核汇总报告 of the run in ``outbox`` (atomically) and return its path."""
    from .tables import load_run, records

    outbox = Path(outbox)
    rec = records(load_run(outbox), outbox)
    return render(rec, target or outbox / OVERVIEW_NAME, comparison=comparison, template=template, fonts=fonts)


def render(rec, target: Path, comparison=None, template: Path | None = None, fonts: dict[str, str] | None = None,
           today: date | None = None) -> Path:
    from docx.shared import Mm
    from docxtpl import InlineImage

    from . import report
    from .fsutil import atomic_path
    from .resources import template_file

    loaded = report.load_template(template or template_file(TEMPLATE_NAME))

    def chart(tpl, context):
        png = context["scores"].pop("chart_png", None)
        context["scores"]["chart"] = InlineImage(tpl, io.BytesIO(png), width=Mm(140)) if png else None

    tpl = report.render_docx(loaded, build_context(rec, comparison, today=today), fonts=fonts, images=chart)
    if isinstance(target, str):
        target = Path(target)
    with atomic_path(target) as tmp:
        tpl.save(tmp)
    return target
