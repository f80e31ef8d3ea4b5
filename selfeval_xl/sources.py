"""Old name of ``safety`` (byte checks, limits) + ``grids`` (calamine Grids), kept only so that
code written against it on a parallel branch still imports after the merge. Import from
``safety`` / ``grids``; nothing in the package or its tests uses this module."""
from __future__ import annotations

from .grids import Grid, cell_text, col_letter, load_grids, ref  # noqa: F401
from .safety import DEFAULT_LIMITS, SPREADSHEET_SUFFIXES, WORD_SUFFIXES, Limits, sniff  # noqa: F401
