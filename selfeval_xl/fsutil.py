"""Atomic output and safe file names: a crash never leaves half a file, no name built from
workbook content can escape the output folder, and no name is too long for the filesystem."""
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

# Most filesystems (ext4, NTFS in UTF-16 units, APFS) allow 255 per name; encoded as UTF-8 a
# Chinese character is 3 bytes and an emoji 4. Names are kept below this many UTF-8 bytes, with
# room for the ``.~tmp-XXXXXXXX`` prefix atomic_path adds while a file is being written.
MAX_NAME_BYTES = 255 - 24


def _umask() -> int:
    """The process umask (read without changing it where /proc allows, else set-and-restore)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def output_mode() -> int:
    """The mode a new output gets: 0666 less the umask, as ``open()`` would create it
    (mkstemp's 0600 would hide outputs from colleagues on a shared folder)."""
    return 0o666 & ~_umask()


@contextmanager
def atomic_path(target: Path, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The file gets the umask's mode (not mkstemp's 0600). ``fsync``: flushed to disk (the file,
    then the folder) before this returns, for records that must survive a power cut."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".~tmp-", suffix=target.suffix, dir=target.parent)
    try:
        os.chmod(tmp, output_mode())
    except OSError:
        pass
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if fsync:
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        if fsync and os.name == "posix":
            dfd = os.open(str(target.parent), os.O_RDONLY)
            try:
                os.fsync(dfd)
            except OSError:
                pass
            finally:
                os.close(dfd)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(target: Path, data: bytes, fsync: bool = False) -> Path:
    with atomic_path(target, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def atomic_write_text(target: Path, text: str, fsync: bool = False) -> Path:
    return atomic_write_bytes(target, text.encode("utf-8"), fsync=fsync)


def atomic_save_workbook(wb, target: Path) -> Path:
    with atomic_path(target) as tmp:
        wb.save(tmp)
    return Path(target)


def _cut_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits ``limit`` bytes (never half a character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:max(limit, 0)].decode("utf-8", "ignore")


def fit_name(stem: str, suffix: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """``stem + suffix``, the stem shortened so that the whole name fits ``max_bytes`` UTF-8 bytes.

    A shortened stem ends in ``~`` and 8 hex digits of the full stem's sha1, so two long names
    that share their beginning stay different, and the same input always gets the same name."""
    name = stem + suffix
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    tag = "~" + hashlib.sha1(stem.encode("utf-8")).hexdigest()[:8]
    room = max_bytes - len(suffix.encode("utf-8")) - len(tag)
    return _cut_bytes(stem, room).rstrip(" .") + tag + suffix


def safe_name(name: str, fallback: str = "未命名", max_len: int = 80, max_bytes: int = 200) -> str:
    """A single path component made from untrusted text (a project name, a department).

    Strips separators, control characters, leading dots and Windows reserved names, so the
    result can never point outside the folder it is joined to; at most ``max_len`` characters
    and ``max_bytes`` UTF-8 bytes (90 emoji are 360 bytes: too long for any filesystem).
    """
    s = _BAD_CHARS.sub("_", str(name or "")).strip().strip(".").strip()
    s = _cut_bytes(s[:max_len], max_bytes).rstrip(" .")
    if not s or s.upper().split(".")[0] in _RESERVED or set(s) <= {"_", "."}:
        s = fallback
    return s


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
