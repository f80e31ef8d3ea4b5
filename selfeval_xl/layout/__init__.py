"""Layouts: how to find a form's parts by the labels printed on it.

A layout turns sheet Grids into a ``SelfEvaluation``. Each layout module exposes ``NAME`` (the
form's key, stored in ``SelfEvaluation.form``), ``TITLE`` (Chinese), ``DEFAULT_PROFILE`` (the
rule profile used when ``--profile auto``) and ``read_grids(grids, file)``. ``LAYOUTS`` lists
them in the order they are tried.
"""
from __future__ import annotations

from . import suzhou

LAYOUTS = (suzhou,)


def read_grids(grids, file: str):
    """The first form found in the grids (see ``read_all_grids``)."""
    return read_all_grids(grids, file)[0]


def read_all_grids(grids, file: str) -> list:
    """Every form found in the grids, in sheet order. Raises ReadError when there is none."""
    # TODO(issues 12/13): try every layout on every sheet; today the Suzhou layout reads the first form.
    return [suzhou.read_grids(grids, file)]


__all__ = ["LAYOUTS", "read_grids", "read_all_grids"]
