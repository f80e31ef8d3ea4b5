"""Atomic output and safe file names: a crash never leaves half a file, and no name built
from workbook content can escape the output folder."""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_BAD_CHARS = re.compile(r'[\x00-\x1f<>:"/\\|?*]')


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~tmp-", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(target: Path, data: bytes) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: Path, text: str) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"))


def atomic_save_workbook(wb, target: Path) -> Path:
    with atomic_path(target) as tmp:
        wb.save(tmp)
    return Path(target)


def safe_name(name: str, fallback: str = "未命名", max_len: int = 80) -> str:
    """A single path component made from untrusted text (a project name, a department).

    Strips separators, control characters, leading dots and Windows reserved names, so the
    result can never point outside the folder it is joined to.
    """
    s = _BAD_CHARS.sub("_", str(name or "")).strip().strip(".").strip()
    s = s[:max_len].rstrip(" .")
    if not s or s.upper().split(".")[0] in _RESERVED or set(s) <= {"_", "."}:
        s = fallback
    return s


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
