"""The mail ledger ``OUTBOX/mail/sent.json``: what has gone to whom, written in two phases.

Why two phases: after the final ``.`` of DATA the server may have stored the message even if
its ``250`` never arrives (a timeout, a dropped connection). So before DATA the ledger records a
``sending`` attempt (Message-ID, attachment sha256, envelope recipients) and is saved; after the
answer the attempt becomes ``delivered`` (250), is removed (a refusal: certainly not stored), or
becomes ``uncertain`` (no answer after the ``.``). An attempt still marked ``sending`` when the
ledger is read again (the sender was killed mid-DATA) is uncertain too. Uncertain recipients are
never sent the message again unless the user says so (``--resend-uncertain``).

Key = the input file (and its sheet when a file holds several projects), not the recipients:
adding a Cc later sends the message to the new address only.

A ledger that cannot be saved stops the sending before the next message (``LedgerError``).
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from email.utils import parseaddr
from pathlib import Path

from .errors import UsageError
from .fsutil import atomic_write_bytes

LEDGER_NAME = "sent.json"
VERSION = 2


class LedgerError(UsageError):
    """The ledger cannot be read or written; sending stops (exit code 2)."""


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def ledger_key(input_path: str, sheet: str = "") -> str:
    """``input`` for a file with one project, ``input#sheet`` for each project of a file with several."""
    return f"{input_path}#{sheet}" if sheet else input_path


def _addr(a: str) -> str:
    return (parseaddr(a)[1] or a).lower()


def _migrate_v1(messages: dict) -> dict:
    """v1 keys were ``input|to=…|cc=…``: merge them per input (delivered addresses add up)."""
    out: dict = {}
    for key, e in sorted(messages.items(), key=lambda kv: str((kv[1] or {}).get("sent_at") or "")):
        if not isinstance(e, dict):
            continue
        new_key = str(e.get("input") or key.split("|", 1)[0]) if "|to=" in key else key
        old = out.get(new_key)
        if old is not None:
            e = dict(e, delivered=sorted({*old.get("delivered", []), *e.get("delivered", [])}, key=str.lower),
                     history=[*old.get("history", []), {"message_id": old.get("message_id"), "sent_at": old.get("sent_at"),
                                                       "delivered": old.get("delivered", []),
                                                       "attachments": old.get("attachments")}])
        out[new_key] = e
    return out


def ledger_path(outbox: Path, mail_dir: str = "mail") -> Path:
    return Path(outbox) / mail_dir / LEDGER_NAME


def load(path: Path) -> dict:
    path = Path(path)
    if not path.exists():
        return {"version": VERSION, "messages": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LedgerError(f"发送记录 {path} 已损坏，无法判断哪些邮件已发送（{err}）。"
                          "请检查或恢复该文件；确认要全部重发时可将其改名后再运行") from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), dict):
        raise LedgerError(f"发送记录 {path} 格式不对：应包含 messages 对象")
    if data.get("version", 1) < VERSION:
        data = {**data, "version": VERSION, "messages": _migrate_v1(data["messages"])}
    return data


def save(path: Path, ledger: dict) -> None:
    """Atomic and flushed to disk before it returns; raises LedgerError."""
    data = (json.dumps(ledger, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    try:
        atomic_write_bytes(Path(path), data, fsync=True)
    except OSError as err:
        raise LedgerError(f"无法写入发送记录 {path}（{err.strerror or err}）") from None


def uncertain_addresses(entry: dict | None) -> dict[str, str]:
    """address -> why, for the recipients whose delivery is unknown."""
    if not entry:
        return {}
    out = {a.lower(): str((v or {}).get("why") or "") for a, v in (entry.get("uncertain") or {}).items()}
    sending = entry.get("sending")
    if isinstance(sending, dict):
        for a in sending.get("rcpts") or ():
            out.setdefault(a.lower(), f"上次发送（{sending.get('since', '')}，Message-ID {sending.get('message_id', '')}）"
                                      "中断，服务器是否已收到未知")
    return out


def decide(entry: dict | None, addresses: list[str], hashes: dict[str, str], resend_changed: bool,
           resend_uncertain: bool) -> tuple[str, list[str], dict[str, str]]:
    """-> (decision, envelope recipients, uncertain address -> why).

    decision: new | retry (addresses not yet reached, e.g. a new Cc or a refused one) | resend
    (attachments changed, with --resend-changed) | changed | uncertain (nothing to send but some
    outcomes unknown) | already_sent.
    """
    if not entry:
        return "new", list(addresses), {}
    unsure = uncertain_addresses(entry)
    if entry.get("attachments") and entry.get("attachments") != hashes:
        return ("resend", list(addresses), {}) if resend_changed else ("changed", [], unsure)
    delivered = {a.lower() for a in entry.get("delivered", [])}
    todo = [a for a in addresses if a.lower() not in delivered and (resend_uncertain or a.lower() not in unsure)]
    if todo:
        return ("retry" if delivered or unsure else "new"), todo, {} if resend_uncertain else unsure
    shown = {a: w for a, w in unsure.items() if a in {x.lower() for x in addresses}}
    return ("uncertain" if shown else "already_sent"), [], shown


def begin(ledger: dict, key: str, base: dict, message_id: str, hashes: dict, rcpts: list[str]) -> None:
    """Phase 1, before DATA: the attempt is on record."""
    entry = ledger["messages"].setdefault(key, {})
    for k, v in base.items():
        entry.setdefault(k, v)
    entry["sending"] = {"message_id": message_id, "attachments": hashes, "rcpts": list(rcpts), "since": now_iso()}


def delivered(ledger: dict, key: str, base: dict, message_id: str, hashes: dict, accepted: list[str],
              refused: dict, replaced: bool) -> dict:
    """Phase 2, the server answered 250. ``replaced``: a --resend-changed (history kept)."""
    old = ledger["messages"].get(key) or {}
    prev = [] if replaced else old.get("delivered", [])
    entry = {**{k: v for k, v in old.items() if k not in ("sending",)}, **base,
             "message_id": message_id, "sent_at": now_iso(), "attachments": hashes,
             "delivered": sorted({*prev, *accepted}, key=str.lower), "refused": refused, "state": "sent"}
    unsure = {a: v for a, v in (old.get("uncertain") or {}).items() if a.lower() not in {x.lower() for x in accepted}}
    if unsure:
        entry["uncertain"] = unsure
    else:
        entry.pop("uncertain", None)
    if old.get("message_id") and (replaced or old.get("attachments") != hashes):
        entry["history"] = [*old.get("history", []), {"message_id": old["message_id"], "sent_at": old.get("sent_at"),
                                                      "delivered": old.get("delivered", []),
                                                      "attachments": old.get("attachments")}]
    ledger["messages"][key] = entry
    return entry


def not_delivered(ledger: dict, key: str) -> None:
    """Phase 2, the server refused (or the connection failed before the final ``.``)."""
    entry = ledger["messages"].get(key)
    if entry is None:
        return
    entry.pop("sending", None)
    if not entry.get("message_id") and not entry.get("uncertain"):
        del ledger["messages"][key]


def uncertain(ledger: dict, key: str, rcpts: list[str], message_id: str, why: str) -> None:
    """Phase 2, no answer after the final ``.``: maybe stored, maybe not."""
    entry = ledger["messages"].setdefault(key, {})
    attempt = entry.pop("sending", None) or {}
    if not entry.get("attachments") and attempt.get("attachments"):
        entry["attachments"] = attempt["attachments"]
    unsure = dict(entry.get("uncertain") or {})
    for a in rcpts:
        unsure[a.lower()] = {"message_id": message_id, "at": now_iso(), "why": why}
    entry["uncertain"] = unsure
    entry.setdefault("state", "uncertain")


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
