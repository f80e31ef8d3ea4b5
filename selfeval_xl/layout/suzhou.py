"""Read the Suzhou 自评表 by its printed labels, wherever the form sits on the sheet.

Nothing here uses a fixed coordinate: every block is found by its label (normalised:
full-width/half-width, spaces and bracket styles do not matter), every value by its position
relative to a label (to the right of it, or below a column header). Staff insert rows, move
the form, merge or unmerge label cells, and repeat or omit the class label; all of that must
read the same.
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from ..errors import ReadError
from ..model import (
    BUDGET_FIELDS,
    FUNDS_FIELDS,
    NARRATIVE_HEADINGS,
    Category,
    Finding,
    Indicator,
    Narrative,
    SelfEvaluation,
    SubItem,
    Value,
)
from ..grids import Grid, cell_text

NAME = "suzhou"
TITLE = "苏州市级财政支出项目绩效自评表"
DEFAULT_PROFILE = "suzhou-2020"

# Column headers of the indicator table: key -> accepted labels (normalised).
INDICATOR_COLUMNS: dict[str, tuple[str, ...]] = {
    "project": ("项目",),
    "category": ("类别", "一级指标"),
    "name": ("指标名称", "三级指标"),
    "target": ("目标值", "年度指标值", "指标值"),
    "weight": ("权重", "分值"),
    "actual": ("实际完成值",),
    "self_score": ("自评分", "得分"),
}
REQUIRED_COLUMNS = ("name", "target", "actual", "self_score")
BLOCK_LABELS = {
    "budget": ("市级预算执行情况", "预算执行情况"),
    "funds": ("市级财政资金使用情况", "财政资金使用情况"),
    "composition": ("项目资金构成",),
}
CATEGORY_LABEL = re.compile(r"^(投入|产出|结果|影响力|效益|满意度)(目标|指标)?(?:[(（]([\d.]+)分[)）])?$")
POINTS = re.compile(r"[(（]([\d.]+)分[)）]")
TOTAL_LABELS = ("合计", "总分", "总计")


def norm(text: str) -> str:
    """Label form of a cell: NFKC (full-width → half-width), no spaces, 'ASCII' brackets unified."""
    s = unicodedata.normalize("NFKC", text)
    s = re.sub(r"\s+", "", s)
    return s.replace("(", "（").replace(")", "）").replace(":", "：")


def to_number(value: object) -> Decimal | None:
    """A number typed as a number or as text (thousands separators, full-width, spaces).

    Magnitudes of 1e15 and more are not numbers here (Excel keeps 15 significant digits, and no
    amount, weight or score on the form comes near): 1e308 or a 400-digit string stays text,
    so the checks point at the cell instead of every later Decimal.quantize overflowing
    (InvalidOperation) and float() turning it into Infinity in the JSON.
    """
    number = _to_number(value)
    return number if number is None or abs(number) < _TOO_BIG else None


_TOO_BIG = Decimal("1e15")


def _to_number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            return None
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return Decimal(int(value))
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    s = unicodedata.normalize("NFKC", str(value))
    s = re.sub(r"[\s,，]", "", s).rstrip("。.")
    if s.startswith("="):
        s = s[1:]
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)", s):
        return None
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


class LabelGrid:
    """A Grid with label search: the cells a layout finds by their printed labels (used by every layout)."""

    def __init__(self, grid: Grid):
        self.g = grid
        self.labels: dict[tuple[int, int], str] = {}
        for (r, c), v in grid.cells.items():
            if isinstance(v, str):
                self.labels[(r, c)] = norm(v)

    def find(self, *labels: str, prefix: bool = False, rows: range | None = None) -> tuple[int, int] | None:
        """First cell (top to bottom, left to right) whose label matches."""
        wanted = tuple(norm(x) for x in labels)
        hits = [
            rc for rc, t in self.labels.items()
            if (rows is None or rc[0] in rows)
            and (t in wanted or (prefix and t.startswith(wanted)))
        ]
        return min(hits) if hits else None

    def value(self, row: int, col: int, file: str) -> Value:
        r, c = self.g.anchor(row, col)
        raw = self.g.cells.get((r, c), "")
        shown = self.g.shown.get((r, c))
        if shown is not None:  # a percent/unit number format: the text the user saw (numfmt)
            return Value(self.g.ref(r, c), shown[1], to_number(raw), number_format=shown[0])
        return Value(self.g.ref(r, c), cell_text(raw), to_number(raw))

    def right_of(self, rc: tuple[int, int], file: str) -> Value:
        """The first non-empty cell right of a label (skipping the label's own merge)."""
        r, c = rc
        _, _, _, c_end = self.g.span(r, c)
        for col in range(c_end + 1, c_end + 12):
            if self.g.text(r, col):
                if (r, col) in self.labels and self._is_label(self.labels[self.g.anchor(r, col)]):
                    break
                return self.value(r, col, file)
        return Value(self.g.ref(r, c_end + 1))

    def below(self, rc: tuple[int, int], stop_row: int, file: str) -> Value:
        """The first non-empty cell under a column header, before ``stop_row``."""
        r, c = rc
        r1, c1, r2, c2 = self.g.span(r, c)
        for row in range(r2 + 1, min(stop_row, r2 + 6)):
            for col in range(c1, c2 + 1):
                if self.g.text(row, col):
                    return self.value(row, col, file)
        return Value(self.g.ref(r2 + 1, c1))

    @staticmethod
    def _is_label(t: str) -> bool:
        known = {norm(x) for x in ("项目名称", "项目年份", "项目主管部门（单位）", *BUDGET_FIELDS.values(), *FUNDS_FIELDS.values())}
        return t in known


def reading_notices(grid: Grid, head_row: int, required: tuple[tuple[str, Value], ...]) -> list[Finding]:
    """What every layout reports while reading a form (shared by suzhou and national):
    MISSING_FIELD (warning) for each blank required header field besides 项目名称 - the form is
    still reviewed, but the report, 汇总 and mail routing need them - and FORMULA_NO_VALUE for
    each formula cell saved without its result."""
    out = [Finding("MISSING_FIELD", "warning", value.cell or grid.ref(head_row, 1),
                   f"表头“{label}”未填写，报告和邮件中将显示为“未填写”，请补填")
           for label, value in required if value.blank]
    out += [Finding("FORMULA_NO_VALUE", "error", grid.ref(r, c),
                    "单元格是公式但没有保存计算结果（文件可能由程序生成），已按空值处理，请在 Excel/WPS 中打开并保存后重新处理")
            for (r, c) in sorted(grid.no_cached_value)]
    return out


def detect(grid: Grid) -> bool:
    """Does this sheet hold the Suzhou form (its indicator table header)?

    A header with 二级指标 is the national form's (layout/national.py), never this one.
    """
    s = LabelGrid(grid)
    found = _indicator_header(s)
    return found is not None and not any(t == "二级指标" for (r, _), t in s.labels.items() if r == found[0])


def read_sheet(grids: list[Grid], grid: Grid, file: str) -> SelfEvaluation:
    """Read the form on ``grid`` (``detect(grid)`` is true); ``grids`` are all sheets, for the narrative."""
    s = LabelGrid(grid)
    head_row, cols = _indicator_header(s)
    sheet = s.g.name
    notices: list[Finding] = []

    def field(*labels: str, required: str) -> Value:
        rc = s.find(*labels)
        if rc is None:
            raise ReadError("MISSING_FIELD", f"工作表“{sheet}”中找不到“{required}”", file)
        return s.right_of(rc, file)

    name = field("项目名称", required="项目名称")
    year = field("项目年份", "年度", required="项目年份")
    dept = field("项目主管部门（单位）", "项目主管部门", "主管部门", "项目主管部门（单位）名称", required="项目主管部门(单位)")
    if name.blank:  # the project's identity (report title, mail, 汇总): not reviewable without it
        raise ReadError("MISSING_FIELD", "“项目名称”未填写", file, name.cell)

    blocks = {k: s.find(*v, prefix=True) for k, v in BLOCK_LABELS.items()}
    starts = sorted([rc[0] for rc in blocks.values() if rc] + [head_row])

    def block_rows(key: str) -> range:
        rc = blocks[key]
        if rc is None:
            return range(0)
        nxt = min((r for r in starts if r > rc[0]), default=head_row)
        return range(rc[0], nxt)

    budget = _money_block(s, block_rows("budget"), BUDGET_FIELDS, file)
    funds = _money_block(s, block_rows("funds"), FUNDS_FIELDS, file)
    comp_total, items = _composition(s, block_rows("composition"), file)
    categories, perf_label, total_row = _indicators(s, head_row, cols, file)
    stated = _stated_total(s, total_row, cols, file)
    instructions = ""
    rc = s.find("填表说明", prefix=True)
    if rc is not None:
        instructions = s.g.text(*rc)
    narrative = _narrative(grids, s, head_row, file)
    title = next((s.g.text(r, c) for (r, c), t in sorted(s.labels.items()) if "自评表" in t or "自评价报告" in t), "")

    notices += reading_notices(s.g, head_row, (("项目年份", year), ("项目主管部门(单位)", dept),
                                                (BUDGET_FIELDS["initial"], budget["initial"])))
    perf_points = _points(perf_label)
    return SelfEvaluation(
        file=file, sheet=sheet, title=title, project_name=name, year=year, department=dept,
        budget=budget, funds=funds, composition_total=comp_total, sub_items=tuple(items),
        categories=tuple(categories), performance_label=perf_label, performance_points=perf_points,
        stated_total=stated, narrative=narrative, instructions=instructions, notices=tuple(notices),
        header_row=head_row, last_column=max(cols.values()), form=NAME,
    )


def _indicator_header(s: LabelGrid) -> tuple[int, dict[str, int]] | None:
    wanted = {norm(l): key for key, labels in INDICATOR_COLUMNS.items() for l in labels}
    rows: dict[int, dict[str, int]] = {}
    for (r, c), t in s.labels.items():
        key = wanted.get(t)
        if key and key not in rows.setdefault(r, {}):
            rows[r][key] = c
    for r in sorted(rows):
        cols = rows[r]
        if all(k in cols for k in REQUIRED_COLUMNS):
            return r, cols
    return None


def _money_block(s: LabelGrid, rows: range, fields: dict[str, str], file: str) -> dict[str, Value]:
    out = {}
    for key, label in fields.items():
        rc = s.find(label, rows=rows) if rows else None
        if rc is None:
            out[key] = Value("")
            continue
        out[key] = s.below(rc, rows.stop, file)
    return out


def _composition(s: LabelGrid, rows: range, file: str) -> tuple[Value, list[SubItem]]:
    name_h = s.find("子项目名称", rows=rows) if rows else None
    amount_h = s.find("实际金额（万元）", "实际金额", "金额（万元）", "金额", rows=rows) if rows else None
    if name_h is None or amount_h is None:
        return Value(""), []
    total = Value("")
    items: list[SubItem] = []
    name_col = name_h[1]
    amount_col = amount_h[1]
    _, _, r2, _ = s.g.span(*name_h)
    for r in range(r2 + 1, rows.stop):
        name = s.g.text(r, name_col)
        amount = s.value(r, amount_col, file)
        if not name and amount.blank:
            continue
        if norm(name) in TOTAL_LABELS:
            total = amount
        else:
            items.append(SubItem(name, amount, s.g.ref(r, name_col)))
    return total, items


def _points(label: str) -> Decimal | None:
    m = POINTS.search(norm(label)) if label else None
    return Decimal(m.group(1)) if m else None


def _indicators(s: LabelGrid, head_row: int, cols: dict[str, int], file: str):
    g = s.g
    name_col = cols["name"]
    label_cols = sorted({cols.get("project", 0), cols.get("category", 0)} - {0})
    blocks: list[tuple[str, str, list[Indicator]]] = []  # (name, label, indicators)
    perf_label = ""
    total_row = None
    current: tuple[str, str] | None = None
    cat_cells: dict[str, str] = {}
    _, _, head_end, _ = g.span(head_row, name_col)
    for r in range(head_end + 1, g.max_row + 1):
        row_labels = [norm(g.text(r, c)) for c in range(1, cols["self_score"])]
        if any(t in TOTAL_LABELS for t in row_labels):
            total_row = r
            break
        if any(t.startswith("填表说明") for t in row_labels):
            break
        for c in label_cols + [name_col]:
            t = norm(g.text(r, c))
            if t.startswith("项目绩效实现情况") or t.startswith("绩效指标"):
                perf_label = g.text(r, c)
            m = _category_label(t, in_name_column=c == name_col)
            if m:
                cname = m.group(1) + (m.group(2) or "目标")
                if current is None or current[0] != cname:
                    current = (cname, g.text(r, c))
                    blocks.append((cname, current[1], []))
                    cat_cells[cname] = g.ref(r, c)
        name = g.text(r, name_col)
        vals = {k: s.value(r, cols[k], file) for k in ("target", "weight", "actual", "self_score") if k in cols}
        if not name or _category_label(norm(name), in_name_column=True):
            continue
        if current is None:
            raise ReadError("NOT_SELF_EVALUATION_FORM", f"指标“{name}”之前没有类别（投入/产出/结果/影响力目标）", file, g.ref(r, name_col))
        weight = vals.get("weight", Value(""))
        blocks[-1][2].append(Indicator(current[0], name, vals["target"], weight, vals["actual"], vals["self_score"], g.ref(r, name_col)))
    categories = []
    for cname, label, inds in blocks:
        if not inds:
            continue
        prior = next((c for c in categories if c.name == cname), None)
        if prior:  # the same class label met twice (e.g. repeated after a blank line): merge
            categories[categories.index(prior)] = Category(cname, prior.label, prior.points, prior.cell, prior.indicators + tuple(inds))
        else:
            categories.append(Category(cname, label, _points(label), cat_cells[cname], tuple(inds)))
    if not categories:
        raise ReadError("NOT_SELF_EVALUATION_FORM", "指标表中没有任何指标", file, g.ref(head_row, name_col))
    return categories, perf_label, total_row


def _category_label(t: str, in_name_column: bool) -> re.Match | None:
    """A class label. In the name column only a full label (产出目标, 满意度（10分）) counts:
    a bare word like 满意度 there is an indicator's name."""
    m = CATEGORY_LABEL.match(t)
    if m and in_name_column and not (m.group(2) or m.group(3)):
        return None
    return m


def _stated_total(s: LabelGrid, total_row: int | None, cols: dict[str, int], file: str) -> Value:
    if total_row is None:
        return Value("")
    v = s.value(total_row, cols["self_score"], file)
    if v.blank:  # the total typed somewhere else on the row
        for c in range(cols["self_score"] + 1, cols["self_score"] + 4):
            alt = s.value(total_row, c, file)
            if alt.number is not None:
                return alt
    return v


def _narrative(grids: list[Grid], form: LabelGrid, head_row: int, file: str) -> dict[str, Narrative]:
    """The seven narrative sections: on the form's own sheet (below the table) or a sheet paired
    with it (``layout.paired_sheets``), heading then text to its right or below."""
    from . import paired_sheets

    out: dict[str, Narrative] = {}
    wanted = {norm(h): h for h in NARRATIVE_HEADINGS}
    for g in paired_sheets(grids, form.g):
        s = form if g is form.g else LabelGrid(g)
        for (r, c), t in sorted(s.labels.items()):
            h = wanted.get(t)
            if h is None or h in out or (g is form.g and r <= head_row):
                continue
            _, _, r2, c2 = g.span(r, c)
            text, cell = "", g.ref(r, c2 + 1)
            for col in range(c2 + 1, c2 + 6):
                if g.text(r, col):
                    text, cell = g.text(r, col), g.ref(r, col)
                    break
            else:
                nxt = g.text(r2 + 1, c)
                if nxt and norm(nxt) not in wanted:
                    text, cell = nxt, g.ref(r2 + 1, c)
            out[h] = Narrative(h, text, cell)
    return out
