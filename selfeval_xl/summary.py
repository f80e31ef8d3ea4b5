"""The two batch outputs beside the per-file results: ``汇总.xlsx`` and ``run.json``
(run.json's encoding is owned by ``manifest``; these are the dict-level doors to it).

Both are built from the run.json file entries alone (plain dicts, see ``batch``), so a summary
can be rewritten from a previous run.json without re-reading any workbook. Both are written
atomically: a reader never sees half a file.

Every string that came from a workbook is stored as text: openpyxl turns a value starting with
``=`` into a formula, and Excel re-parses ``= + - @`` on edit, so such cells get the string
type and Excel's quote prefix (the hidden apostrophe).
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path

from .cells import put
from .fsutil import atomic_save_workbook

SUMMARY_NAME = "汇总.xlsx"
RUN_JSON_NAME = "run.json"

STATUS_TEXT = {"ok": "成功", "failed": "失败", "skipped": "跳过"}
SEVERITY_TEXT = {"error": "错误", "warning": "警告", "info": "提示"}
SUMMARY_HEADER = ("文件", "项目名称", "主管部门", "年度", "自评总分", "自评分之和", "规则总分", "差异",
                  "错误", "警告", "提示", "状态", "说明", "工作表")
FINDINGS_HEADER = ("文件", "单元格", "代码", "级别", "说明")
FINAL_HEADER = "最终得分"  # appended by finalize (totals.final in run.json)


# ---- run.json -------------------------------------------------------------------------

def write_run_json(target: Path, data: dict) -> Path:
    """Write run.json from its JSON form (through manifest.RunManifest: one encoding)."""
    from .manifest import RunManifest

    return RunManifest.from_json(data).write(Path(target))


def load_run_json(path: Path) -> dict | None:
    """The previous run.json as JSON (manifest.load, normalised), or None when missing or
    unreadable (never an error)."""
    from .manifest import load

    m = load(path)
    return None if m is None else m.to_json()


# ---- 汇总.xlsx ------------------------------------------------------------------------

def _put(ws, row: int, col: int, value):
    """Write one cell (cells.put: strings are always text); empty values leave it blank."""
    cell = ws.cell(row, col)
    if value is not None and value != "":
        put(cell, value)
    return cell


def _dec(x) -> Decimal | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        return Decimal(str(x))
    except (InvalidOperation, ValueError):
        return None


def difference(totals: dict | None):
    """差异 = 规则总分 − 自评总分 (the stated total, or the sum of self-scores when the total is
    blank): the one sign convention of every output (复核得分 − 自评分). Negative: the
    self-evaluation scored itself higher than the rules give."""
    if not totals:
        return None
    base = _dec(totals.get("stated"))
    if base is None:
        base = _dec(totals.get("self"))
    computed = _dec(totals.get("computed"))
    if base is None or computed is None:
        return None
    d = computed - base
    return int(d) if d == d.to_integral_value() else float(d)


def _note(entry: dict, project: dict | None = None) -> str:
    dup = (project or {}).get("duplicate_of") or (entry.get("duplicate_of") if project is None else None)
    if dup:
        return f"[DUPLICATE_PROJECT] 与 {dup} 为同一项目（重复提交），邮件只发送一次"
    if entry.get("error"):
        return entry["error"].get("message", "")
    if entry.get("status") == "skipped":
        return entry.get("reason", "")
    if entry.get("unchanged"):
        return "文件未变化，沿用上次结果"
    return ""


def _width(value) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def write_summary(target: Path, entries: list[dict]) -> Path:
    """``汇总.xlsx``: sheet 汇总 (one row per input) and sheet 复核发现 (every finding)."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    fd = wb.create_sheet("复核发现")
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDEBF7")
    failed_fill = PatternFill("solid", fgColor="FCE4D6")
    skipped_font = Font(color="808080")

    def header(sheet, names):
        for col, name in enumerate(names, 1):
            c = _put(sheet, 1, col, name)
            c.font = bold
            c.fill = head_fill
            c.alignment = Alignment(horizontal="center", vertical="center")
        sheet.freeze_panes = "A2"

    final = any(isinstance(e.get("totals"), dict) and "final" in e["totals"] for e in entries)  # after finalize
    names = SUMMARY_HEADER + (FINAL_HEADER,) if final else SUMMARY_HEADER
    header(ws, names)
    ws.cell(1, 8).comment = Comment("差异 = 规则总分 − 自评总分（自评总分为空时用自评分之和）；负数表示自评高于按规则计算的得分。", "selfeval-xl")
    if final:
        ws.cell(1, len(names)).comment = Comment("复核定稿（selfeval-xl finalize）后的最终得分：按复核认定，未认定的指标取规则得分。", "selfeval-xl")
    widths = [_width(h) for h in names]
    row = 1
    rows = []
    for e in entries:  # one row per project (a workbook may hold several forms), else one per input
        projects = [p for p in e.get("projects") or () if isinstance(p, dict)]
        if len(projects) > 1:
            rows.extend((e, p) for p in projects)
        else:
            rows.append((e, None))
    for e, part in rows:
        row += 1
        src = part if part is not None else e
        project = src.get("project") or {}
        totals = src.get("totals") or {}
        counts = src.get("findings") or {}
        sheet = part.get("sheet") if part is not None else ((e.get("projects") or [{}])[0].get("sheet") if e.get("projects") else None)
        note = _note(e, part if part is not None else (e.get("projects") or [None])[0] if e.get("projects") else None)
        values = (
            e.get("input", ""), project.get("name"), project.get("department"), project.get("year"),
            totals.get("stated"), totals.get("self"), totals.get("computed"), difference(totals),
            counts.get("error"), counts.get("warning"), counts.get("info"),
            STATUS_TEXT.get(e.get("status"), e.get("status")), note, sheet,
        ) + ((totals.get("final"),) if final else ())
        for col, v in enumerate(values, 1):
            c = _put(ws, row, col, v)
            widths[col - 1] = max(widths[col - 1], _width(v))
            if e.get("status") == "failed":
                c.fill = failed_fill
            elif e.get("status") == "skipped":
                c.font = skipped_font
    ws.auto_filter.ref = f"A1:{get_column_letter(len(names))}{max(row, 1)}"
    for col, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = min(max(w + 2, 8), 60)

    header(fd, FINDINGS_HEADER)
    fwidths = [_width(h) for h in FINDINGS_HEADER]
    frow = 1
    for e in entries:
        projects = [p for p in e.get("projects") or () if isinstance(p, dict)]
        items = [f for p in projects for f in p.get("finding_items") or ()] if len(projects) > 1 else e.get("finding_items")
        for f in items or ():
            frow += 1
            values = (e.get("input", ""), f.get("cell"), f.get("code"),
                      SEVERITY_TEXT.get(f.get("severity"), f.get("severity")), f.get("message"))
            for col, v in enumerate(values, 1):
                _put(fd, frow, col, v)
                fwidths[col - 1] = max(fwidths[col - 1], _width(v))
    fd.auto_filter.ref = f"A1:{get_column_letter(len(FINDINGS_HEADER))}{max(frow, 1)}"
    for col, w in enumerate(fwidths, 1):
        fd.column_dimensions[get_column_letter(col)].width = min(max(w + 2, 8), 80)
    for r in range(2, frow + 1):
        fd.cell(r, 5).alignment = Alignment(wrap_text=True, vertical="top")
    return atomic_save_workbook(wb, Path(target))
