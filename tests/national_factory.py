"""Build a national 项目支出绩效自评表 ``SelfEvaluation`` from a compact table, without a workbook.

The pure core (national_rules, checks_national, review) is tested on these: every value sits at
a fixed, realistic cell of sheet 自评表 so a test can assert the exact cell of a finding.

Layout used for the cells (1-based rows):
  项目资金 block: header row 5, rows 6–9 年度资金总额 / 当年财政拨款 / 上年结转资金 / 其他资金;
    columns B label, C 年初预算数, D 全年预算数, E 全年执行数, F 分值, G 执行率, H 得分.
  绩效指标 table: header row 11, indicators from row 12: A 一级, B 二级, C 三级, D 年度指标值,
    E 实际完成值, F 分值, G 得分, H 偏差原因分析及改进措施; then the 总分 row: A label, F 分值,
    G 得分 (stated total), H 等级.
"""
from __future__ import annotations

from decimal import Decimal

from selfeval_xl.layout.suzhou import to_number
from selfeval_xl.model import BudgetExecution, Category, ExecutionRow, Indicator, SelfEvaluation, Value

SHEET = "自评表"
FIRST_ROW = 12
BLOCK = {"total": (6, "年度资金总额"), "current": (7, "其中：当年财政拨款"), "carryover": (8, "上年结转资金"),
         "other": (9, "其他资金")}

# A clean national evaluation: every number consistent with national-2020 (total 96.85, 优).
CLEAN = [
    # 一级, 二级, 三级, 年度指标值, 实际完成值, 分值, 得分, 偏差原因
    ("产出指标", "数量指标", "培训人数", "≥100人", "120人", 20, 20, ""),
    ("产出指标", "质量指标", "培训合格率", "≥95%", "98%", 15, 15, ""),
    ("产出指标", "时效指标", "培训完成时间", "2022年12月底前", "2022年11月", 10, 10, ""),
    ("产出指标", "成本指标", "人均培训成本", "≤1000元", "950元", 5, 5, ""),
    ("效益指标", "社会效益指标", "基层服务能力", "有效提升", "达成年度指标", 30, 27, "部分课程因疫情改为线上，效果略低于预期；下年增加实操课时"),
    ("满意度指标", "服务对象满意度指标", "参训人员满意度", "≥90%", "95%", 10, 10, ""),
]
CLEAN_BUDGET = {
    "total": (100, 100, Decimal("98.5"), 10, "98.5%", Decimal("9.85")),
    "current": (80, 80, Decimal("78.5")),
    "carryover": (20, 20, 20),
    "other": (None, None, None),
}


def ref(col: str, row: int) -> str:
    return f"{SHEET}!{col}{row}"


def val(cell: str, x) -> Value:
    """A cell as a reader would give it: numbers keep their text, text keeps its number if any."""
    if x is None or x == "":
        return Value(cell)
    if isinstance(x, Value):
        return Value(cell, x.text, x.number)
    if isinstance(x, (int, float, Decimal)) and not isinstance(x, bool):
        d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
        return Value(cell, format(d, "f"), d)
    return Value(cell, str(x), to_number(x))


def execution(budget: dict | None, unit: str = "万元") -> BudgetExecution | None:
    if budget is None:
        return None
    rows = {}
    for key, spec in budget.items():
        r, label = BLOCK[key]
        spec = tuple(spec) + (None,) * (6 - len(spec))
        initial, annual, executed, points, rate, score = spec
        dash = "—" if key != "total" else None
        rows[key] = ExecutionRow(label, val(ref("C", r), initial), val(ref("D", r), annual), val(ref("E", r), executed),
                                 val(ref("F", r), points if key == "total" else dash),
                                 val(ref("G", r), rate if key == "total" else dash),
                                 val(ref("H", r), score if key == "total" else dash), ref("B", r))
    return BudgetExecution(rows, unit, ref("A", 5))


def national(indicators=CLEAN, budget=CLEAN_BUDGET, *, stated="auto", total_points=100, grade="", unit="万元",
             class_points: dict | None = None, file: str = "national.xlsx") -> SelfEvaluation:
    """A national SelfEvaluation. ``stated="auto"`` writes the consistent 总分 (预算执行率得分 + Σ 得分);
    ``class_points`` puts points into the 一级 labels (产出指标（50分）)."""
    cats: list[tuple[str, list[Indicator], int]] = []
    for k, spec in enumerate(indicators):
        row = FIRST_ROW + k
        one, two, name, target, actual, weight, score, reason = tuple(spec) + ("",) * (8 - len(spec))
        ind = Indicator(one, name, val(ref("D", row), target), val(ref("F", row), weight), val(ref("E", row), actual),
                        val(ref("G", row), score), ref("C", row), subcategory=two, reason=val(ref("H", row), reason))
        if not cats or cats[-1][0] != one:
            cats.append((one, [], row))
        cats[-1][1].append(ind)
    categories = []
    for one, inds, row in cats:
        pts = (class_points or {}).get(one)
        label = f"{one}（{pts}分）" if pts is not None else one
        categories.append(Category(one, label, None if pts is None else Decimal(pts), ref("A", row), tuple(inds)))
    ex = execution(budget, unit)
    total_row = FIRST_ROW + len(indicators)
    if stated == "auto":
        own = sum((i.self_score.number or 0 for _, inds, _ in cats for i in inds), Decimal(0))
        if ex is not None and ex.total is not None:
            own += ex.total.score.number or 0
        stated = own
    return SelfEvaluation(
        file=file, sheet=SHEET, title="项目支出绩效自评表", project_name=Value(ref("B", 3), "基层干部培训项目"),
        year=Value(ref("A", 2), "2022", Decimal(2022)), department=Value(ref("B", 4), "某某县人力资源和社会保障局"),
        budget={}, funds={}, composition_total=Value(""), sub_items=(), categories=tuple(categories),
        performance_label="", performance_points=None, stated_total=val(ref("G", total_row), stated),
        narrative={}, header_row=11, last_column=8, form="national",
        implementer=Value(ref("F", 4), "某某县职业技能培训中心"), execution=ex,
        total_points=val(ref("F", total_row), total_points), grade=val(ref("H", total_row), grade),
    )


def with_row(indicators, index: int, **changes):
    """``indicators`` with row ``index`` changed: keys one two name target actual weight score reason."""
    keys = ("one", "two", "name", "target", "actual", "weight", "score", "reason")
    rows = [list(r) + [""] * (8 - len(r)) for r in indicators]
    for k, v in changes.items():
        rows[index][keys.index(k)] = v
    return [tuple(r) for r in rows]


def cell_of(row_index: int, column: str) -> str:
    """The cell of indicator ``row_index``'s column (D target, E actual, F 分值, G 得分, H 偏差原因)."""
    return ref(column, FIRST_ROW + row_index)
