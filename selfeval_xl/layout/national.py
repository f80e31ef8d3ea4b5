"""Read the national 项目支出绩效自评表 (the annex of 财预〔2020〕10号) by its printed labels.

Most departments in China fill this form, or a provincial copy of it, so it arrives in many
shapes. Nothing here uses a fixed coordinate: the 项目资金 block, the 年度总体目标 and the 绩效指标
table are found by their labels, every value by its column header. What varies between the
published tables and is read the same here:

- 年度指标值 in one column, or split over 指标性质 | 指标值 | 度量单位 (joined into ``≥735人次``);
- any column order (分值 before 年度指标值) and other headings: 全年实际值, 完成值, 权重,
  未完成原因分析, 全年预算数（A）, 全年执行数（B）, 执行率（B/A）;
- 一级 labels with their points (产出指标（50分）) or split by a space or a line break
  (``经济效益 指标``); 一级/二级 cells merged over their rows or typed once (carried down);
- amounts in 万元 or 元 (from the 项目资金（元） label), thousands separators;
- template placeholder rows (指标1：, ……, /, empty) that are not indicators;
- 其中：本年财政拨款 for 当年财政拨款, labels with a trailing colon, 执行率 left blank;
- 总分 with or without the grade (优/良/中/差) beside it, a 注 or 其他需要说明事项 below;
- the form moved on the sheet, rows inserted, a second form further down (only the first is read).

Label matching uses ``suzhou.norm`` (full/half width, spaces, bracket styles do not matter).
"""
from __future__ import annotations

import re
from decimal import Decimal

from ..errors import ReadError
from ..model import (
    BUDGET_FIELDS,
    FUNDS_FIELDS,
    BudgetExecution,
    Category,
    ExecutionRow,
    Indicator,
    Narrative,
    SelfEvaluation,
    Value,
)
from ..grids import Grid
from ..values import OP_SYMBOLS
from .suzhou import LabelGrid, norm, reading_notices, to_number

NAME = "national"
TITLE = "项目支出绩效自评表（财预〔2020〕10号）"
DEFAULT_PROFILE = "national-2020"

# Narrative keys this layout fills (SelfEvaluation.narrative). "年度绩效目标" is the heading the
# GOAL_MISMATCH check reads, so the 预期目标 text goes there.
GOAL_HEADING = "年度绩效目标"
GOAL_ACTUAL_HEADING = "年度总体目标实际完成情况"
TRAILER_HEADINGS = ("其他需要说明事项", "评价结论", "存在问题", "改进措施")

# Indicator table headers: key -> accepted labels, compared after ``_key`` (norm, marks such as
# （A）（B）（B/A） and units dropped).
COLUMNS: dict[str, tuple[str, ...]] = {
    "level1": ("一级指标",),
    "level2": ("二级指标",),
    "name": ("三级指标", "三级指标名称"),
    "target": ("年度指标值", "指标值", "年度目标值", "目标值", "预期指标值", "年度绩效指标值"),
    "actual": ("实际完成值", "全年实际值", "全年实际完成值", "实际值", "完成值", "实际完成情况"),
    "weight": ("分值", "权重", "指标分值", "指标权重"),
    "score": ("得分", "自评得分", "自评分"),
}
REASON_PREFIXES = ("偏差原因", "未完成原因", "原因分析", "偏差分析")
# 年度指标值 split over three columns (Yunnan and Sichuan publish it so).
SPLIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "op": ("指标性质", "指标方向", "运算符号", "符号"),
    "value": ("指标值",),
    "unit": ("度量单位", "计量单位", "单位"),
}
REQUIRED = ("name", "target", "actual", "score")

# 项目资金 block: column headers and row labels.
EXECUTION_COLUMNS: dict[str, tuple[str, ...]] = {
    "initial": ("年初预算数", "年初预算"),
    "annual": ("全年预算数", "全年预算", "调整后预算数", "调整预算数"),
    "executed": ("全年执行数", "全年执行", "预算执行数", "实际执行数", "执行数"),
    "points": ("分值", "权重"),
    "rate": ("执行率", "预算执行率"),
    "score": ("得分",),
}

TOTAL_LABELS = ("总分", "合计", "总计", "自评总分", "总得分")
# A row whose first own cell starts with one of these ends the indicator table.
END_PREFIXES = ("其他需要说明事项", "其他说明事项", "评价结论", "存在问题", "改进措施", "填表说明", "说明：", "备注",
                "项目负责人", "财务负责人", "填报人", "填表人", "单位负责人", "联系电话", "项目名称")
NOTE = re.compile(r"^注\d*[：:.、]|^注$")
# Names that are template placeholders, not indicators (when the row carries no values).
PLACEHOLDER_NAMES = ("", "……", "…", "...", "/", "-", "—", "——", "无", "／")
BLANK_VALUES = ("/", "-", "—", "——", "／", "--", "无")
NAME_PREFIX = re.compile(r"^指标\s*\d+\s*[：:.、．]\s*")
POINTS = re.compile(r"[（(]\s*([\d.]+)\s*分\s*[)）]")
MARKS = re.compile(r"（[A-Za-z/÷×*＊%]+）")
GRADE = re.compile(r"^(?:自评|评价|绩效)?(?:等级|评级)?[：:]?(优秀|良好|合格|不合格|优|良|中|差)$")
GRADE_LABELS = ("等级", "自评等级", "评价等级", "绩效等级", "评级")
YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
UNNAMED = "（未填写三级指标）"


def _key(text: str) -> str:
    """Header form of a label: norm, without （A）/（B/A） marks, units and a trailing colon."""
    return _marks_off(norm(text))


def _marks_off(t: str) -> str:
    """``_key`` of a label that is already normalised (``LabelGrid.labels``)."""
    t = MARKS.sub("", t)
    t = t.replace("（万元）", "").replace("（元）", "").replace("（%）", "")
    return t.rstrip("：")


# Cheap test on the raw cells before any label is normalised: a national header has 一级/二级/三级指标.
_LEVEL = re.compile(r"[一二三]\s*级\s*指\s*标")


class NationalLabelGrid(LabelGrid):
    """``LabelGrid`` with labels compared without a trailing colon (``项目名称：``, ``年度资金总额:``) and
    that knows the national labels (so an empty value is not read as the next label)."""

    def __init__(self, grid: Grid):
        super().__init__(grid)
        self.labels = {rc: t.rstrip("：") or t for rc, t in self.labels.items()}

    @staticmethod
    def _is_label(t: str) -> bool:
        return t in _FIELD_LABELS


_FIELD_LABELS = {norm(x) for x in ("项目名称", "主管部门", "主管部门（单位）", "主管部门及代码", "项目主管部门", "实施单位",
                                   "实施单位（盖章）", "实施单位及代码",
                                   "项目单位", "年度", "项目年度", "评价年度", "自评得分", "财政审核评分")}


def detect(grid: Grid) -> bool:
    """Does this sheet hold the national form (an indicator header with 一级/二级指标 and 三级指标)?"""
    if not any(isinstance(v, str) and _LEVEL.search(v) for v in grid.cells.values()):
        return False
    return _header(NationalLabelGrid(grid)) is not None


def read_sheet(grids: list[Grid], grid: Grid, file: str) -> SelfEvaluation:
    """Read the form on ``grid`` (``detect(grid)`` is true)."""
    s = NationalLabelGrid(grid)
    head_row, head_end, cols, split = _header(s)
    sheet = grid.name
    above = range(1, head_row)

    def field(*labels: str) -> Value:
        rc = s.find(*labels, rows=above)
        return s.right_of(rc, file) if rc else Value("")

    name = field("项目名称")
    if s.find("项目名称", rows=above) is None:
        raise ReadError("MISSING_FIELD", f"工作表“{sheet}”中找不到“项目名称”", file)
    if name.blank:
        raise ReadError("MISSING_FIELD", "“项目名称”未填写", file, name.cell)
    dept = field("主管部门", "主管部门（单位）", "主管部门及代码", "项目主管部门", "项目主管部门（单位）")
    implementer = field("实施单位", "实施单位（盖章）", "实施单位及代码", "项目实施单位", "项目单位")
    title, year = _title_and_year(s, head_row, file)

    goal_rc = s.find("年度总体目标", "项目基本情况", "项目年度目标", prefix=True, rows=above)
    execution = _execution(s, head_row, goal_rc[0] if goal_rc else None, file)
    narrative = _goals(s, goal_rc, head_row, file)
    categories, end_row = _indicators(s, head_row, head_end, cols, split, file)
    total_row, trailer = _trailer(s, end_row, cols, file)
    narrative.update(trailer["narrative"])
    if total_row is not None:
        total_points = s.value(total_row, cols["weight"], file) if "weight" in cols else Value("")
        stated = _stated_total(s, total_row, cols, file)
        grade = _grade(s, total_row, file)
    else:
        total_points, stated, grade = Value(""), Value(""), Value("")
    if grade.blank:
        grade = _grade_label(s, end_row, file)

    perf = s.find("绩效指标", prefix=True, rows=range(1, head_end + 1))
    perf_label = s.g.text(*perf) if perf else ""
    m = POINTS.search(norm(perf_label))
    # the national form's required header fields besides 项目名称 (年度 may come from the title)
    notices = reading_notices(grid, head_row, (("年度", year), ("主管部门", dept)))
    return SelfEvaluation(
        file=file, sheet=sheet, title=title, project_name=name, year=year, department=dept,
        budget={k: Value("") for k in BUDGET_FIELDS}, funds={k: Value("") for k in FUNDS_FIELDS},
        composition_total=Value(""), sub_items=(), categories=tuple(categories),
        performance_label=perf_label, performance_points=Decimal(m.group(1)) if m else None,
        stated_total=stated, narrative=narrative, instructions=trailer["note"], notices=tuple(notices),
        header_row=head_row, last_column=max(cols.values()), form=NAME,
        implementer=implementer, execution=execution, total_points=total_points, grade=grade,
    )


# --------------------------------------------------------------------------- header


def _header(s: LabelGrid) -> tuple[int, int, dict[str, int], dict[str, int]] | None:
    """(header row, last header row, column per key, split target columns) of the indicator table."""
    wanted = {_key(label): key for key, labels in COLUMNS.items() for label in labels}
    rows: dict[int, dict[str, int]] = {}
    for (r, c), t in sorted(s.labels.items()):
        k = _marks_off(t)
        key = wanted.get(k) or ("reason" if k.startswith(REASON_PREFIXES) else None)
        if key and key not in rows.setdefault(r, {}):
            rows[r][key] = c
    for r in sorted(rows):
        cols = rows[r]
        if "name" not in cols or not ("level1" in cols or "level2" in cols):
            continue
        end = max(s.g.span(r, c)[2] for c in cols.values())
        split, split_row = _split(s, r, end, cols)
        if split:
            cols = {**cols, "target": split["value"]}
            end = max(end, max(s.g.span(split_row, c)[2] for c in split.values()))
        if all(k in cols for k in REQUIRED):
            return r, end, cols, split
    return None


def _split(s: LabelGrid, row: int, end: int, cols: dict[str, int]) -> tuple[dict[str, int], int]:
    """指标性质 | 指标值 | 度量单位 columns on the header row or the row just under it, and that row."""
    taken = {cols.get(k) for k in ("name", "actual", "weight", "score")}
    wanted = {_key(x): key for key, labels in SPLIT_COLUMNS.items() for x in labels}
    for r in range(row, end + 2):
        found: dict[str, int] = {}
        for c in range(1, s.g.max_col + 1):
            t = s.labels.get((r, c))
            key = wanted.get(_marks_off(t)) if t else None
            if key and key not in found and c not in taken:
                found[key] = c
        if "value" in found and ("op" in found or "unit" in found):
            return found, r
    return {}, row


# --------------------------------------------------------------------------- heading part


def _title_and_year(s: LabelGrid, head_row: int, file: str) -> tuple[str, Value]:
    cells = [(rc, t) for rc, t in sorted(s.labels.items()) if rc[0] < head_row]
    title = next((s.g.text(*rc) for rc, t in cells if "自评表" in t), "")
    # （2022年度） on its own line first, then a year in the title, then a 年度 field.
    for pick in (lambda t: re.fullmatch(r"（?((?:19|20)\d{2})年度?）?", t), lambda t: "自评表" in t and YEAR.search(t)):
        for rc, t in cells:
            m = pick(t)
            if m:
                y = YEAR.search(t) or m
                return title, Value(s.g.ref(*rc), y.group(1), Decimal(y.group(1)))
    rc = s.find("年度", "项目年度", "评价年度", "项目年份", rows=range(1, head_row))
    if rc:
        v = s.right_of(rc, file)
        m = YEAR.search(v.text + "年") if v.text else None
        if m:
            return title, Value(v.cell, m.group(1), Decimal(m.group(1)))
        return title, v
    return title, Value("")


def _execution(s: LabelGrid, stop_row: int, goal_row: int | None, file: str) -> BudgetExecution | None:
    """The 项目资金 block above ``stop_row``: its column header row (全年预算数 and 全年执行数) and the
    rows below it, up to the 年度总体目标 block when that follows it."""
    wanted = {_key(label): key for key, labels in EXECUTION_COLUMNS.items() for label in labels}
    by_row: dict[int, dict[str, int]] = {}
    for (r, c), t in sorted(s.labels.items()):
        key = wanted.get(_marks_off(t)) if r < stop_row else None
        if key and key not in by_row.setdefault(r, {}):
            by_row[r][key] = c
    head, cols = next(((r, f) for r, f in sorted(by_row.items()) if "annual" in f and "executed" in f), (None, {}))
    if head is None:
        return None
    label_rc = s.find("项目资金", "预算执行情况", prefix=True, rows=range(max(1, head - 3), stop_row))
    unit_texts = [s.g.text(*label_rc), s.g.text(label_rc[0] + 1, label_rc[1])] if label_rc else []
    unit_texts += [s.g.text(head, c) for c in range(1, max(cols.values()) + 1)]  # 年度预算数（万元）, 全年预算数（元）
    joined = norm("".join(unit_texts))
    unit = "万元" if "万元" in joined else ("元" if "（元）" in joined else "万元")
    first_amount = min(cols.values())
    head_end = max(s.g.span(head, c)[2] for c in cols.values())
    if goal_row is not None and goal_row > head:
        stop_row = goal_row
    rows: dict[str, ExecutionRow] = {}
    for r in range(head_end + 1, stop_row):
        label_cell = None
        for c in range(first_amount - 1, 0, -1):
            anchor = s.g.anchor(r, c)
            if label_rc and anchor == s.g.anchor(*label_rc):
                continue
            # the row's own label, or one merged down from above (年度资金总额 printed on the header
            # row and merged over the row of its amounts)
            if s.g.text(r, c) and (anchor[0] == r or _execution_row(s.g.text(*anchor)) not in rows):
                label_cell = anchor
                break
        if label_cell is None:
            continue
        printed = s.g.text(*label_cell)
        key = _execution_row(printed)
        if key is None or key in rows:
            continue
        vals = {k: s.value(r, cols[k], file) if k in cols else Value("") for k in EXECUTION_COLUMNS}
        rows[key] = ExecutionRow(printed, vals["initial"], vals["annual"], vals["executed"], vals["points"],
                                 vals["rate"], vals["score"], s.g.ref(*label_cell))
    cell = s.g.ref(*label_rc) if label_rc else s.g.ref(head, first_amount)
    return BudgetExecution(rows, unit, cell)


def _execution_row(printed: str) -> str | None:
    t = norm(printed).rstrip("：")
    t = re.sub(r"^其中[：:]?", "", t)
    if t.startswith(("年度资金总额", "资金总额", "总额", "合计", "年度资金")):
        return "total"
    if "财政拨款" in t or "财政资金" in t:
        return "current"
    if "结转" in t:
        return "carryover"
    if t.startswith("其他"):
        return "other"
    return None


def _goals(s: LabelGrid, goal_rc, head_row: int, file: str) -> dict[str, Narrative]:
    """年度总体目标: the 预期目标 and 实际完成情况 texts (below their labels, or right of them)."""
    out: dict[str, Narrative] = {}
    if goal_rc is None:
        return out
    rows = range(goal_rc[0], head_row)
    for heading, labels in ((GOAL_HEADING, ("预期目标", "年初设定目标", "项目年度目标", "年度目标", "绩效目标")),
                            (GOAL_ACTUAL_HEADING, ("实际完成情况", "年度总体目标完成情况", "年度目标完成情况", "目标完成情况",
                                                   "完成情况"))):
        rc = s.find(*labels, rows=rows)
        if rc is None:
            continue
        v = s.below(rc, head_row, file)
        if v.blank:
            v = s.right_of(rc, file)
            if norm(v.text) in {norm(x) for x in ("预期目标", "实际完成情况")}:
                v = Value(v.cell)
        out[heading] = Narrative(heading, v.text, v.cell)
    return out


# --------------------------------------------------------------------------- indicators


def _own_cells(g: Grid, r: int, last: int) -> list[tuple[int, str]]:
    """(column, normalised text) of the cells up to column ``last`` that start on row ``r`` (not
    carried by a merge from above)."""
    out, seen = [], set()
    for c in range(1, last + 1):
        a = g.anchor(r, c)
        if a in seen or a[0] != r:
            continue
        seen.add(a)
        t = g.text(r, c)
        if t:
            out.append((a[1], norm(t)))
    return out


def _class_name(printed: str) -> str:
    """``产出指标（50分）`` / ``产出 指标`` / ``产出指标：`` -> ``产出指标``."""
    t = POINTS.sub("", norm(printed)).rstrip("：")
    for word in ("产出", "效益", "满意度", "成本"):
        if t.startswith(word):
            return word + "指标"
    return t


LEVEL2_CLASSES = (("产出指标", ("数量", "质量", "时效", "成本")), ("效益指标", ("经济", "社会", "生态", "可持续")),
                  ("满意度指标", ("服务对象", "满意度")))


def _class_of_level2(level2: str) -> str:
    """The 一级 class of a 二级 name (数量指标 -> 产出指标), for tables printed without the 一级 column."""
    return next((cls for cls, words in LEVEL2_CLASSES if level2.startswith(words)), level2)


def _points(printed: str) -> Decimal | None:
    m = POINTS.search(norm(printed))
    return Decimal(m.group(1)) if m else None


def _blank(v: Value) -> bool:
    return v.blank or (v.number is None and norm(v.text) in BLANK_VALUES)


def read_target(s: LabelGrid, r: int, cols: dict[str, int], split: dict[str, int], file: str) -> Value:
    """The 年度指标值; when split, 指标性质 + 指标值 + 度量单位 joined (``≧`` | ``735`` | ``人次`` -> ``≥735人次``)."""
    if not split:
        return s.value(r, cols["target"], file)
    val = s.value(r, split["value"], file)
    op = s.g.text(r, split["op"]) if "op" in split and s.g.anchor(r, split["op"]) != s.g.anchor(r, split["value"]) else ""
    unit = s.g.text(r, split["unit"]) if "unit" in split and s.g.anchor(r, split["unit"]) != s.g.anchor(r, split["value"]) else ""
    op_n = norm(op)
    op = OP_SYMBOLS.get(op_n, op.strip()) if op_n not in BLANK_VALUES else ""
    unit = "" if norm(unit) in BLANK_VALUES else unit.strip()
    if _blank(val) and not op and not unit:
        return val
    text = f"{op}{val.text}{unit}"
    return Value(val.cell, text, to_number(text))


def _indicators(s: LabelGrid, head_row: int, head_end: int, cols: dict[str, int], split: dict[str, int], file: str):
    """The indicator rows under the header, until 总分 / a 注 / 其他需要说明事项 (returned as end row)."""
    g = s.g
    c1, c2, cn = cols.get("level1"), cols.get("level2"), cols["name"]
    width = max(cols.values()) + 2
    header_words = {_key(x) for labels in COLUMNS.values() for x in labels}
    blocks: list[list] = []  # [name, label, cell, points, [indicators]]
    level2 = ""
    end_row = g.max_row + 1
    for r in range(head_end + 1, g.max_row + 1):
        own = _own_cells(g, r, width)
        if _is_end(own, cols):
            end_row = r
            break
        if c1:
            printed = g.text(r, c1)
            if printed and _key(printed) not in header_words:
                level1 = _class_name(printed)
                if not blocks or blocks[-1][0] != level1:
                    level2 = ""
                    blocks.append([level1, printed, g.ref(r, c1), _points(printed), []])
        if c2:
            printed2 = g.text(r, c2)
            if printed2 and _key(printed2) not in header_words:
                level2 = POINTS.sub("", norm(printed2)).rstrip("：")
                if not c1:  # no 一级 column: the class follows from the 二级 name
                    cname = _class_of_level2(level2)
                    if not blocks or blocks[-1][0] != cname:
                        blocks.append([cname, cname, g.ref(r, c2), None, []])
        raw_name = g.text(r, cn)
        if _key(raw_name) in header_words:  # the header repeated (printed over two pages)
            continue
        vals = {k: s.value(r, cols[k], file) if k in cols else Value("") for k in ("actual", "weight", "score", "reason")}
        target = read_target(s, r, cols, split, file)
        name = NAME_PREFIX.sub("", raw_name).strip()
        if _blank(target) and _blank(vals["actual"]) and _blank(vals["weight"]) and _blank(vals["score"]):
            continue  # a placeholder row left from the template (指标1：, ……, /, empty)
        if norm(name) in PLACEHOLDER_NAMES:
            name = UNNAMED
        if not blocks and level2:  # 一级 left empty on the first rows: the class follows from the 二级 name
            cname = _class_of_level2(level2)
            blocks.append([cname, cname, g.ref(r, c2), None, []])
        if not blocks:
            raise ReadError("NOT_SELF_EVALUATION_FORM", f"指标“{name}”之前没有一级指标（产出/效益/满意度指标）", file,
                            g.ref(r, cn))
        ind = Indicator(blocks[-1][0], name, target, vals["weight"], vals["actual"], vals["score"], g.ref(r, cn),
                        subcategory=level2, reason=vals["reason"])
        blocks[-1][4].append(ind)
    categories: list[Category] = []
    for cname, label, cell, points, inds in blocks:
        if not inds:
            continue
        prior = next((c for c in categories if c.name == cname), None)
        if prior:  # the same class met again (label repeated after a page break): one class
            categories[categories.index(prior)] = Category(cname, prior.label, prior.points if prior.points is not None
                                                           else points, prior.cell, prior.indicators + tuple(inds))
        else:
            categories.append(Category(cname, label, points, cell, tuple(inds)))
    if not categories:
        raise ReadError("NOT_SELF_EVALUATION_FORM", "绩效指标表中没有任何指标", file, g.ref(head_row, cn))
    return categories, end_row


def _is_end(own: list[tuple[int, str]], cols: dict[str, int]) -> bool:
    if not own:
        return False
    limit = min(c for k, c in cols.items() if k in ("weight", "score", "target", "actual"))
    if any(t in TOTAL_LABELS for c, t in own if c < limit):
        return True
    c, first = own[0]
    if c >= cols["name"]:  # an indicator named 存在问题整改率 or 说明书印制数量 is not the end
        return False
    return first.startswith(END_PREFIXES) or bool(NOTE.match(first)) or ("自评表" in first and len(own) <= 2)


def _trailer(s: LabelGrid, end_row: int, cols: dict[str, int], file: str):
    """After the indicators: the 总分 row, the 注, and 其他需要说明事项 / 评价结论 / 存在问题 / 改进措施."""
    g = s.g
    total_row = None
    narrative: dict[str, Narrative] = {}
    note = ""
    limit = min(c for k, c in cols.items() if k in ("weight", "score", "target", "actual"))
    for r in range(end_row, min(g.max_row, end_row + 15) + 1):
        own = _own_cells(g, r, max(cols.values()) + 2)
        if not own:
            continue
        c, first = own[0]
        if total_row is None and any(t in TOTAL_LABELS for cc, t in own if cc < limit):
            total_row = r
            continue
        if ("自评表" in first and len(own) <= 2) or first == norm("项目名称"):
            break  # the next form on the same sheet
        heading = next((h for h in TRAILER_HEADINGS if first.startswith(h)), None)
        if heading and heading not in narrative:
            v = s.right_of((r, c), file)
            text = v.text
            if not text and len(first) > len(heading) + 1:  # "存在问题：无" in one cell
                text = g.text(r, c)[len(heading):].lstrip("：: ")
                v = Value(g.ref(r, c), text)
            narrative[heading] = Narrative(heading, text, v.cell)
        elif NOTE.match(first) and not note:
            note = g.text(r, c)
    return total_row, {"narrative": narrative, "note": note}


def _stated_total(s: LabelGrid, total_row: int, cols: dict[str, int], file: str) -> Value:
    v = s.value(total_row, cols["score"], file)
    if v.blank:
        for c in range(cols["score"] + 1, cols["score"] + 4):
            alt = s.value(total_row, c, file)
            if alt.number is not None:
                return alt
    return v


def _grade(s: LabelGrid, row: int, file: str) -> Value:
    """The grade printed on the 总分 row: a cell 优/良/中/差 (or 等级：优, or 等级 | 优)."""
    for c, t in _own_cells(s.g, row, s.g.max_col):
        m = GRADE.match(t)
        if m:
            return Value(s.g.ref(row, c), m.group(1))
        if t.rstrip("：") in GRADE_LABELS:
            v = s.right_of((row, c), file)
            m = GRADE.match(norm(v.text))
            if m:
                return Value(v.cell, m.group(1))
    return Value("")


def _grade_label(s: LabelGrid, start: int, file: str) -> Value:
    """A 自评等级 label elsewhere below the table, with the grade right of it."""
    rc = s.find(*GRADE_LABELS, rows=range(start, start + 16))  # near the table, not on a next form
    if rc is None:
        return Value("")
    v = s.right_of(rc, file)
    m = GRADE.match(norm(v.text))
    return Value(v.cell, m.group(1)) if m else Value("")


__all__ = ["NAME", "TITLE", "DEFAULT_PROFILE", "detect", "read_sheet"]
