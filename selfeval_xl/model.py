"""The data model: what a filled 自评表 says, and what the review found.

Plain frozen dataclasses, no I/O. Every value read from a workbook keeps the cell it came
from (``自评表!G14``) so that findings, the reviewed workbook and the report can point at it.
Numbers are ``Decimal`` so that sums of money and scores are exact to the cent.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How serious a finding is. A StrEnum, so ``Severity.ERROR == "error"`` and JSON keeps the plain
    strings; ``.label`` is what every document prints, ``.rank`` orders findings errors first."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self)


SEVERITIES: tuple[Severity, ...] = (Severity.ERROR, Severity.WARNING, Severity.INFO)  # errors first
_SEVERITY_LABELS = {Severity.ERROR: "错误", Severity.WARNING: "警告", Severity.INFO: "提示"}
UNKNOWN_RANK = 9  # an unknown severity string sorts after every known one


def severity_label(value: object, default: str | None = None) -> str:
    """The Chinese label of a severity string; *default* (else the string itself) for an unknown one."""
    try:
        return Severity(value).label
    except ValueError:
        return str(value) if default is None else default


def severity_rank(value: object) -> int:
    """Sort key of a severity string: 0 error, 1 warning, 2 info, UNKNOWN_RANK otherwise."""
    try:
        return Severity(value).rank
    except ValueError:
        return UNKNOWN_RANK


# Stable keys of the two money blocks, with the label printed on the form.
BUDGET_FIELDS: dict[str, str] = {
    "initial": "年初预算数",
    "adjustment": "当年使用上年结余、结转及当年调整预算数",
    "allocated": "财政拨款数",
    "balance": "指标结余数",
}
FUNDS_FIELDS: dict[str, str] = {
    "allocated": "财政拨款数",
    "paid": "实际支付数",
    "balance": "资金结余、结转数",
    "carried": "结转数",
    "recovered": "财政收回数",
}
NARRATIVE_HEADINGS: tuple[str, ...] = (
    "项目概况",
    "项目总目标",
    "年度绩效目标",
    "项目实施情况",
    "项目管理成效",
    "项目管理存在的问题及原因",
    "进一步加强项目管理的建议",
)


# The indicator classes in form order; the key is what rule profiles refer to. Suzhou: 投入/产出/
# 结果/影响力目标; national (财预〔2020〕10号): 产出/效益/满意度指标.
CATEGORY_KINDS: dict[str, str] = {"投入": "input", "产出": "output", "结果": "outcome", "影响力": "impact",
                                  "效益": "benefit", "满意度": "satisfaction"}


@dataclass(frozen=True)
class ExecutionRow:
    """One row of the national form's 项目资金 block (年度资金总额, 当年财政拨款, 上年结转资金, 其他资金).

    Amounts are as printed, in ``BudgetExecution.unit``; 分值/执行率/得分 only on the total row.
    """

    label: str  # as printed
    initial: Value  # 年初预算数
    annual: Value  # 全年预算数
    executed: Value  # 全年执行数
    points: Value  # 分值
    rate: Value  # 执行率 (as printed: 98.5%, 0.985, or blank)
    score: Value  # 得分
    cell: str  # the label cell


@dataclass(frozen=True)
class BudgetExecution:
    """The national form's 项目资金（万元） block, keyed total/current/carryover/other."""

    rows: dict[str, ExecutionRow]
    unit: str = "万元"  # from the block label: 项目资金（万元） or 项目资金（元）
    cell: str = ""  # the block label cell

    @property
    def total(self) -> ExecutionRow | None:
        return self.rows.get("total")


@dataclass(frozen=True)
class Value:
    """One cell's content as read: the number (if it is one), the text, and where it is."""

    cell: str
    text: str = ""
    number: Decimal | None = None
    # the cell's number format gave the number a percent or a unit: ``text`` is what Excel
    # showed (97.2% for 0.972 under 0.0%, 12亩 under 0"亩") and is what the value means
    number_format: str = ""

    @property
    def blank(self) -> bool:
        return self.text == "" and self.number is None

    @property
    def reading(self) -> object:
        """What ``values.parse`` should read: a plain number as the number, else the text as shown."""
        return self.number if self.number is not None and not self.number_format else self.text


@dataclass(frozen=True)
class SubItem:
    name: str
    amount: Value
    cell: str


@dataclass(frozen=True)
class Indicator:
    category: str  # class name without the points, e.g. "产出目标"
    name: str
    target: Value
    weight: Value
    actual: Value
    self_score: Value
    cell: str  # the name cell
    subcategory: str = ""  # national form: 二级指标 (数量指标, 质量指标 …)
    reason: Value = Value("")  # national form: 偏差原因分析及改进措施

    @property
    def kind(self) -> str:
        """input/output/outcome/impact (Suzhou), output/benefit/satisfaction (national), from the class name."""
        return category_kind(self.category)


@dataclass(frozen=True)
class Category:
    name: str  # "投入目标"
    label: str  # as printed, "投入目标（26分）"
    points: Decimal | None
    cell: str
    indicators: tuple[Indicator, ...]

    @property
    def kind(self) -> str:
        return category_kind(self.name)


@dataclass(frozen=True)
class Narrative:
    heading: str
    text: str
    cell: str


@dataclass(frozen=True)
class SelfEvaluation:
    file: str
    sheet: str
    title: str
    project_name: Value
    year: Value
    department: Value
    budget: dict[str, Value]
    funds: dict[str, Value]
    composition_total: Value
    sub_items: tuple[SubItem, ...]
    categories: tuple[Category, ...]
    performance_label: str  # "项目绩效实现情况（80分）"
    performance_points: Decimal | None
    stated_total: Value
    narrative: dict[str, Narrative]
    instructions: str = ""  # the 填表说明 text as printed
    notices: tuple[Finding, ...] = ()  # content problems met while reading (e.g. formula without cached value)
    header_row: int = 0  # 1-based sheet row of the indicator table header, for writers
    last_column: int = 0  # 1-based column of 自评分 in the indicator table
    form: str = "suzhou"  # the layout that read it (layout.<form>.NAME): picks the profile under "auto"
    # National form (财预〔2020〕10号) only; empty for Suzhou:
    implementer: Value = Value("")  # 实施单位
    execution: BudgetExecution | None = None  # 项目资金 block with 预算执行率 分值/得分
    total_points: Value = Value("")  # 总分 row's 分值 (100)
    grade: Value = Value("")  # the printed 等级 beside 总分 (优/良/中/差), if any

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(i for c in self.categories for i in c.indicators)


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str  # "error" | "warning" | "info"
    cell: str  # "自评表!G14", or "" for the file as a whole
    message: str


@dataclass(frozen=True)
class Scored:
    """The rule score of one indicator and how it was obtained."""

    indicator: Indicator
    score: Decimal
    completion: Decimal | None  # percent, e.g. Decimal("103.45")
    basis: str  # Chinese sentence: 完成率103.4%，在100%～130%之间，得满分
    target: Any  # values.Measure
    actual: Any  # values.Measure
    flags: tuple[str, ...] = ()  # finding codes raised while scoring (VALUE_UNPARSED, UNIT_MISMATCH, ...)


@dataclass(frozen=True)
class CategoryTotal:
    name: str
    points: Decimal | None
    weight_sum: Decimal
    self: Decimal
    computed: Decimal


@dataclass(frozen=True)
class Review:
    """Everything the writers need: the evaluation, its scores, findings and totals."""

    evaluation: SelfEvaluation
    profile: str
    scored: tuple[Scored, ...]
    findings: tuple[Finding, ...]
    categories: tuple[CategoryTotal, ...]
    self_total: Decimal
    computed_total: Decimal
    # National form: the 预算执行率 part (included in self_total / computed_total) and the 等级.
    execution_self: Decimal | None = None  # the 得分 printed for 预算执行率
    execution_score: Decimal | None = None  # its rule score
    execution_basis: str = ""  # Chinese sentence, like Scored.basis
    grade: str | None = None  # 等级 of computed_total by the profile's grade bands (优/良/中/差), or None

    @property
    def stated_total(self) -> Decimal | None:
        return self.evaluation.stated_total.number

    def severity_counts(self) -> dict[str, int]:
        counts = {str(s): 0 for s in SEVERITIES}
        for f in self.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
        return counts


def category_kind(name: str) -> str:
    for word, kind in CATEGORY_KINDS.items():
        if name.startswith(word):
            return kind
    return "other"

