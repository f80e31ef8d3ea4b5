"""Layouts: how to find a form's parts by the labels printed on it.

A layout turns sheet Grids into a ``SelfEvaluation``. Each layout module exposes ``NAME`` (the
form's key, stored in ``SelfEvaluation.form``), ``TITLE`` (Chinese), ``DEFAULT_PROFILE`` (the
rule profile used when ``--profile auto``) and ``read_grids(grids, file)``. ``LAYOUTS`` lists
them in the order they are tried.
"""
from __future__ import annotations

from . import national, suzhou

# national first: its header (一级/二级/三级指标) would also pass the Suzhou header test, which in
# turn refuses a header with 二级指标; either order gives the same result.
LAYOUTS = (national, suzhou)


def read_grids(grids, file: str):
    """The first form found in the grids (see ``read_all_grids``)."""
    return read_all_grids(grids, file)[0]


def read_all_grids(grids, file: str) -> list:
    """Every form found in the grids, in sheet order: each sheet is read by the first layout
    whose ``detect`` accepts it. Raises ReadError when there is none."""
    from ..errors import ReadError

    if not grids or all(not g.cells for g in grids):
        raise ReadError("EMPTY", "工作簿中没有任何内容", file)
    found = []
    for g in grids:
        layout = next((m for m in LAYOUTS if m.detect(g)), None)
        if layout is not None:
            found.append(layout.read_sheet(grids, g, file))
    if not found:
        tried = "、".join(f"《{m.TITLE}》" for m in LAYOUTS)
        raise ReadError("NOT_SELF_EVALUATION_FORM", f"没有找到可识别的绩效自评表（已尝试：{tried}）", file,
                        hint="请确认使用的是绩效自评表模板")
    return found


__all__ = ["LAYOUTS", "read_grids", "read_all_grids"]
