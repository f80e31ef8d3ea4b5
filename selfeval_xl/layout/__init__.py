"""Layouts: how to find a form's parts by the labels printed on it.

A layout turns sheet Grids into a ``SelfEvaluation``. Each layout module exposes ``NAME`` (the
form's key, stored in ``SelfEvaluation.form``), ``TITLE`` (Chinese), ``DEFAULT_PROFILE`` (the
rule profile used when ``--profile auto``), ``detect(grid)`` and ``read_sheet(grids, grid, file)``.
``LAYOUTS`` lists them in the order they are tried.
"""
from __future__ import annotations

from . import national, suzhou

# national first: its header (一级/二级/三级指标) would also pass the Suzhou header test, which in
# turn refuses a header with 二级指标; either order gives the same result.
LAYOUTS = (national, suzhou)


def read_all_grids(grids, file: str) -> list:
    """Every form found in the grids, in sheet order: each sheet is read by the first layout
    whose ``detect`` accepts it. Raises ReadError when there is none.

    A sheet that holds a form but cannot be read (MISSING_FIELD, no indicators …) does not hide
    the others: when at least one form was read, each such sheet becomes a ``SHEET_NOT_READ``
    error finding on the first form read (the file's first project), naming the sheet, the cell
    and the reason; when none was read, the first sheet's error is raised as before.
    """
    from dataclasses import replace

    from ..errors import ReadError
    from ..model import Finding

    if not grids or all(not g.cells for g in grids):
        raise ReadError("EMPTY", "工作簿中没有任何内容", file)
    found, failed = [], []
    for g in grids:
        layout = next((m for m in LAYOUTS if m.detect(g)), None)
        if layout is not None:
            try:
                found.append(layout.read_sheet(grids, g, file))
            except ReadError as err:
                failed.append((g, err))
    if failed and not found:
        raise failed[0][1]
    if failed:
        notes = tuple(Finding("SHEET_NOT_READ", "error", err.cell or f"{g.name}!A1",
                              f"工作表“{g.name}”中的自评表未能复核（{err.code}）：{err.detail}")
                      for g, err in failed)
        found[0] = replace(found[0], notices=found[0].notices + notes)
    if not found:
        tried = "、".join(f"《{m.TITLE}》" for m in LAYOUTS)
        raise ReadError("NOT_SELF_EVALUATION_FORM", f"没有找到可识别的绩效自评表（已尝试：{tried}）", file,
                        hint="请确认使用的是绩效自评表模板")
    return found


def paired_sheets(grids, form) -> list:
    """The sheets whose narrative belongs to the form on ``form``: the form's own sheet first,
    then the sheets without a form that are paired with it.

    With one form in the workbook every other sheet is paired with it. With several, a sheet
    without a form belongs to the form sheet whose name its own name contains or is contained
    in (项目A / 项目A说明; the longest such name wins), else to the nearest form sheet before it
    (a narrative sheet placed after its table); sheets before the first form belong to the first.
    """
    is_form = [any(m.detect(g) for m in LAYOUTS) if g is not form else True for g in grids]
    forms = [g for g, f in zip(grids, is_form) if f]
    if len(forms) <= 1:
        return [form] + [g for g, f in zip(grids, is_form) if not f]
    out = [form]
    current = forms[0]
    for g, f in zip(grids, is_form):
        if f:
            current = g
            continue
        named = [h for h in forms if h.name and (h.name in g.name or g.name in h.name)]
        owner = max(named, key=lambda h: len(h.name)) if named else current
        if owner is form:
            out.append(g)
    return out


__all__ = ["LAYOUTS", "read_all_grids", "paired_sheets"]
