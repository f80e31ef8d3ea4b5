"""``read(path) -> SelfEvaluation``: sniff, load the sheets, locate the form by its labels."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .errors import ReadError
from .layout import read_all_grids
from .model import SelfEvaluation
from .grids import load_grids
from .safety import DEFAULT_LIMITS, Limits


def read(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> SelfEvaluation:
    """Read a filled 自评表 (the first form of the file). Raises ReadError (with a code and a
    Chinese message) only."""
    return read_all(path, limits)[0]


def read_all(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> list[SelfEvaluation]:
    """Every form in the file (one per sheet that holds one), in sheet order; at least one.

    Raises ReadError like ``read`` when the file holds no form at all.
    """
    path = Path(path)
    try:
        grids = load_grids(path, limits)
        return [_with_caption(ev, grids) for ev in read_all_grids(grids, path.name)]
    except ReadError as err:
        raise err.with_file(path.name)
    except RecursionError:
        raise ReadError("TOO_LARGE", "工作簿结构嵌套过深", path.name) from None
    except MemoryError:
        raise ReadError("TOO_LARGE", "读取时内存不足", path.name) from None


def _with_caption(ev: SelfEvaluation, grids) -> SelfEvaluation:
    """A form read from a Word table has its title above the table, not in it (word.TableGrid)."""
    if ev.title:
        return ev
    caption = next((getattr(g, "caption", "") for g in grids if g.name == ev.sheet), "")
    return replace(ev, title=caption) if caption else ev
