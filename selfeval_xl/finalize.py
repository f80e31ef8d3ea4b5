"""``selfeval-xl finalize OUTBOX``: the reviewer's decisions become final scores and letters.

After ``run`` a reviewer decides in each reviewed workbook (复核认定 / 复核说明, decisions.py).
``finalize`` reads those workbooks as the reviewer left them (the ones run.json lists), and

* computes each indicator's 最终得分 -- 采纳规则得分: the rule score; 维持自评分: the self-score;
  a number: that number (0..权重); undecided: the rule score -- and the project's final total
  (the rule total with each decided indicator's rule score replaced by its final score);
* writes ``<stem>.复核意见书.docx`` per project beside the reviewed workbook (the bureau's letter
  to the department, from templates/复核意见书.docx made by tools/make_letter_template.py);
* adds ``totals.final`` per file (and per project) and ``finalized`` {time, issuer, date} to
  run.json, lists the letters in each file's ``outputs`` (so ``mail --attach letter`` finds
  them), and rewrites 汇总.xlsx with a 最终得分 column.

It never changes a reviewed workbook. Running it twice gives byte-identical outputs: document
timestamps are the letter's date, zip entry times are fixed, and run.json is left as it is when
nothing but the clock would change.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath

from .decisions import Decision, final_score, read_decisions, reviewer_note
from .errors import ReadError, TemplateError
from .fmt import columns, plain, points
from .fsutil import atomic_write_bytes
from .labels import finding_label, profile_title, remedy
from .naming import REVIEWED_SUFFIXES, letter_name
from .model import Finding, Review, Scored, severity_rank

LETTER_TEMPLATE = "复核意见书.docx"
# Findings about the review itself, not about the department's form: never in the letter.
INTERNAL_CODES = frozenset({"DECISION_STALE"})
CHAR_TWIPS = 320  # one 16 pt character


class FinalizeError(Exception):
    """A usage problem (no run.json, bad date, no issuer): exit code 2, Chinese message."""


@dataclass
class IndicatorFinal:
    scored: Scored
    verdict: str
    note: str
    kind: str  # rule | self | number | undecided
    final: Decimal


@dataclass
class ProjectFinal:
    """One project's final scores: everything the letter and run.json need (pure data)."""

    review: Review
    indicators: list[IndicatorFinal]
    self_total: Decimal  # the stated 合计 (or the sum of self-scores when blank)
    rule_total: Decimal
    final_total: Decimal
    self_grade: str | None = None
    final_grade: str | None = None
    problems: list[Finding] = field(default_factory=list)
    kept: list[IndicatorFinal] = field(default_factory=list)  # decisions not adopting the rule score
    pending: list[Decision] = field(default_factory=list)  # decisions still marked 【待重审】


@dataclass
class FinalizeResult:
    letters: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # decisions still 【待重审】 (applied as they stand)
    projects: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def summary(self) -> str:
        lines = [f"复核定稿：{self.projects} 个项目，生成复核意见书 {len(self.letters)} 份，失败 {len(self.errors)} 个"]
        lines += [f"  {e}" for e in self.errors]
        if self.warnings:
            lines.append(f"注意：{len(self.warnings)} 项复核认定待重审（指标在认定后修改过），已按现有认定计算：")
            lines += [f"  {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- pure


def project_final(review: Review, decisions: list[Decision], profile=None) -> ProjectFinal:
    """Final scores of one reviewed project from the decisions recorded on its sheet.

    ``profile`` (a rules.Profile; default: the review's by name) supplies the grade bands.

    Raises ValueError (Chinese, naming the cell) for a decision that is neither choice nor a
    number within 0..权重.
    """
    ev = review.evaluation
    by_cell = {d.cell: d for d in decisions if d.sheet == ev.sheet}
    finals: list[IndicatorFinal] = []
    for s in review.scored:
        d = by_cell.get(s.indicator.cell)
        verdict, note = (d.verdict, d.note) if d else ("", "")
        value, kind = final_score(verdict, s)
        finals.append(IndicatorFinal(s, verdict, note, kind, value))
    adjustment = sum((f.final - f.scored.score for f in finals), Decimal(0))
    stated = review.stated_total
    self_total = stated if stated is not None else review.self_total
    final_total = review.computed_total + adjustment
    kept = [f for f in finals if f.kind in ("self", "number") and f.final != f.scored.score]
    settled = set()
    for f in finals:
        if f.kind in ("self", "number"):
            ind = f.scored.indicator
            settled |= {ind.cell, ind.target.cell, ind.actual.cell, ind.self_score.cell, ind.weight.cell}
    problems = [x for x in review.findings if x.code not in INTERNAL_CODES and x.cell not in settled]
    problems.sort(key=lambda x: severity_rank(x.severity))
    bands = _grade_bands(profile if profile is not None else review.profile)
    return ProjectFinal(review, finals, self_total, review.computed_total, final_total,
                        _grade(bands, self_total) if bands else None, _grade(bands, final_total) if bands else None,
                        problems, kept, [d for d in by_cell.values() if d.pending])


def _grade_bands(profile) -> list[tuple[Decimal, str]] | None:
    """(lower bound, grade) from the profile's ``[grade_bands]`` (e.g. "优" = 90, "良" = 80 …), highest
    first; None when the form defines no grades (the Suzhou form has none)."""
    from .rules import Profile, load_profile

    try:
        data = (profile if isinstance(profile, Profile) else load_profile(profile)).data
    except ValueError:
        return None
    bands = data.get("grade_bands")
    if not isinstance(bands, dict) or not bands:
        return None
    return sorted(((Decimal(str(v)), k) for k, v in bands.items()), reverse=True)


def _grade(bands: list[tuple[Decimal, str]], total: Decimal) -> str | None:
    return next((g for low, g in bands if total >= low), None)


def _chinese_date(d: Date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _width(text: str) -> float:
    """Width in 16 pt characters: CJK 1, digits and Latin letters half (fmt.columns / 2)."""
    return columns(text) / 2


def letter_context(pf: ProjectFinal, issuer: str, when: Date) -> dict:
    """The letter's template variables (every number already text).

    ``project`` name department title_year; ``opening``; ``totals`` self rule adjustment final
    sentence self_grade final_grade; ``problems`` (no label cell message remedy); ``problems_sentence``;
    ``kept`` (no name cell text); ``decisions_sentence``; ``closing``; ``issuer``; ``date``; ``sign``
    (issuer_indent, date_indent: twips).
    """
    from .report import clean

    r = pf.review
    ev = r.evaluation
    name = clean(ev.project_name.text).strip() or "（未填写项目名称）"
    year = ev.year.text.strip() if ev.year.text else (plain(ev.year.number) if ev.year.number is not None else "")
    year = year.removesuffix("年度").removesuffix("年")
    title_year = f"{year}年度" if year and year not in name else ""
    rules = profile_title(r.profile)
    adjustment = pf.final_total - pf.rule_total

    def grade(g: str | None) -> str:
        return f"（等级：{g}）" if g else ""

    sentence = (f"你单位自评总分{points(pf.self_total)}分{grade(pf.self_grade)}；按评分规则复核得分{points(pf.rule_total)}分"
                + (f"，经复核认定调整{'+' if adjustment > 0 else ''}{points(adjustment)}分" if adjustment else "")
                + f"，复核最终得分{points(pf.final_total)}分{grade(pf.final_grade)}。")
    problems = [{"no": str(i), "label": finding_label(f.code, f.severity), "cell": f.cell or "整个文件",
                 "message": clean(f.message).rstrip("。"), "remedy": remedy(f.code)}
                for i, f in enumerate(pf.problems, 1)]
    kept = []
    for i, f in enumerate(pf.kept, 1):
        ind = f.scored.indicator
        how = "维持自评分" if f.kind == "self" else f"认定为{points(f.final)}分"
        own = points(ind.self_score.number) if ind.self_score.number is not None else "未填"
        note = clean(reviewer_note(f.note)).strip().rstrip("。")
        kept.append({"no": str(i), "name": clean(ind.name).strip(), "cell": ind.cell,
                     "text": f"“{clean(ind.name).strip()}”（{ind.cell}）：自评分{own}分，按规则得分{points(f.scored.score)}分，"
                             f"复核{how}" + (f"。说明：{note}。" if note else "。")})
    date_text = _chinese_date(when)
    date_indent = 4 * CHAR_TWIPS  # 成文日期右空四字
    issuer_indent = max(2 * CHAR_TWIPS, round(date_indent + (_width(date_text) - _width(issuer)) / 2 * CHAR_TWIPS))
    return {
        "project": {"name": name, "department": clean(ev.department.text).strip() or "（主管部门未填写）",
                    "title_year": title_year},
        "opening": f"你单位报送的《{name}》{title_year}绩效自评表收悉。我局按《{rules}》对自评表逐项复核，现将复核意见函告如下。",
        "totals": {"self": points(pf.self_total), "rule": points(pf.rule_total),
                   "adjustment": (("+" if adjustment > 0 else "") + points(adjustment)) if adjustment else "0",
                   "final": points(pf.final_total), "sentence": sentence,
                   "self_grade": pf.self_grade or "", "final_grade": pf.final_grade or ""},
        "problems": problems,
        "problems_sentence": (f"经复核，自评表中有以下{len(problems)}处问题，请逐项整改：" if problems
                              else "经复核，自评表未发现需整改的问题。"),
        "kept": kept,
        "decisions_sentence": (f"对以下{len(kept)}项指标，复核采纳了你单位的意见或另行认定了得分：" if kept
                               else "各项指标的最终得分均为按评分规则复核的得分。"),
        "closing": "请你单位对照上述问题修改自评表，并在今后的绩效目标设定和自评工作中加以改进。" if problems
                   else "请你单位继续做好项目绩效管理工作。",
        "issuer": issuer, "date": date_text,
        "sign": {"issuer_indent": str(issuer_indent), "date_indent": str(date_indent)},
    }





def default_letter_template() -> Path:
    from .resources import template_file

    return template_file(LETTER_TEMPLATE)


def render_letter(pf: ProjectFinal, target: Path, issuer: str, when: Date, template: Path | None = None) -> Path:
    """Write the 复核意见书 (atomically, reproducibly: timestamps are the letter's date)."""
    from .report import load_template, sandbox_env, template_class, unescape_properties

    loaded = load_template(template or default_letter_template())
    tpl = template_class()(io.BytesIO(loaded.data))  # report's DocxTemplate: one patch_xml, clipped properties
    tpl.init_docx()
    try:
        tpl.render(letter_context(pf, issuer, when), jinja_env=sandbox_env(), autoescape=True)
    except Exception as exc:
        raise TemplateError(f"复核意见书模板“{loaded.name}”渲染失败：{exc}") from None
    unescape_properties(tpl.docx)  # an issuer or project name with "&" must not become "&amp;"
    stamp = datetime(when.year, when.month, when.day)
    props = tpl.docx.core_properties
    props.created = props.modified = stamp
    props.last_printed = stamp
    props.revision = 1
    buf = io.BytesIO()
    tpl.save(buf)
    return atomic_write_bytes(Path(target), frozen_zip(buf.getvalue(), stamp))


_CORE_TIME = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:(?:created|modified)>)")


def frozen_zip(data: bytes, stamp: datetime) -> bytes:
    """The same OOXML package with every entry dated ``stamp`` and docProps/core.xml's created/
    modified set to it: the bytes then depend on the content only."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "docProps/core.xml":
                body = _CORE_TIME.sub(rb"\g<1>" + iso + rb"\g<2>", body)
            zi = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    return out.getvalue()


# --------------------------------------------------------------------------- the folder


def finalize(outbox: Path, issuer: str | None = None, when: Date | None = None) -> FinalizeResult:
    """Finalize every reviewed workbook run.json lists in ``outbox`` (see the module docstring).

    Raises FinalizeError for a missing/unreadable run.json or a missing issuer. A workbook that
    cannot be read or holds an invalid decision is reported in the result (exit code 1) and gets
    no letter; the others are finalized.
    """
    from .review import review
    from .layout import read_all_grids
    from .grids import load_grids
    from .overview import write_summary
    from .manifest import RUN_JSON_NAME
    from .manifest import load_json as load_run_json
    from .naming import SUMMARY_NAME

    outbox = Path(outbox)
    run_json = outbox / RUN_JSON_NAME
    if not outbox.is_dir():
        raise FinalizeError(f"文件夹不存在：{outbox}")
    data = load_run_json(run_json)
    if data is None:
        raise FinalizeError(f"{outbox} 中没有可读取的 run.json：请先用 selfeval-xl run 生成复核结果")
    when = when or Date.today()
    profile = (data.get("options") or {}).get("profile") or "auto"
    result = FinalizeResult()
    finals: dict[str, list[tuple[dict | None, Decimal]]] = {}
    letters: dict[str, list[str]] = {}
    used: set[str] = set()
    for entry in data["files"]:
        if entry.get("status") != "ok":
            continue
        for rel in [o for o in entry.get("outputs") or [] if o.endswith(REVIEWED_SUFFIXES)]:
            path = outbox / PurePosixPath(rel)
            try:
                grids = load_grids(path)
                evaluations = read_all_grids(grids, path.name)
                decisions = read_decisions(path)
            except (ReadError, OSError) as err:
                result.errors.append(f"{rel}：{getattr(err, 'message', err)}")
                continue
            for i, ev in enumerate(evaluations):
                result.projects += 1
                try:
                    p = _profile(profile, ev)
                    r = review(ev, p)
                    pf = project_final(r, decisions, p)
                    who = issuer or _default_issuer(p)
                    name = letter_name(path, ev.sheet if i else None)
                    target = path.parent / name
                    render_letter(pf, target, who, when)
                except (ValueError, TemplateError) as err:
                    result.errors.append(f"{rel}（{ev.sheet}）：{err}")
                    continue
                result.letters.append(target)
                result.warnings += [f"{rel}：{d.cell}（“{d.name}”）" for d in pf.pending]
                used.add(who)
                finals.setdefault(entry["input"], []).append((ev.sheet, pf.final_total))
                letters.setdefault(entry["input"], []).append((PurePosixPath(rel).parent / name).as_posix())
    record_finalized(run_json, data, finals, letters, issuer or "、".join(sorted(used)) or None, when)
    if finals:
        summary = outbox / SUMMARY_NAME
        write_summary(summary, data["files"])
        atomic_write_bytes(summary, frozen_zip(summary.read_bytes(), datetime(when.year, when.month, when.day)))
    return result


def _profile(profile: str, ev):
    """The run's profile; a profile file that has gone since falls back to the form's default."""
    from .review import profile_for

    try:
        return profile_for(ev, profile)
    except ValueError:
        return profile_for(ev, "auto")


def _default_issuer(p) -> str:
    issuer = (p.data.get("letter") or {}).get("issuer")
    if not issuer:
        raise ValueError("评分规则配置没有默认的发文机关，请用 --issuer 指定（如 --issuer 某某市财政局）")
    return issuer


def record_finalized(run_json: Path, data: dict, finals: dict, letters: dict, issuer: str | None, when: Date) -> None:
    """Add ``totals.final`` (per file = its first project; per project in ``projects[]``), the
    letters to ``outputs`` and ``finalized`` {time, issuer, date} to run.json -- keys only added.
    Written atomically, and not at all when only ``finalized.time`` would change."""
    from .fmt import json_number as num
    from .manifest import write_json as write_run_json

    before = json.dumps(data, ensure_ascii=False, sort_keys=True)
    previous_time = (data.get("finalized") or {}).get("time")
    for entry in data["files"]:
        got = finals.get(entry.get("input"))
        if not got:
            continue
        if not isinstance(entry.get("totals"), dict):
            entry["totals"] = {}
        entry["totals"]["final"] = num(got[0][1])
        for project in entry.get("projects") or []:
            hit = next((t for s, t in got if s == project.get("sheet")), None)
            if hit is not None:
                project.setdefault("totals", {})["final"] = num(hit)
        outputs = entry.setdefault("outputs", [])
        outputs.extend(n for n in letters.get(entry["input"], []) if n not in outputs)
    data["finalized"] = {"time": previous_time, "issuer": issuer, "date": when.isoformat()}
    if json.dumps(data, ensure_ascii=False, sort_keys=True) == before and previous_time:
        return
    data["finalized"]["time"] = datetime.now().astimezone().isoformat(timespec="seconds")
    write_run_json(run_json, data)


def parse_date(text: str | None) -> Date | None:
    if not text:
        return None
    try:
        return Date.fromisoformat(text.strip())
    except ValueError:
        raise FinalizeError(f"--date 的取值“{text}”无效：应为 年-月-日，如 2026-12-01") from None


__all__ = ["finalize", "project_final", "letter_context", "letter_name", "render_letter", "frozen_zip",
           "record_finalized", "FinalizeError", "FinalizeResult", "ProjectFinal"]
