"""One writer per OUTBOX: ``run`` (the whole batch, also ``--watch``) and ``mail --send`` take it.

The lock is an OS file lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on
``OUTBOX/.selfeval-xl.lock``: the OS releases it when the holder dies, so a lock left by a
killed run (kill -9, power cut) is simply taken over — the file may stay, the lock does not. The
file holds who has it (pid, host, command, since) so the second run can name the holder. On a
filesystem without working locks (some network shares) the pid is the fallback: a holder pid on
this host that is no longer alive (or no holder at all) is stale and taken over.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

from .errors import UsageError

LOCK_NAME = ".selfeval-xl.lock"


class LockedError(UsageError):
    """OUTBOX is held by another run (exit code 2)."""


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # pragma: no cover - no os.kill(pid, 0) semantics on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        ctypes.windll.kernel32.CloseHandle(handle)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder_text(info: dict) -> str:
    parts = [f"进程 {info.get('pid', '?')}"]
    if info.get("host"):
        parts.append(f"主机 {info['host']}")
    if info.get("since"):
        parts.append(f"开始于 {info['since']}")
    if info.get("command"):
        parts.append(f"命令 {info['command']}")
    return "，".join(parts)


def read_holder(outbox: Path) -> dict:
    try:
        data = json.loads((Path(outbox) / LOCK_NAME).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _try_lock(fh) -> str:
    """"locked", "busy" (another process holds it) or "unsupported" (no file locks here)."""
    import errno

    try:
        if os.name == "nt":  # pragma: no cover
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        if err.errno in (getattr(errno, "ENOLCK", -1), getattr(errno, "EOPNOTSUPP", -1), getattr(errno, "ENOSYS", -1)):
            return "unsupported"
        return "busy"
    return "locked"


def _same_file(fh, path: Path) -> bool:
    """Still the file at ``path`` (a releasing holder may have unlinked it after we opened it)."""
    try:
        return os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino or os.name == "nt"
    except OSError:
        return False


@contextmanager
def outbox_lock(outbox: Path, what: str) -> Iterator[dict]:
    """Hold OUTBOX for ``what`` (a Chinese description such as “运行批量复核”); raises LockedError.

    The lock file is removed on release, so a finished run leaves nothing behind."""
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / LOCK_NAME
    for _ in range(20):
        fh = open(path, "a+b")
        state = _try_lock(fh)
        if state == "locked":
            if _same_file(fh, path):
                break
            fh.close()  # we locked a file its holder had just removed: try the new one
            continue
        info = read_holder(outbox)
        if state == "unsupported":  # no working file locks here: the pid decides
            pid = info.get("pid")
            if not (info.get("host") == socket.gethostname() and isinstance(pid, int) and _pid_alive(pid)):
                break  # nobody, or a dead holder on this host: stale, take it over
        fh.close()
        raise LockedError(f"输出文件夹 {outbox} 正被另一个 selfeval-xl 使用（{holder_text(info) or '持有者未知'}），"
                          f"请等它结束后再{what}；若确认该进程已不存在，可删除 {path}")
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                "since": datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300]}
        fh.seek(0)
        fh.truncate()
        fh.write((json.dumps(info, ensure_ascii=False) + "\n").encode("utf-8"))
        fh.flush()
        yield info
        try:
            path.unlink()  # while still holding it: the next holder opens a fresh file
        except OSError:
            pass
    finally:
        fh.close()
