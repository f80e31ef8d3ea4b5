"""The reviewer's decisions: read them from a reviewed workbook, carry them over to a new review.

The tool proposes a rule score; the finance-bureau reviewer decides, in the two columns the
reviewed workbook carries after the six review columns: 复核认定 (采纳规则得分 / 维持自评分, or a
number typed in) and 复核说明 (free text). Empty means not decided yet.

    read_decisions(path)            -> [Decision]   (calamine, columns found by their headers)
    carry_over(decisions, review)   -> ({(sheet, cell): (认定, 说明)}, [Finding DECISION_STALE])
    final_score(decision, scored)   -> Decimal      (what the decision makes the indicator's score)

A decision remembers the indicator as it was when decided (target, actual, self-score). When a
department resubmits and the workbook is reviewed again, each decision goes to the same
indicator -- matched by class + name, then by class + position -- and one whose indicator has
changed since is carried over but flagged DECISION_STALE for a second look.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .model import Finding, Indicator, Review, Scored, Value

VERDICT_HEADER = "复核认定"
NOTE_HEADER = "复核说明"
ADOPT_RULE = "采纳规则得分"
KEEP_SELF = "维持自评分"
STALE = "DECISION_STALE"
STALE_SEVERITY = "warning"
# A stale decision carries this line in its 复核说明 until the reviewer has looked again and
# deleted it: staleness survives further re-runs, and finalize can say which are still pending.
STALE_MARK = "【待重审】"

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


@dataclass(frozen=True)
class Decision:
    """One decided row of a reviewed workbook, with its indicator as it was when decided."""

    sheet: str
    cell: str  # the indicator's name cell, 自评表!C20
    category: str
    name: str
    position: int  # 0-based index within its class
    verdict: str  # the 复核认定 text as typed ("" when only a 说明 was written)
    note: str  # 复核说明
    target: str
    actual: str
    self_score: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.sheet, self.cell)

    @property
    def pending(self) -> bool:
        """Flagged DECISION_STALE on an earlier run and not looked at again since."""
        return STALE_MARK in self.note


def reviewer_note(note: str) -> str:
    """The 复核说明 without our 【待重审】 lines: what the reviewer wrote (the letter shows this)."""
    return "\n".join(line for line in (note or "").splitlines() if STALE_MARK not in line).strip()


def parse_verdict(text: str) -> tuple[str, Decimal | None]:
    """("rule"|"self"|"number"|"invalid"|"", number) for a 复核认定 cell's text.

    Full-width digits, spaces and a trailing 分 are accepted (``０.６０分``); anything else
    that is not one of the two choices is "invalid" (finalize reports it, never guesses).
    """
    t = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not t:
        return "", None
    if t == ADOPT_RULE:
        return "rule", None
    if t == KEEP_SELF:
        return "self", None
    t = t.removesuffix("分").replace(" ", "")
    if _NUMBER.fullmatch(t):
        try:
            return "number", Decimal(t)
        except InvalidOperation:
            pass
    return "invalid", None


def value_text(v: Value) -> str:
    """A cell's content for comparing before and after: the number normalised, else the text."""
    if v.number is not None:
        return format(v.number.normalize(), "f")
    return unicodedata.normalize("NFKC", v.text or "").strip()


def _snapshot(ind: Indicator) -> tuple[str, str, str]:
    return value_text(ind.target), value_text(ind.actual), value_text(ind.self_score)


# --------------------------------------------------------------------------- reading


def read_decisions(path: str | Path) -> list[Decision]:
    """Every decided row (复核认定 or 复核说明 filled) of every form in a reviewed workbook.

    The columns are found by their header labels on the indicator table's header row (any
    column: a reviewer may have moved or hidden columns). A workbook without them (not a
    reviewed workbook, or one from before decisions existed) has no decisions. Raises
    ReadError like ``reader.read_all``.
    """
    from .errors import ReadError
    from .layout import read_all_grids
    from .grids import load_grids

    path = Path(path)
    try:
        grids = load_grids(path)
        evaluations = read_all_grids(grids, path.name)
    except ReadError as err:
        raise err.with_file(path.name)
    by_name = {g.name: g for g in grids}
    out: list[Decision] = []
    for ev in evaluations:
        grid = by_name.get(ev.sheet)
        if grid is None:
            continue
        cols = _header_columns(grid, ev.header_row)
        if cols is None:
            continue
        vcol, ncol = cols
        for cat in ev.categories:
            for pos, ind in enumerate(cat.indicators):
                row = _row(ind.cell)
                if row is None:
                    continue
                verdict = _text(grid, row, vcol)
                note = _text(grid, row, ncol) if ncol else ""
                if verdict or note:
                    out.append(Decision(ev.sheet, ind.cell, cat.name, ind.name, pos, verdict, note, *_snapshot(ind)))
    return out


def _header_columns(grid, header_row: int) -> tuple[int, int | None] | None:
    """(复核认定 column, 复核说明 column or None), looked for on the header row first, then anywhere."""
    found: dict[str, list[tuple[int, int]]] = {VERDICT_HEADER: [], NOTE_HEADER: []}
    for (r, c), v in grid.cells.items():
        t = str(v).strip() if isinstance(v, str) else ""
        if t in found:
            found[t].append((r, c))
    for label in found:
        found[label].sort(key=lambda rc: (rc[0] != header_row, rc))
    if not found[VERDICT_HEADER]:
        return None
    row, vcol = found[VERDICT_HEADER][0]
    same_row = [c for r, c in found[NOTE_HEADER] if r == row]
    return vcol, (same_row[0] if same_row else None)


def _text(grid, row: int, col: int) -> str:
    from .grids import cell_text

    return cell_text(grid.value(row, col)).strip()


def _row(ref: str) -> int | None:
    m = re.search(r"(\d+)$", ref or "")
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- carrying over


def carry_over(old: list[Decision], review: Review) -> tuple[dict[tuple[str, str], tuple[str, str]], list[Finding]]:
    """The decisions for ``review`` (keyed (sheet, indicator name cell)) and the findings.

    Only the decisions of the same sheet are used; when none of them is on this sheet and the
    old workbook held one form only, that form's (the sheet was renamed). Matching: class +
    name (several indicators of one name pair up in order), then class + position for what is
    left (an indicator renamed). A decision whose indicator's target, actual or self-score
    changed is carried over, flagged DECISION_STALE at the indicator and marked in its 复核说明
    with a 【待重审】 line (kept, and flagged again, on later runs until the reviewer deletes it);
    one that matches no indicator is reported DECISION_STALE for the file (it cannot be placed,
    so it is dropped).
    """
    ev = review.evaluation
    mine = [d for d in old if d.sheet == ev.sheet]
    if not mine and len({d.sheet for d in old}) == 1:
        mine = list(old)
    slots: list[tuple[str, int, Indicator]] = [(c.name, pos, ind) for c in ev.categories
                                               for pos, ind in enumerate(c.indicators)]
    taken: set[int] = set()
    pairs: list[tuple[Decision, Indicator]] = []
    left: list[Decision] = []
    for d in mine:
        hit = next((i for i, (cat, _, ind) in enumerate(slots)
                    if i not in taken and cat == d.category and ind.name.strip() == d.name.strip()), None)
        if hit is None:
            left.append(d)
        else:
            taken.add(hit)
            pairs.append((d, slots[hit][2]))
    unplaced = []
    for d in left:
        hit = next((i for i, (cat, pos, _) in enumerate(slots)
                    if i not in taken and cat == d.category and pos == d.position), None)
        if hit is None:
            unplaced.append(d)
        else:
            taken.add(hit)
            pairs.append((d, slots[hit][2]))

    decisions: dict[tuple[str, str], tuple[str, str]] = {}
    findings: list[Finding] = []
    for d, ind in pairs:
        now = _snapshot(ind)
        was = (d.target, d.actual, d.self_score)
        changes = [f"{label}由“{a or '空'}”改为“{b or '空'}”"
                   for label, a, b in zip(("目标值", "实际完成值", "自评分"), was, now) if a != b]
        if ind.name.strip() != d.name.strip():
            changes.insert(0, f"指标名称由“{d.name}”改为“{ind.name}”")
        note = d.note
        shown = d.verdict or reviewer_note(d.note)
        if changes:
            findings.append(Finding(STALE, STALE_SEVERITY, ind.cell,
                                    f"“{ind.name}”的复核认定“{shown}”作出后，该指标已修改（{'；'.join(changes)}），"
                                    "已沿用原认定，请重新认定"))
            mark = f"{STALE_MARK}{'；'.join(changes)}。核对认定后请删除本行"
            note = "\n".join(x for x in (reviewer_note(d.note), mark) if x)
        elif d.pending:
            findings.append(Finding(STALE, STALE_SEVERITY, ind.cell,
                                    f"“{ind.name}”的复核认定“{shown}”仍待重审（复核说明中有{STALE_MARK}一行，核对后请删除）"))
        decisions[(ev.sheet, ind.cell)] = (d.verdict, note)
    for d in unplaced:
        findings.append(Finding(STALE, STALE_SEVERITY, "",
                                f"原复核认定（{d.category}“{d.name}”，原单元格{d.cell}：“{d.verdict or reviewer_note(d.note)}”）"
                                "在重新提交的表中找不到对应指标，未沿用"))
    return decisions, findings


# --------------------------------------------------------------------------- the final score


def final_score(verdict: str, scored: Scored) -> tuple[Decimal, str]:
    """The indicator's 最终得分 and how it was decided ("rule"|"self"|"number"|"undecided").

    采纳规则得分 -> the rule score; 维持自评分 -> the self-score (the rule score when the form
    has none); a number -> that number; undecided -> the rule score. A number outside 0..权重
    or a verdict that is neither raises ValueError with a Chinese message naming the cell.
    """
    kind, number = parse_verdict(verdict)
    ind = scored.indicator
    if kind in ("", "rule"):
        return scored.score, kind or "undecided"
    if kind == "self":
        own = ind.self_score.number
        return (own if own is not None else scored.score), "self"
    if kind == "number":
        weight = ind.weight.number
        if number < 0 or (weight is not None and number > weight):
            top = f"0～{format(weight.normalize(), 'f')}" if weight is not None else "不小于0"
            raise ValueError(f"{ind.cell}（“{ind.name}”）的复核认定“{verdict}”超出该项分值范围（{top}）")
        return number, "number"
    raise ValueError(f"{ind.cell}（“{ind.name}”）的复核认定“{verdict}”无法识别：应为“{ADOPT_RULE}”“{KEEP_SELF}”或一个分数")
