"""Layouts: how to find a form's parts by the labels printed on it.

A layout turns sheet Grids into a ``SelfEvaluation``. Only the Suzhou 自评表 exists so far;
a national or provincial form is a new module here, chosen by the labels it finds.
"""
from .suzhou import read_grids

__all__ = ["read_grids"]
