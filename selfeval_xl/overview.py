"""汇总.xlsx for the bureau: the whole batch built with pandas, written with openpyxl.

Sheets
- 项目: one row per project (one per form, so a file with two forms gives two rows), sorted
  by |差异| then by the number of errors, with links to its reviewed workbook and report.
- 按部门: per 主管部门 the projects, Σ 预算/执行 (万元, where the form gives them), mean 自评分
  and 复核得分, the projects with errors and the most common problem; a 合计 row.
- 按问题: finding type (Chinese label) × 主管部门, counts of findings, with totals.
- 复核发现: every finding, errors first, linked to its cell in the reviewed workbook.
- 文件: every input with its status, the failed and skipped ones first (the old 汇总 sheet's
  per-file information).

pandas is imported in the functions, never at module level, and this module is used only by
the batch parent (``batch.write_outputs``) and the command line: workers never import pandas
(``tests/test_overview.py`` checks it). Rows come from ``tables.records`` (the one adapter from
run.json). Every string goes through ``cells.put`` (text stays text, ``= + - @`` get Excel's
quote prefix). The workbook is a ``Book``: openpyxl (write-only) writes each sheet's settings,
styles and header; the rows stream as text (``sheetstream``) into temporary files and are
spliced in at the save - 2,000 projects (~250,000 cells) in ~2.5 CPU s instead of ~7, and the
rows never sit in memory as cell objects. Written atomically.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from .cells import FORMULA_START, put
from .fsutil import atomic_path
from .model import severity_label, severity_rank
from .sheetstream import Cell, StreamedRows, splice
from .tables import FILE_COLUMNS, FINDING_COLUMNS, PROJECT_COLUMNS, Records, records, to_frame

# The sheets of 汇总.xlsx, in order (batch.own_summary recognises a renamed copy by them).
SHEETS = ("项目", "按部门", "按问题", "复核发现", "文件")

STATUS_TEXT = {"ok": "成功", "failed": "失败", "skipped": "跳过"}
STATUS_ORDER = {"failed": 0, "skipped": 1, "ok": 2}
PROBLEM_SEVERITIES = ("error", "warning")  # "problems" (最常见问题); 提示 are hints, not problems
HEAD_FILL, FAIL_FILL, DIFF_FILL = "DDEBF7", "FCE4D6", "FFF2CC"


def frames_of(rec: Records):
    """(projects, findings, files) DataFrames of ``rec``."""
    return (to_frame(rec.projects, PROJECT_COLUMNS), to_frame(rec.findings, FINDING_COLUMNS),
            to_frame(rec.files, FILE_COLUMNS))


# ---- the tables ---------------------------------------------------------------------------

def project_table(projects):
    """项目 rows in display order: |差异| descending (missing last), then errors, then name."""
    df = projects.copy()
    df["_abs"] = df["difference"].abs().fillna(-1)
    return df.sort_values(["_abs", "errors", "department", "project", "input"],
                          ascending=[False, False, True, True, True], kind="stable").drop(columns="_abs")


def department_table(projects, findings):
    """按部门: one row per 主管部门 plus 合计 (pandas groupby)."""
    import pandas as pd

    df = projects.assign(department=projects["department"].where(projects["department"] != "", "（未填写）"))
    g = df.groupby("department", sort=True)
    out = pd.DataFrame({
        "projects": g.size(),
        "budget": g["budget"].sum(min_count=1),
        "paid": g["paid"].sum(min_count=1),
        "self_mean": g["self_score"].mean(),
        "review_mean": g["review_score"].mean(),
        "with_errors": g["errors"].apply(lambda s: int((s > 0).sum())),
        "errors": g["errors"].sum(),
        "warnings": g["warnings"].sum(),
    })
    out["rate"] = (out["paid"] / out["budget"] * 100).where(out["budget"] > 0)
    fd = findings[findings["severity"].isin(PROBLEM_SEVERITIES)].copy()
    fd["department"] = fd["department"].where(fd["department"] != "", "（未填写）")
    out["top"] = ""
    if len(fd):
        counts = fd.groupby(["department", "label"]).size().rename("n").reset_index()
        counts = counts.sort_values(["department", "n", "label"], ascending=[True, False, True], kind="stable")
        top = counts.drop_duplicates("department").set_index("department")
        out["top"] = [f"{top.at[d, 'label']}（{int(top.at[d, 'n'])}条）" if d in top.index else "" for d in out.index]
    out = out.sort_values(["with_errors", "errors", "review_mean"], ascending=[False, False, True], kind="stable")
    total = {"projects": int(out["projects"].sum()), "budget": df["budget"].sum(min_count=1),
             "paid": df["paid"].sum(min_count=1), "self_mean": df["self_score"].mean(),
             "review_mean": df["review_score"].mean(), "with_errors": int((df["errors"] > 0).sum()),
             "errors": int(df["errors"].sum()), "warnings": int(df["warnings"].sum()), "top": ""}
    total["rate"] = total["paid"] / total["budget"] * 100 if pd.notna(total["budget"]) and total["budget"] else None
    if len(fd):
        c = fd.groupby("label").size().sort_values(ascending=False, kind="stable")
        c = c[c == c.iloc[0]].sort_index()
        total["top"] = f"{c.index[0]}（{int(c.iloc[0])}条）"
    return out, total


def problem_table(findings, departments: list[str]):
    """按问题: (级别, 问题) × 主管部门 counts with 涉及项目数 and 合计 (pandas pivot_table)."""
    import pandas as pd

    if not len(findings):
        return pd.DataFrame()
    fd = findings.assign(department=findings["department"].where(findings["department"] != "", "（未填写）"))
    pivot = fd.pivot_table(index=["severity", "label"], columns="department", values="code", aggfunc="size", fill_value=0)
    pivot = pivot.reindex(columns=[d for d in departments if d in pivot.columns]
                          + [d for d in pivot.columns if d not in departments], fill_value=0)
    pivot["合计"] = pivot.sum(axis=1)
    fd["_key"] = fd["input"] + "\x00" + fd["project_index"].astype(str)
    pivot.insert(0, "涉及项目数", fd.groupby(["severity", "label"])["_key"].nunique().reindex(pivot.index))
    pivot = pivot.reset_index()
    pivot["_rank"] = pivot["severity"].map(severity_rank)
    return pivot.sort_values(["_rank", "合计", "label"], ascending=[True, False, True], kind="stable").drop(columns="_rank")


# ---- writing ------------------------------------------------------------------------------

def _link(path: str) -> str:
    """A relative hyperlink target (``#`` and ``%`` would end or escape the path)."""
    return quote(path, safe="/:()（）-_.~!$&'*+,;=@ ") if ("#" in path or "%" in path) else path


class Book:
    """A write-only openpyxl workbook of TableSheets (汇总.xlsx, 对比.xlsx): openpyxl writes each
    sheet's settings, styles and header row; the rows stream as text (``sheetstream``) and are
    spliced into the package when it is saved - so the per-cell cost is a string, not an object."""

    def __init__(self):
        from openpyxl import Workbook

        self.wb = Workbook(write_only=True)
        self.sheets: list[TableSheet] = []

    def sheet(self, title: str, header: list[str], widths: list[float], **options) -> "TableSheet":
        ws = TableSheet(self.wb, title, header, widths, **options)
        self.sheets.append(ws)
        return ws

    def save(self, target: Path) -> Path:
        """Written atomically (the splice happens on the temporary file)."""
        target = Path(target)
        try:
            with atomic_path(target) as tmp:
                self.wb.save(tmp)
                splice(tmp, {ws.ws.title: ws.stream for ws in self.sheets})
        finally:
            for ws in self.sheets:
                ws.stream.close()
        return target


class TableSheet:
    """A write-only sheet with a styled header, widths, filter, frozen panes and A4 print setup;
    its rows after the header stream (``Book``)."""

    def __init__(self, wb, title: str, header: list[str], widths: list[float], freeze: str = "A2",
                 landscape: bool = True, comments: dict[int, str] | None = None):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.comments import Comment
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        self.WriteOnlyCell = WriteOnlyCell
        self.ws = ws = wb.create_sheet(title)
        self.ncols = len(header)
        for i, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = freeze
        ws.print_title_rows = "1:1"
        ws.page_setup.paperSize = 9  # A4
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_options.gridLines = True
        self._styles: dict[tuple, int] = {}
        self.link_font = Font(color="0563C1", underline="single")
        bold, fill = Font(bold=True), PatternFill("solid", fgColor=HEAD_FILL)
        center = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cells = []
        for i, name in enumerate(header, 1):  # the header through openpyxl: it carries the comments
            c = WriteOnlyCell(ws)
            put(c, name)
            c.font, c.fill, c.alignment = bold, fill, center
            if comments and i in comments:
                c.comment = Comment(comments[i], "selfeval-xl")
            cells.append(c)
        ws.append(cells)
        self.letter = get_column_letter(self.ncols)
        self.stream = StreamedRows(self.ncols)

    @property
    def rows(self) -> int:
        return self.stream.rows

    def cell(self, value, *, link: str | None = None, location: str | None = None, font=None, fill=None,
             alignment=None, number_format: str | None = None) -> Cell | None:
        """One cell for ``append``: its look registered once as an openpyxl style (a quote
        prefix for ``= + - @`` text, as ``cells.put`` gives it), links in the link font."""
        value = _v(value)
        quote = isinstance(value, str) and value.startswith(FORMULA_START)
        if link:
            link, font = _link(link), font or self.link_font
        if (value is None or value == "") and not (link or font or fill or alignment or number_format):
            return None
        style = 0
        if font or fill or alignment or number_format or quote:
            key = (id(font), id(fill), id(alignment), number_format, quote)
            style = self._styles.get(key)
            if style is None:
                c = self.WriteOnlyCell(self.ws)
                c.quotePrefix = quote
                for attr, look in (("font", font), ("fill", fill), ("alignment", alignment)):
                    if look is not None:
                        setattr(c, attr, look)
                if number_format:
                    c.number_format = number_format
                style = self._styles[key] = c.style_id
        return Cell(value, style, link, location)

    def append(self, cells: list[Cell | None]) -> None:
        self.stream.append(cells)

    def close(self) -> None:
        self.ws.auto_filter.ref = f"A1:{self.letter}{max(self.rows, 1)}"


def _tuples(df):
    """``df.itertuples(index=False)`` from whole columns (``tolist``): iterating the rows of
    string columns one by one through pandas cost more than writing the cells."""
    from collections import namedtuple

    row = namedtuple("Row", list(df.columns), rename=True)
    return map(row._make, zip(*(df[c].tolist() for c in df.columns)))


def _v(x):
    """A DataFrame value for a cell: NA → None, numpy scalars → Python."""
    t = type(x)
    if t is str or t is int or x is None:  # the bulk: no pandas lookups
        return x
    if t is float:
        return None if x != x else x
    try:
        import pandas as pd

        if x is pd.NA or (isinstance(x, float) and x != x):
            return None
    except ImportError:  # pragma: no cover
        pass
    return x.item() if hasattr(x, "item") else x


def _round(x, places: int = 2):
    x = _v(x)
    return None if x is None else round(float(x), places)


def write_summary(target: Path, entries: list[dict], outbox: Path | None = None) -> Path:
    """``汇总.xlsx`` from run.json's file entries (``batch.write_outputs``' call site).

    ``outbox`` (default: the folder of ``target``) is where the kept review JSON and the
    outputs the links point to are; links are relative to ``target``'s folder.
    """
    target = Path(target)
    rec = records({"files": entries}, Path(outbox) if outbox is not None else target.parent)
    return write_workbook(target, rec)


def write_workbook(target: Path, rec: Records) -> Path:
    from openpyxl.styles import Alignment, PatternFill

    projects, findings, files = frames_of(rec)
    wrap = Alignment(wrap_text=True, vertical="top")
    fail_fill, diff_fill = PatternFill("solid", fgColor=FAIL_FILL), PatternFill("solid", fgColor=DIFF_FILL)
    book = Book()

    # 项目
    has_final = bool(projects["final"].notna().any())
    has_grade = bool((projects["grade"] != "").any())
    header = ["主管部门", "项目", "年度", "表式", "预算执行率（%）", "自评分", "复核得分"]
    widths = [24, 36, 7, 20, 10, 8, 9]
    if has_final:
        header.append("最终得分")
        widths.append(9)
    header += ["差异"] + (["等级"] if has_grade else []) + ["错误", "警告", "提示", "重复报送", "文件", "复核工作簿", "自评价报告"]
    widths += [8] + ([6] if has_grade else []) + [6, 6, 6, 24, 30, 14, 14]
    diff_col = header.index("差异") + 1
    ws = book.sheet("项目", header, widths, freeze="C2", comments={
        5: "有预算执行数的表式按 执行数÷预算数 计算；苏州市级自评表按 实际支付数÷财政拨款数 计算。",
        diff_col: "差异 = 复核得分（已定稿的为最终得分）− 自评分（表内合计，未填时为各项自评分之和）；负数表示自评高于复核。"})
    multi = set(files.loc[files["projects"] > 1, "input"])  # files with several forms: name the sheet
    for p in _tuples(project_table(projects)):
        diff = _round(p.difference)
        row = [ws.cell(p.department), ws.cell(p.project), ws.cell(_v(p.year)), ws.cell(p.form_title),
               ws.cell(_round(p.execution_rate), number_format="0.00"), ws.cell(_round(p.self_score)),
               ws.cell(_round(p.computed))]
        if has_final:
            row.append(ws.cell(_round(p.final)))
        row.append(ws.cell(diff, fill=diff_fill if diff not in (None, 0) else None))
        if has_grade:
            row.append(ws.cell(p.grade))
        row += [ws.cell(_v(p.errors)), ws.cell(_v(p.warnings)), ws.cell(_v(p.infos)),
                ws.cell(("重复：" + p.duplicate_of) if p.duplicate else "", fill=fail_fill if p.duplicate else None),
                ws.cell(p.input + (f"（{p.sheet}）" if p.input in multi else "")),
                ws.cell("打开" if p.workbook else "", link=p.workbook or None),
                ws.cell("打开" if p.report else "", link=p.report or None)]
        ws.append(row)
    ws.close()

    # 按部门
    dept, total = department_table(projects, findings)
    ws = book.sheet("按部门", ["主管部门", "项目数", "预算数合计（万元）", "执行数合计（万元）", "执行率（%）", "平均自评分",
                            "平均复核得分", "有错误的项目数", "错误", "警告", "最常见问题"],
                [26, 7, 14, 14, 9, 9, 10, 9, 6, 6, 40], freeze="B2")
    money = "#,##0.00"
    for d, r in list(dept.iterrows()) + [("合计", total)]:
        ws.append([ws.cell(d), ws.cell(_v(r["projects"])), ws.cell(_round(r["budget"]), number_format=money),
                   ws.cell(_round(r["paid"]), number_format=money), ws.cell(_round(r["rate"]), number_format="0.00"),
                   ws.cell(_round(r["self_mean"])), ws.cell(_round(r["review_mean"])), ws.cell(_v(r["with_errors"])),
                   ws.cell(_v(r["errors"])), ws.cell(_v(r["warnings"])), ws.cell(r["top"])])
    ws.close()

    # 按问题
    pivot = problem_table(findings, list(dept.index))
    depts = [c for c in pivot.columns if c not in ("severity", "label", "涉及项目数", "合计")]
    ws = book.sheet("按问题", ["级别", "问题", "涉及项目数", *depts, "合计"], [6, 36, 9, *[12] * len(depts), 7], freeze="C2",
                comments={3: "有该问题的项目个数；各部门列和合计列为发现条数。"})
    for _, r in pivot.iterrows():
        ws.append([ws.cell(severity_label(r["severity"])), ws.cell(r["label"]),
                   ws.cell(_v(r["涉及项目数"])), *[ws.cell(_v(r[d])) for d in depts], ws.cell(_v(r["合计"]))])
    if len(pivot):
        ws.append([ws.cell("合计"), ws.cell(""), ws.cell(""), *[ws.cell(_v(pivot[d].sum())) for d in depts],
                   ws.cell(_v(pivot["合计"].sum()))])
    ws.close()

    # 复核发现
    ws = book.sheet("复核发现", ["级别", "主管部门", "项目", "问题", "指标", "单元格", "说明", "代码", "文件"],
                [6, 20, 28, 26, 24, 14, 60, 20, 28], freeze="D2")
    for f in _tuples(findings):
        sheet, _, ref = f.cell.rpartition("!")
        location = f"'{sheet}'!{ref}" if sheet and ref else None
        ws.append([ws.cell(f.severity_text), ws.cell(f.department), ws.cell(f.project), ws.cell(f.label),
                   ws.cell(f.indicator), ws.cell(f.cell or "（整个文件）", link=f.workbook or None, location=location),
                   ws.cell(f.message, alignment=wrap), ws.cell(f.code), ws.cell(f.input)])
    ws.close()

    # 文件
    ws = book.sheet("文件", ["文件", "状态", "项目数", "错误代码", "说明"], [40, 6, 7, 22, 80], landscape=True)
    order = files.assign(_r=files["status"].map(STATUS_ORDER).fillna(9)).sort_values(["_r", "input"], kind="stable")
    for f in _tuples(order):
        fill = fail_fill if f.status == "failed" else None
        note = f.message or ("文件未变化，沿用上次结果" if f.unchanged else "")
        ws.append([ws.cell(f.input, fill=fill), ws.cell(STATUS_TEXT.get(f.status, f.status), fill=fill),
                   ws.cell(_v(f.projects)), ws.cell(f.error_code), ws.cell(note, alignment=wrap)])
    ws.close()

    return book.save(target)
