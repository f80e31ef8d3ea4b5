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
quote prefix). The workbook is written in openpyxl's write-only mode, the rows of the big
sheets (项目, 复核发现, 文件) streamed into it by ``sheetstream`` (``TableSheet.streamed`` +
``save``), so time and memory stay small for thousands of projects, and atomically.
"""
from __future__ import annotations

import io
from copy import copy
from pathlib import Path
from urllib.parse import quote

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from .cells import FORMULA_START, MAX_TEXT, put
from .fsutil import atomic_path
from .model import severity_label, severity_rank
from .sheetstream import Cell, SheetRows, register, splice, style_cell
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


class TableSheet:
    """A write-only sheet with a styled header, widths, filter, frozen panes and A4 print setup."""

    def __init__(self, wb, title: str, header: list[str], widths: list[float], freeze: str = "A2",
                 landscape: bool = True, comments: dict[int, str] | None = None):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.comments import Comment
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        self.WriteOnlyCell, self.Font, self.PatternFill, self.Alignment = WriteOnlyCell, Font, PatternFill, Alignment
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
        self.rows = 0
        self._styles: dict[tuple, object] = {}
        self.link_font = Font(color="0563C1", underline="single")
        bold, fill = Font(bold=True), PatternFill("solid", fgColor=HEAD_FILL)
        center = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cells = []
        for i, name in enumerate(header, 1):
            c = self.cell(name, font=bold, fill=fill, alignment=center)
            if comments and i in comments:
                c.comment = Comment(comments[i], "selfeval-xl")
            cells.append(c)
        self.append(cells)
        self.letter = get_column_letter(self.ncols)

    def cell(self, value, *, link: str | None = None, location: str | None = None, font=None, fill=None,
             alignment=None, number_format: str | None = None):
        value = _v(value)
        if not (link or font or fill or alignment or number_format):
            if value is None or value == "":
                return None
            if _plain(value):  # openpyxl's shared cell stores it exactly as put() would
                return value
        c = self.WriteOnlyCell(self.ws)
        if value is not None and value != "":  # NaN, None and "" stay blank
            put(c, value)
        if link:
            c.hyperlink = _link(link)
            if location:
                c.hyperlink.location = location
            font = font or self.link_font
        if font is None and fill is None and alignment is None and not number_format:
            return c
        # Setting a style hashes it into the workbook's style tables (slow for 100,000 cells):
        # do it once per combination and copy the resulting style indices afterwards.
        key = (id(font), id(fill), id(alignment), number_format, bool(c._style is not None and c._style.quotePrefix))
        style = self._styles.get(key)
        if style is None:
            style_cell(c, font=font, fill=fill, alignment=alignment, number_format=number_format)
            self._styles[key] = copy(c._style)
        else:
            c._style = copy(style)
        return c

    def append(self, cells: list) -> None:
        self.ws.append(cells)
        self.rows += 1

    def close(self) -> None:
        self.ws.auto_filter.ref = f"A1:{self.letter}{max(self.rows, 1)}"

    def streamed(self, rows, count: int) -> SheetRows:
        """Close the sheet with its header only; its ``count`` data ``rows`` (sheetstream cells)
        are written by ``save`` (the fast path for sheets of thousands of rows)."""
        self.rows += count
        self.close()
        return SheetRows(self.ws.title, self.ncols, rows, register(self.ws))


def save(wb, target: Path, streamed: list[SheetRows]) -> Path:
    """Save ``wb`` atomically to ``target`` with the ``streamed`` sheets' rows spliced in."""
    package = io.BytesIO()  # the small sheets and the big ones' headers: a few hundred KB
    wb.save(package)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        splice(package, tmp, streamed)
    return target


def _plain(value) -> bool:
    """True when a bare value written by openpyxl ends up as ``cells.put`` would write it: a
    number, or text that no spreadsheet reads as a formula or an error value and that needs no
    cleaning (the fast path for the bulk of 汇总.xlsx's cells)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (isinstance(value, str) and not value.startswith(FORMULA_START + ("#",)) and len(value) <= MAX_TEXT
            and not ILLEGAL_CHARACTERS_RE.search(value))


def _v(x):
    """A DataFrame value for a cell: NA → None, numpy scalars → Python."""
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
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, PatternFill

    projects, findings, files = frames_of(rec)
    wrap = Alignment(wrap_text=True, vertical="top")
    fail_fill, diff_fill = PatternFill("solid", fgColor=FAIL_FILL), PatternFill("solid", fgColor=DIFF_FILL)
    wb = Workbook(write_only=True)

    # 项目: header by openpyxl, rows streamed (sheetstream) in |差异| order
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
    ws = TableSheet(wb, "项目", header, widths, freeze="C2", comments={
        5: "有预算执行数的表式按 执行数÷预算数 计算；苏州市级自评表按 实际支付数÷财政拨款数 计算。",
        diff_col: "差异 = 复核得分（已定稿的为最终得分）− 自评分（表内合计，未填时为各项自评分之和）；负数表示自评高于复核。"})
    looks = {"rate": register(ws.ws, number_format="0.00"), "diff": register(ws.ws, fill=diff_fill),
             "fail": register(ws.ws, fill=fail_fill), "link": register(ws.ws, font=ws.link_font),
             "wrap": register(ws.ws, alignment=wrap)}
    multi = set(files.loc[files["projects"] > 1, "input"])  # files with several forms: name the sheet
    order = project_table(projects).index.tolist()  # positions in rec.projects (to_frame's RangeIndex)
    big = [ws.streamed(_project_rows(rec.projects, order, multi, has_final, has_grade, looks), len(rec.projects))]

    # 按部门
    dept, total = department_table(projects, findings)
    ws = TableSheet(wb, "按部门", ["主管部门", "项目数", "预算数合计（万元）", "执行数合计（万元）", "执行率（%）", "平均自评分",
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
    ws = TableSheet(wb, "按问题", ["级别", "问题", "涉及项目数", *depts, "合计"], [6, 36, 9, *[12] * len(depts), 7], freeze="C2",
                comments={3: "有该问题的项目个数；各部门列和合计列为发现条数。"})
    for _, r in pivot.iterrows():
        ws.append([ws.cell(severity_label(r["severity"])), ws.cell(r["label"]),
                   ws.cell(_v(r["涉及项目数"])), *[ws.cell(_v(r[d])) for d in depts], ws.cell(_v(r["合计"]))])
    if len(pivot):
        ws.append([ws.cell("合计"), ws.cell(""), ws.cell(""), *[ws.cell(_v(pivot[d].sum())) for d in depts],
                   ws.cell(_v(pivot["合计"].sum()))])
    ws.close()

    # 复核发现: header by openpyxl, rows streamed from the findings' columns (already errors first)
    ws = TableSheet(wb, "复核发现", ["级别", "主管部门", "项目", "问题", "指标", "单元格", "说明", "代码", "文件"],
                [6, 20, 28, 26, 24, 14, 60, 20, 28], freeze="D2")
    big.append(ws.streamed(_finding_rows(rec.findings, looks), len(rec.findings)))

    # 文件
    ws = TableSheet(wb, "文件", ["文件", "状态", "项目数", "错误代码", "说明"], [40, 6, 7, 22, 80], landscape=True)
    order = files.assign(_r=files["status"].map(STATUS_ORDER).fillna(9)).sort_values(["_r", "input"], kind="stable")
    big.append(ws.streamed(_file_rows(rec.files, order.index.tolist(), looks), len(rec.files)))

    return save(wb, target, big)


def _project_rows(projects: list[dict], order: list[int], multi: set, has_final: bool, has_grade: bool, looks: dict):
    """The 项目 rows (sheetstream cells) of ``projects`` in ``order``."""
    rate, diff_look, dup, link = looks["rate"], looks["diff"], looks["fail"], looks["link"]
    for i in order:
        p = projects[i]
        diff = _round(p["difference"])
        row = [p["department"], p["project"], p["year"], p["form_title"], Cell(_round(p["execution_rate"]), rate),
               _round(p["self_score"]), _round(p["computed"])]
        if has_final:
            row.append(_round(p["final"]))
        row.append(Cell(diff, diff_look) if diff not in (None, 0) else diff)
        if has_grade:
            row.append(p["grade"])
        row += [p["errors"], p["warnings"], p["infos"],
                Cell("重复：" + p["duplicate_of"], dup) if p["duplicate"] else None,
                p["input"] + (f"（{p['sheet']}）" if p["input"] in multi else ""),
                Cell("打开", link, _link(p["workbook"])) if p["workbook"] else None,
                Cell("打开", link, _link(p["report"])) if p["report"] else None]
        yield row


def _file_rows(files: list[dict], order: list[int], looks: dict):
    """The 文件 rows: every input, failed and skipped first."""
    dup, wrap = looks["fail"], looks["wrap"]
    for i in order:
        f = files[i]
        status = f["status"]
        note = f["message"] or ("文件未变化，沿用上次结果" if f["unchanged"] else "")
        text = STATUS_TEXT.get(status, status)
        yield [Cell(f["input"], dup) if status == "failed" else f["input"], Cell(text, dup) if status == "failed" else text,
               f["projects"], f["error_code"], Cell(note, wrap)]


def _finding_rows(findings, looks: dict):
    """The 复核发现 rows of ``findings`` (tables.Table), read column by column."""
    link, wrap = looks["link"], looks["wrap"]
    c = findings.columns
    for sev, dept, proj, label, ind, cell, msg, code, inp, wb in zip(
            c["severity_text"], c["department"], c["project"], c["label"], c["indicator"], c["cell"], c["message"],
            c["code"], c["input"], c["workbook"]):
        sheet, _, ref = cell.rpartition("!")
        location = f"'{sheet}'!{ref}" if sheet and ref else None
        where = Cell(cell or "（整个文件）", link, _link(wb), location) if wb else (cell or "（整个文件）")
        yield [sev, dept, proj, label, ind, where, Cell(msg, wrap), code, inp]
