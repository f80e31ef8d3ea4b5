"""E-mail the per-file outputs of a batch run: ``.eml`` drafts by default, SMTP on request,
never the same message twice.

Input: ``OUTBOX/run.json`` (written by ``batch.run``) and the outputs it lists, plus a
``recipients.csv`` that maps a 主管部门 (exact) or a file-name glob to To/Cc addresses.

- **Drafts** (default): one ``OUTBOX/mail/<项目名称>.eml`` per message with ``X-Unsent: 1``
  (Outlook and Thunderbird open it as an editable draft). Written atomically.
- **Send** (``send=True``): through ``smtplib`` (plain, STARTTLS or implicit TLS, optional AUTH).
  Every delivered message is recorded in the ledger ``OUTBOX/mail/sent.json`` (atomic, after each
  message): key = input file + recipients; value = Message-ID, attachment sha256, delivered and
  refused addresses. A re-run sends only what is missing: new keys, and addresses refused last
  time; a message whose attachments changed is re-sent only with ``resend_changed=True``.
- **Dry run**: what would be sent to whom with which attachments; no network, no file written.

The SMTP password comes only from the environment (``SELFEVAL_SMTP_PASSWORD``) or a config file
(TOML or INI), never from an argument; it is never printed or logged.

Attachment names are Chinese: they go into ``Content-Disposition: filename*=`` (RFC 2231) only;
no ``name=`` parameter is emitted on Content-Type.

For the batch command: ``draft_for_run(outbox, recipients, attach=("report",))`` writes the
drafts after a run (``selfeval-xl run … --mail recipients.csv``).
"""
from __future__ import annotations

import configparser
import contextlib
import csv
import fnmatch
import io
import json
import mimetypes
import os
import re
import smtplib
import ssl
import tomllib
from dataclasses import dataclass, field
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence

from . import ledger as ledgers
from .errors import TemplateError, UsageError, template_line
from .fmt import year_text
from .fsutil import atomic_write_bytes, safe_name, sha256
from .model import SEVERITIES
from .naming import LETTER_SUFFIX, REPORT_SUFFIX, is_own_output

MAIL_DIR = "mail"
LEDGER_NAME = "sent.json"
RUN_JSON = "run.json"
PASSWORD_ENV = "SELFEVAL_SMTP_PASSWORD"
SUBJECT_TEMPLATE = "subject.txt.j2"
BODY_TEMPLATE = "body.txt.j2"
PLACEHOLDER_FROM = "请填写发件人 <sender@example.invalid>"

# --attach kinds -> output file suffixes (run.json lists each file's outputs).
ATTACH_KINDS: dict[str, tuple[str, ...]] = {
    "report": (REPORT_SUFFIX,),
    "workbook": (".xlsx", ".xlsm"),
    "pdf": (".pdf",),
    "letter": (LETTER_SUFFIX,),  # written by finalize
}
ATTACH_ALIASES = {"报告": "report", "自评价报告": "report", "工作簿": "workbook", "复核工作簿": "workbook",
                  "xlsx": "workbook", "docx": "report", "复核意见书": "letter", "意见书": "letter"}
ATTACH_LABEL = {"report": "自评价报告（.docx）", "workbook": "复核工作簿（.xlsx）", "pdf": "PDF 文件",
                "letter": "复核意见书（.docx，先运行 finalize）"}
MIME_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".pdf": "application/pdf",
}

# Messages are built with CRLF line ends and 7-bit transfer encodings (base64 / quoted-printable
# bodies, RFC 2047 headers), so any SMTP server accepts them unchanged.
POLICY = email_policy.SMTP.clone(cte_type="7bit")

# recipients.csv header names (case-insensitive, surrounding spaces ignored).
_MATCH_HEADERS = {"匹配", "主管部门或文件", "主管部门或文件名", "主管部门", "文件", "文件名", "match", "department", "file"}
_TO_HEADERS = {"收件人", "to", "收件"}
_CC_HEADERS = {"抄送", "cc", "抄送人"}
_ADDR_SPLIT = re.compile(r"[;,；，、\n]")
_ADDR_OK = re.compile(r"^[^@\s<>()\[\]\\,;:\"]+@[^@\s<>()\[\]\\,;:\"]+$")
_GLOB_CHARS = set("*?[")
_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ods")


class MailError(UsageError):
    """A problem with the inputs of ``mail`` (run.json, recipients.csv, options, ledger).
    The CLI prints it as ``错误：…`` with exit code 2."""


# ---- recipients.csv ----------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """One row of recipients.csv."""

    pattern: str
    to: tuple[str, ...]  # formatted addresses ("张三 <a@b.cn>" or "a@b.cn")
    cc: tuple[str, ...]
    line: int
    is_file: bool  # a file-name pattern (glob or workbook file name); else a 主管部门

    def matches(self, input_path: str, department: str) -> bool:
        if self.is_file:
            name = PurePosixPath(input_path).name
            pattern = self.pattern.lower()  # Windows file names are case-insensitive
            return fnmatch.fnmatchcase(name.lower(), pattern) or fnmatch.fnmatchcase(input_path.lower(), pattern)
        return bool(department) and _norm(department) == _norm(self.pattern)


def _norm(text: str) -> str:
    return str(text or "").replace("\u3000", " ").strip()


def _decode_csv(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # a superset of GBK (Excel "CSV" on a Chinese Windows)
    except UnicodeDecodeError:
        raise MailError(f"{name}：无法识别文件编码，请另存为 UTF-8 或 GBK 编码的 CSV") from None


def parse_addresses(text: str, where: str) -> tuple[str, ...]:
    """``a@x.cn; 张三 <b@y.cn>, c@z.cn`` -> formatted addresses; raises MailError on a bad one."""
    out: list[str] = []
    for piece in _ADDR_SPLIT.split(text or ""):
        piece = piece.strip()
        if not piece:
            continue
        display, addr = parseaddr(piece)
        if not addr or not _ADDR_OK.match(addr) or addr.startswith(".") or addr.endswith("."):
            raise MailError(f"{where}：邮件地址“{piece}”无效（多个地址请用 ; 或 , 分隔）")
        formatted = addr
        if display:
            try:
                formatted = str(Address(display_name=display, addr_spec=addr))
            except (ValueError, IndexError):
                raise MailError(f"{where}：邮件地址“{piece}”无效") from None
        if addr.lower() not in {_addr_of(a).lower() for a in out}:
            out.append(formatted)
    return tuple(out)


def _addr_of(formatted: str) -> str:
    return parseaddr(formatted)[1]


def load_recipients(path: Path) -> list[Rule]:
    """Read recipients.csv (UTF-8 with or without BOM, or GBK; comma, semicolon or tab separated).

    Header (Chinese or English names): ``匹配`` (or 主管部门或文件 / match) — a 主管部门 (exact) or a
    file name / glob such as ``*工业*.xlsx``; ``收件人`` (To); ``抄送`` (Cc, optional). Several
    addresses in one cell are separated by ``;`` or ``,``. Blank lines and lines starting with
    ``#`` are ignored.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MailError(f"无法读取收件人文件 {path}：{err.strerror or err}") from None
    text = _decode_csv(data, path.name)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise MailError(f"{path.name}：收件人文件为空")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    header_index = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)
                         and not r[0].lstrip().startswith("#")), None)
    header = [c.strip().lower() for c in rows[header_index]]
    cols: dict[str, int] = {}
    for i, name in enumerate(header):
        for key, names in (("match", _MATCH_HEADERS), ("to", _TO_HEADERS), ("cc", _CC_HEADERS)):
            if name in {n.lower() for n in names} and key not in cols:
                cols[key] = i
    if "match" not in cols or "to" not in cols:
        raise MailError(f"{path.name}：第 {header_index + 1} 行应为表头，至少包含“匹配”（或 主管部门或文件 / match）和“收件人”（或 To）两列，"
                        f"可选“抄送”（Cc）；实际表头：{','.join(rows[header_index])}")
    rules: list[Rule] = []
    for lineno, row in enumerate(rows[header_index + 1:], start=header_index + 2):
        if not any(c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        cell = lambda key: row[cols[key]].strip() if key in cols and cols[key] < len(row) else ""  # noqa: E731
        pattern = _norm(cell("match"))
        where = f"{path.name} 第 {lineno} 行"
        if not pattern:
            raise MailError(f"{where}：“匹配”列为空（应为主管部门名称或文件名，如 *工业*.xlsx）")
        to = parse_addresses(cell("to"), where)
        if not to:
            raise MailError(f"{where}：“收件人”列为空")
        to_lower = {_addr_of(a).lower() for a in to}
        cc = tuple(a for a in parse_addresses(cell("cc"), where) if _addr_of(a).lower() not in to_lower)
        is_file = bool(_GLOB_CHARS & set(pattern)) or pattern.lower().endswith(_WORKBOOK_SUFFIXES)
        if is_file:
            pattern = pattern.replace("\\", "/")  # 科技\某项目.xlsx as typed on Windows
        dup = next((r for r in rules if r.pattern.lower() == pattern.lower()), None)
        if dup is not None:  # two answers for one 主管部门/file: do not guess which one is meant
            raise MailError(f"{where}：“{pattern}”与第 {dup.line} 行重复，请合并为一行（多个地址用 ; 分隔）")
        rules.append(Rule(pattern, to, cc, lineno, is_file))
    return rules


def find_rule(rules: Sequence[Rule], input_path: str, department: str) -> Rule | None:
    """File-name rules first (the more specific), then 主管部门 rules; the first match wins."""
    for want_file in (True, False):
        for rule in rules:
            if rule.is_file == want_file and rule.matches(input_path, department):
                return rule
    return None


# ---- run.json and the per-file entries -----------------------------------------------------

@dataclass
class Item:
    """One run.json file entry, with what mail needs."""

    input: str
    status: str
    name: str = ""
    department: str = ""
    year: str = ""
    totals: dict = field(default_factory=dict)
    findings: dict = field(default_factory=dict)
    outputs: list[Path] = field(default_factory=list)
    error: str = ""
    sheet: str = ""  # the form's sheet when the file holds several projects (one mail each)
    hashes: dict = field(default_factory=dict)  # output path -> sha256 recorded in run.json
    duplicate_of: str = ""  # batch flagged DUPLICATE_PROJECT: the same project was submitted as this input

    @property
    def key(self) -> str:
        return ledgers.ledger_key(self.input, self.sheet)


def _resolve_output(outbox: Path, rel: str) -> Path | None:
    """An output path from run.json, only if it stays inside OUTBOX."""
    try:
        p = (outbox / PurePosixPath(str(rel))).resolve()
        p.relative_to(outbox.resolve())
    except (ValueError, OSError):
        return None
    return p


def _count_findings(findings) -> dict:
    if isinstance(findings, dict):
        return {str(k): int(findings.get(k) or 0) for k in SEVERITIES}
    counts = {str(k): 0 for k in SEVERITIES}
    if isinstance(findings, list):
        for f in findings:
            sev = f.get("severity") if isinstance(f, dict) else None
            if sev in counts:
                counts[sev] += 1
    return counts


def _project_from_workbook(paths: Iterable[Path]) -> tuple[str, str, str] | None:
    from .errors import ReadError
    from .reader import read

    for p in paths:
        if not p.is_file():
            continue
        try:
            ev = read(p)
        except (ReadError, OSError, ValueError):
            continue
        return ev.project_name.text, ev.department.text, ev.year.text
    return None


def load_run(outbox: Path) -> list[Item]:
    """The file entries of ``OUTBOX/run.json``. Project fields come from the entry's
    ``project`` object when present, else from the reviewed workbook (reader.read)."""
    outbox = Path(outbox)
    path = outbox / RUN_JSON
    if not path.is_file():
        raise MailError(f"{outbox} 中没有 run.json：请先运行 selfeval-xl run INBOX -o {outbox}")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as err:
        raise MailError(f"{path}：无法读取 run.json（{err}）") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise MailError(f"{path}：run.json 格式不对（缺少 files 列表）")
    options = data.get("options") if isinstance(data.get("options"), dict) else {}
    inbox = data.get("inbox") or options.get("inbox")  # where the inputs were (fallback for project fields)
    items: list[Item] = []
    for entry in data["files"]:
        if not isinstance(entry, dict) or not entry.get("input"):
            continue
        projects = [p for p in entry.get("projects") or () if isinstance(p, dict)]
        if len(projects) <= 1:
            items.append(_item(outbox, entry, dict(entry, sheet=""), inbox))
        else:  # several forms in one file: one mail per project, each with its own outputs
            for proj in projects:
                items.append(_item(outbox, entry, proj, inbox))
    return items


def _item(outbox: Path, entry: dict, part: dict, inbox) -> Item:
    """One Item from a run.json file entry; ``part`` is the entry itself or one of its projects."""
    item = Item(input=str(entry["input"]), status=str(entry.get("status") or ""), sheet=str(part.get("sheet") or ""))
    err = entry.get("error")
    if isinstance(err, dict):
        item.error = str(err.get("message") or err.get("code") or "")
    item.totals = dict(part.get("totals") or {})
    item.findings = _count_findings(part.get("findings"))
    recorded = entry.get("output_sha256") if isinstance(entry.get("output_sha256"), dict) else {}
    bad = []
    for rel in part.get("outputs") or []:
        p = _resolve_output(outbox, rel)
        if p is None:
            bad.append(str(rel))
        else:
            item.outputs.append(p)
            if recorded.get(rel):
                item.hashes[p] = recorded[rel]
    if bad:
        item.error = f"run.json 中的输出路径不在输出文件夹内：{', '.join(bad)}"
    item.duplicate_of = str(part.get("duplicate_of") or "")
    proj = part.get("project")
    if isinstance(proj, dict) and (proj.get("name") or proj.get("department")):
        item.name = str(proj.get("name") or "")
        item.department = str(proj.get("department") or "")
        item.year = "" if proj.get("year") is None else str(proj.get("year"))
    elif item.status == "ok":
        candidates = [p for p in item.outputs if p.suffix.lower() in (".xlsx", ".xlsm")]
        if inbox:
            candidates.append(Path(inbox) / PurePosixPath(item.input))
        found = _project_from_workbook(candidates)
        if found:
            item.name, item.department, item.year = found
    if not item.name:
        item.name = PurePosixPath(item.input).stem
    return item


def attachments_for(item: Item, kinds: Sequence[str]) -> tuple[list[Path], list[str]]:
    """The outputs to attach (in --attach order) and the kinds that are missing."""
    found: list[Path] = []
    missing: list[str] = []
    for kind in kinds:
        suffixes = ATTACH_KINDS[kind]
        ps = [p for p in item.outputs if p.name.lower().endswith(suffixes)]
        if kind == "workbook":  # the reviewed workbook, not some other spreadsheet
            reviewed = [p for p in ps if is_own_output(p)]
            ps = reviewed or ps
        if kind == "report":  # a Word input also has X.复核.docx (the commented document): not the report
            reports = [p for p in ps if not is_own_output(p)]
            ps = reports or ps
        ps = [p for p in ps if p.is_file()]
        if not ps:
            missing.append(kind)
        found.extend(p for p in ps if p not in found)
    return found, missing


def parse_attach(spec: str | Sequence[str]) -> tuple[str, ...]:
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for part in parts:
        key = part.strip().lower()
        if not key:
            continue
        key = ATTACH_ALIASES.get(key, key)
        if key not in ATTACH_KINDS:
            raise MailError(f"--attach 的取值“{part.strip()}”无效：可用 report（报告）、workbook（复核工作簿）、pdf、letter（复核意见书），以逗号分隔")
        if key not in out:
            out.append(key)
    if not out:
        raise MailError("--attach 至少要选一种附件：report、workbook、pdf、letter")
    return tuple(out)


# ---- templates ---------------------------------------------------------------------------

def _fmt_score(v) -> str:
    if v is None or v == "" or isinstance(v, bool):
        return "—"
    if isinstance(v, (int, float)):
        from .fmt import points

        return points(v)
    return str(v)


class Templates:
    """subject.txt.j2 and body.txt.j2, from ``directory`` if given (falling back to the bundled
    ones), rendered in a sandbox with StrictUndefined (a misspelt variable is an error)."""

    def __init__(self, directory: Path | None = None):
        from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined

        from .resources import template_file
        from .sandbox import SafeSandbox

        dirs = []
        if directory is not None:
            directory = Path(directory)
            if not directory.is_dir():
                raise MailError(f"邮件模板文件夹不存在：{directory}")
            dirs.append(str(directory))
        dirs.append(str(template_file("mail")))
        self.env = SafeSandbox(
            loader=ChoiceLoader([FileSystemLoader(d, encoding="utf-8") for d in dirs]),
            autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._cache: dict = {}

    def _get(self, name: str):
        from jinja2 import TemplateNotFound, TemplateSyntaxError

        if name not in self._cache:
            try:
                self._cache[name] = self.env.get_template(name)
            except TemplateSyntaxError as err:
                raise TemplateError(f"邮件模板 {Path(err.filename or name).name} 第 {err.lineno} 行语法错误：{err.message}") from None
            except TemplateNotFound:
                raise TemplateError(f"找不到邮件模板 {name}") from None
            except UnicodeDecodeError:
                raise TemplateError(f"邮件模板 {name} 不是 UTF-8 编码") from None
        return self._cache[name]

    def render(self, name: str, context: dict) -> str:
        from jinja2 import TemplateError as JinjaError, UndefinedError
        from jinja2.exceptions import SecurityError

        from .sandbox import render_limited

        tmpl = self._get(name)
        try:
            return render_limited(tmpl, context)  # size and time capped: a template bomb is an error
        except JinjaError as err:
            line = template_line(err, tmpl.filename)
            where = f"第 {line} 行" if line else ""
            if isinstance(err, UndefinedError):
                what = f"使用了未定义的变量（{err.message}）"
            elif isinstance(err, SecurityError):
                what = f"使用了模板中不允许的操作（{err.message}）"
            else:
                what = str(err.message if hasattr(err, "message") else err)
            raise TemplateError(f"邮件模板 {name} {where}渲染出错：{what}") from None
        except Exception as err:  # noqa: BLE001 — e.g. ZeroDivisionError inside an expression
            line = template_line(err, tmpl.filename)
            where = f"第 {line} 行" if line else ""
            raise TemplateError(f"邮件模板 {name} {where}渲染出错：{type(err).__name__}: {err}") from None


def template_context(item: Item, attachments: Sequence[Path], to: Sequence[str] = (), cc: Sequence[str] = ()) -> dict:
    """Variables available in subject.txt.j2 / body.txt.j2 (Chinese and English names)."""
    totals = {k: item.totals.get(k) for k in ("stated", "self", "computed")}
    names = [p.name for p in attachments]
    return {
        "项目名称": item.name, "年度": year_text(item.year), "主管部门": item.department, "文件": item.input,
        "自评总分": _fmt_score(totals["stated"]), "自评分之和": _fmt_score(totals["self"]),
        "规则总分": _fmt_score(totals["computed"]),
        "错误数": item.findings.get("error", 0), "警告数": item.findings.get("warning", 0),
        "提示数": item.findings.get("info", 0),
        "附件": names, "收件人": list(to), "抄送": list(cc),
        "project": {"name": item.name, "department": item.department, "year": item.year},
        "input": item.input, "totals": totals, "findings": dict(item.findings), "attachments": names,
    }


# ---- plan ------------------------------------------------------------------------------

@dataclass
class Planned:
    item: Item
    rule: Rule
    attachments: list[Path]
    subject: str
    body: str
    key: str
    hashes: dict[str, str]  # attachment file name -> sha256

    @property
    def to(self) -> tuple[str, ...]:
        return self.rule.to

    @property
    def cc(self) -> tuple[str, ...]:
        return self.rule.cc

    @property
    def addresses(self) -> list[str]:
        return [_addr_of(a) for a in (*self.to, *self.cc)]


@dataclass
class Outcome:
    """What happened to one input. status: drafted | sent | partial | would_send | already_sent |
    changed_not_resent | failed | unmatched | not_reviewed."""

    input: str
    project: str
    status: str
    detail: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()
    draft: str = ""  # path of the .eml relative to OUTBOX
    message_id: str = ""
    refused: dict = field(default_factory=dict)


STATUS_TEXT = {
    "drafted": "已生成草稿", "sent": "已发送", "partial": "部分收件人被拒收", "would_send": "将发送",
    "would_resend": "附件已变化，将重发", "would_retry": "将补发给上次被拒收的收件人",
    "already_sent": "已发送过，跳过", "changed_not_resent": "附件已变化，未重发（需要时加 --resend-changed）",
    "failed": "失败", "unmatched": "未找到收件人", "not_reviewed": "未复核成功，不发送",
    "uncertain": "结果不确定（服务器可能已收到），未重发；确认对方未收到后可加 --resend-uncertain",
    "would_skip_uncertain": "结果不确定，不会重发（需要时加 --resend-uncertain）",
    "duplicate": "重复提交的同一项目（DUPLICATE_PROJECT），只发送一次",
    "not_sent": "未发送（发送已停止）",
}


def plan(outbox: Path, recipients: Path, attach: Sequence[str] = ("report",),
         templates: Path | None = None) -> tuple[list[Planned], list[Outcome]]:
    """Match every reviewed file to its recipients and render subject and body.

    Returns the messages to make and the outcomes already known (unmatched, not reviewed,
    missing attachments)."""
    outbox = Path(outbox)
    kinds = parse_attach(attach)
    rules = load_recipients(recipients)
    items = load_run(outbox)
    tmpl = Templates(templates)
    planned: list[Planned] = []
    known: list[Outcome] = []
    for item in items:
        if item.status != "ok":
            known.append(Outcome(item.input, item.name, "not_reviewed",
                                 f"批处理状态 {item.status or '未知'}" + (f"：{item.error}" if item.error else "")))
            continue
        rule = find_rule(rules, item.input, item.department)
        if rule is None:
            dept = item.department or "未知"
            known.append(Outcome(item.input, item.name, "unmatched",
                                 f"主管部门“{dept}”，文件 {PurePosixPath(item.input).name}：请在收件人文件中添加该主管部门或文件名"))
            continue
        if item.error:
            known.append(Outcome(item.input, item.name, "failed", item.error, rule.to, rule.cc))
            continue
        if item.duplicate_of:
            known.append(Outcome(item.input, item.name, "duplicate",
                                 f"与 {item.duplicate_of} 为同一项目，邮件只随 {item.duplicate_of} 发送一次", rule.to, rule.cc))
            continue
        files, missing = attachments_for(item, kinds)
        if missing:
            known.append(Outcome(item.input, item.name, "failed",
                                 "缺少附件：" + "、".join(ATTACH_LABEL[k] for k in missing) + "（run.json 未列出或文件不存在）",
                                 rule.to, rule.cc))
            continue
        names = [p.name for p in files]
        hashes = {p.name: sha256(p) for p in files}
        changed = [p.name for p in files if item.hashes.get(p) and item.hashes[p] != hashes[p.name]]
        if changed:  # e.g. rewritten by a later, killed run: these are not the outputs run.json describes
            known.append(Outcome(item.input, item.name, "failed",
                                 "附件与 run.json 记录的不一致（可能被另一次运行改写）：" + "、".join(changed)
                                 + "；请重新运行 selfeval-xl run", rule.to, rule.cc))
            continue
        if len(set(names)) != len(names):
            known.append(Outcome(item.input, item.name, "failed", "附件文件名重复：" + "、".join(names), rule.to, rule.cc))
            continue
        ctx = template_context(item, files, rule.to, rule.cc)
        subject = " ".join(tmpl.render(SUBJECT_TEMPLATE, ctx).split())
        if not subject:
            raise TemplateError(f"邮件模板 {SUBJECT_TEMPLATE} 渲染结果为空（项目 {item.name}）")
        body = tmpl.render(BODY_TEMPLATE, ctx)
        planned.append(Planned(item, rule, files, subject, body, item.key, hashes))
    return planned, known


# ---- messages ------------------------------------------------------------------------------

def _mime_type(path: Path) -> tuple[str, str]:
    ctype = MIME_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    main, _, sub = ctype.partition("/")
    return main, sub


def _msgid_domain(from_addr: str) -> str:
    addr = _addr_of(from_addr)
    domain = addr.rpartition("@")[2] if "@" in addr else ""
    if not domain or domain.endswith(".invalid"):
        domain = "selfeval-xl.local"
    try:
        domain.encode("ascii")
    except UnicodeEncodeError:
        domain = domain.encode("idna").decode("ascii")
    return domain


def build_message(p: Planned, from_addr: str, draft: bool = False) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_addr
    msg["To"] = ", ".join(p.to)
    if p.cc:
        msg["Cc"] = ", ".join(p.cc)
    msg["Subject"] = p.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=_msgid_domain(from_addr))
    if draft:
        msg["X-Unsent"] = "1"
    msg["X-Mailer"] = "selfeval-xl"
    msg.set_content(p.body)
    for path in p.attachments:
        main, sub = _mime_type(path)
        msg.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    for part in msg.iter_attachments():
        # A non-ASCII name= on Content-Type breaks the MIME type in some readers; filename* is enough.
        if part.get_param("name", header="content-type") is not None:
            part.del_param("name", header="content-type")
    return msg


def draft_name(p: Planned, used: set[str]) -> str:
    base = safe_name(p.item.name, fallback=safe_name(PurePosixPath(p.item.input).stem))
    candidates = [base, safe_name(f"{p.item.name}_{PurePosixPath(p.item.input).stem}", fallback=base)]
    candidates += [f"{candidates[1]}_{i}" for i in range(2, 1000)]
    for c in candidates:
        if c.lower() not in used:
            used.add(c.lower())
            return c + ".eml"
    raise MailError("草稿文件名冲突过多")  # pragma: no cover


# ---- ledger (see ledger.py: two phases, keyed by input and project) -----------------------

def _ledger_path(outbox: Path) -> Path:
    return ledgers.ledger_path(outbox, MAIL_DIR)


def load_ledger(outbox: Path) -> dict:
    try:
        return ledgers.load(_ledger_path(outbox))
    except ledgers.LedgerError as err:
        raise MailError(str(err)) from None


def _save_ledger(outbox: Path, ledger: dict) -> None:
    ledgers.save(_ledger_path(outbox), ledger)


def _ledger_decision(p: Planned, ledger: dict, resend_changed: bool, resend_uncertain: bool = False):
    return ledgers.decide(ledger["messages"].get(p.key), p.addresses, p.hashes, resend_changed, resend_uncertain)


@contextlib.contextmanager
def _lock(outbox: Path):
    """One writer per OUTBOX (lock.py): a batch run and a --send never overlap, nor two --send."""
    from .lock import LockedError, outbox_lock

    try:
        with outbox_lock(outbox, "发送邮件"):
            yield
    except LockedError as err:
        raise MailError(str(err)) from None


# ---- SMTP ----------------------------------------------------------------------------------

@dataclass
class SmtpSettings:
    host: str
    port: int = 0
    security: str = "none"  # none | starttls | ssl
    user: str = ""
    password: str = field(default="", repr=False)
    from_addr: str = ""
    cafile: str = ""
    timeout: float = 60.0

    def __post_init__(self):
        if not self.port:
            self.port = {"ssl": 465, "starttls": 587}.get(self.security, 25)


def load_smtp_config(path: Path) -> dict:
    """host/port/user/password/from/security(starttls|ssl|none)/cafile from a TOML file
    (top level or an [smtp] table) or an INI file ([smtp] section)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise MailError(f"无法读取 SMTP 配置文件 {path}：{err.strerror or err}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    data: dict | None = None
    if path.suffix.lower() != ".ini":
        try:
            t = tomllib.loads(text)
            data = t.get("smtp", t) if isinstance(t.get("smtp"), dict) else t
        except tomllib.TOMLDecodeError as err:
            if path.suffix.lower() == ".toml":
                raise MailError(f"SMTP 配置文件 {path.name} 不是有效的 TOML：{err}") from None
    if data is None:
        cp = configparser.ConfigParser(interpolation=None)
        try:
            cp.read_string(text)
        except configparser.Error as err:
            raise MailError(f"SMTP 配置文件 {path.name} 格式无效（应为 TOML，或含 [smtp] 节的 INI）：{type(err).__name__}") from None
        section = "smtp" if cp.has_section("smtp") else None
        data = dict(cp[section]) if section else dict(cp.defaults())
    out = {str(k).lower().replace("-", "_"): v for k, v in data.items()}
    known = {"host", "port", "user", "username", "password", "from", "from_addr", "security", "starttls", "ssl", "cafile", "timeout"}
    unknown = sorted(set(out) - known)
    if unknown:
        raise MailError(f"SMTP 配置文件 {path.name} 含未知的设置：{', '.join(unknown)}（可用：host、port、user、password、from、security、cafile、timeout）")
    if "password" in out and os.name != "nt":
        try:
            if path.stat().st_mode & 0o077:
                import sys
                print(f"警告：SMTP 配置文件 {path.name} 含密码，但其他用户可读；建议 chmod 600", file=sys.stderr)
        except OSError:
            pass
    return out


def _truthy(v) -> bool:
    return v is True or str(v).strip().lower() in ("1", "true", "yes", "on", "是")


def smtp_settings(host: str | None = None, port: int | None = None, security: str | None = None,
                  user: str | None = None, from_addr: str | None = None, config: Path | None = None,
                  env: dict | None = None) -> SmtpSettings:
    """Combine the config file (if any) with the command-line values (which win) and the
    password from the environment (which wins over the config file)."""
    env = os.environ if env is None else env
    cfg = load_smtp_config(config) if config else {}
    sec = security
    if not sec:
        sec = str(cfg.get("security") or "").lower() or None
        if not sec and _truthy(cfg.get("ssl", False)):
            sec = "ssl"
        if not sec and _truthy(cfg.get("starttls", False)):
            sec = "starttls"
    sec = sec or "none"
    if sec not in ("none", "starttls", "ssl"):
        raise MailError(f"SMTP 安全方式“{sec}”无效：可用 starttls、ssl、none")
    host = host or cfg.get("host")
    if not host:
        raise MailError("发送邮件需要 SMTP 服务器：请用 --smtp-host 或在 --smtp-config 文件中给出 host")
    try:
        port = int(port or cfg.get("port") or 0)
    except (TypeError, ValueError):
        raise MailError(f"SMTP 端口无效：{cfg.get('port')}") from None
    user = user or cfg.get("user") or cfg.get("username") or ""
    password = env.get(PASSWORD_ENV) or str(cfg.get("password") or "")
    if user and not password:
        raise MailError(f"已指定 SMTP 用户 {user}，但没有密码：请设置环境变量 {PASSWORD_ENV}，或在 --smtp-config 文件中写 password")
    if user and sec == "none":
        raise MailError("为保护密码，SMTP 登录需要加密连接：请加 --starttls 或 --ssl")
    from_addr = from_addr or cfg.get("from") or cfg.get("from_addr") or (user if "@" in str(user) else "")
    if not from_addr:
        raise MailError("发送邮件需要发件人地址：请用 --from 或在 --smtp-config 文件中给出 from")
    check = parse_addresses(str(from_addr), "发件人")
    if len(check) != 1:
        raise MailError(f"发件人地址应为一个：{from_addr}")
    try:
        timeout = float(cfg.get("timeout") or 60)
    except (TypeError, ValueError):
        timeout = 60.0
    return SmtpSettings(str(host), port, sec, str(user), password, check[0], str(cfg.get("cafile") or ""), timeout)


class _Abort(Exception):
    """Sending cannot go on (cannot connect, log in, or verify the server)."""


def _scrub(text: str, settings: SmtpSettings) -> str:
    if settings.password:
        text = text.replace(settings.password, "******")
    return text


def _describe(err: BaseException) -> str:
    if isinstance(err, smtplib.SMTPResponseException):
        msg = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return f"{err.smtp_code} {msg}".strip()
    return str(err) or type(err).__name__


def _connect(s: SmtpSettings) -> smtplib.SMTP:
    where = f"{s.host}:{s.port}"
    try:
        ctx = ssl.create_default_context(cafile=s.cafile or None)
    except (OSError, ssl.SSLError) as err:
        raise _Abort(f"无法加载 CA 证书文件 {s.cafile}：{err}") from None
    conn = None
    try:
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ctx)
        else:
            conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        conn.ehlo()
        if s.security == "starttls":
            if not conn.has_extn("starttls"):
                raise _Abort(f"SMTP 服务器 {where} 不支持 STARTTLS")
            conn.starttls(context=ctx)
            conn.ehlo()
        if s.user:
            conn.login(s.user, s.password)
        return conn
    except _Abort:
        _close(conn)
        raise
    except ssl.SSLCertVerificationError as err:
        _close(conn)
        raise _Abort(f"SMTP 服务器 {where} 的证书校验失败（{err.verify_message}）；"
                     "如使用内部 CA，请在 --smtp-config 文件中用 cafile 指定其证书") from None
    except smtplib.SMTPAuthenticationError as err:
        _close(conn)
        raise _Abort(f"SMTP 登录失败（用户 {s.user}）：用户名或密码错误（服务器回应 {err.smtp_code}）") from None
    except UnicodeError:  # smtplib encodes user and password as ASCII; never show the text
        _close(conn)
        raise _Abort("SMTP 用户名或密码含非 ASCII 字符，smtplib 无法登录") from None
    except smtplib.SMTPNotSupportedError:
        _close(conn)
        raise _Abort(f"SMTP 服务器 {where} 不支持登录（AUTH），或要求先加密连接") from None
    except (smtplib.SMTPException, OSError) as err:
        _close(conn)
        raise _Abort(f"无法连接 SMTP 服务器 {where}：{_scrub(_describe(err), s)}") from None


def _close(conn) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except Exception:  # noqa: BLE001
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass


def _alive(conn) -> bool:
    try:
        return conn.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


# ---- result ------------------------------------------------------------------------------

@dataclass
class MailResult:
    mode: str  # draft | send | dry-run
    outbox: Path
    outcomes: list[Outcome] = field(default_factory=list)

    def _with(self, *statuses: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status in statuses]

    @property
    def drafted(self) -> list[Outcome]:
        return self._with("drafted")

    @property
    def sent(self) -> list[Outcome]:
        return self._with("sent", "partial")

    @property
    def failed(self) -> list[Outcome]:
        return self._with("failed", "partial")

    @property
    def unmatched(self) -> list[Outcome]:
        return self._with("unmatched")

    @property
    def exit_code(self) -> int:
        return 1 if self._with("failed", "partial", "unmatched", "uncertain", "not_sent") else 0

    def to_dict(self) -> dict:
        return {"mode": self.mode, "outbox": str(self.outbox), "exit_code": self.exit_code,
                "messages": [{"input": o.input, "project": o.project, "status": o.status, "detail": o.detail,
                              "to": list(o.to), "cc": list(o.cc), "attachments": list(o.attachments),
                              "draft": o.draft, "message_id": o.message_id, "refused": o.refused}
                             for o in self.outcomes]}

    def summary(self) -> str:
        head = {"draft": f"邮件草稿（写入 {Path(self.outbox) / MAIL_DIR}）",
                "send": "邮件发送", "dry-run": "试运行（不连接服务器、不写文件）"}[self.mode]
        lines = [head + "："]
        order = ["drafted", "sent", "would_send", "would_resend", "would_retry", "partial", "failed", "uncertain",
                 "not_sent", "would_skip_uncertain", "already_sent", "changed_not_resent", "duplicate", "unmatched",
                 "not_reviewed"]
        for status in order:
            group = self._with(status)
            if not group:
                continue
            lines.append(f"{STATUS_TEXT[status]}（{len(group)}）：")
            for o in group:
                lines.append(f"  · {o.project}（{o.input}）")
                if o.to:
                    lines.append(f"      收件人：{'; '.join(o.to)}" + (f"；抄送：{'; '.join(o.cc)}" if o.cc else ""))
                if o.attachments:
                    lines.append(f"      附件：{'、'.join(o.attachments)}")
                if o.draft:
                    lines.append(f"      草稿：{o.draft}")
                if o.refused:
                    lines.append("      被拒收：" + "；".join(f"{a}（{r}）" for a, r in o.refused.items()))
                if o.detail:
                    lines.append(f"      说明：{o.detail}")
        counts = {
            "draft": f"草稿 {len(self.drafted)} 封",
            "send": f"发送 {len(self._with('sent'))} 封",
            "dry-run": f"将发送 {len(self._with('would_send', 'would_resend', 'would_retry'))} 封",
        }[self.mode]
        tail = [counts]
        if self.mode == "send" and self._with("partial"):
            tail.append(f"部分拒收 {len(self._with('partial'))} 封")
        if self._with("failed"):
            tail.append(f"失败 {len(self._with('failed'))} 封")
        if self._with("uncertain", "would_skip_uncertain"):
            tail.append(f"结果不确定 {len(self._with('uncertain', 'would_skip_uncertain'))} 封（未重发）")
        if self._with("not_sent"):
            tail.append(f"因发送记录无法写入而未发送 {len(self._with('not_sent'))} 封")
        if self._with("already_sent"):
            tail.append(f"已发送过 {len(self._with('already_sent'))} 封")
        if self.unmatched:
            tail.append(f"未找到收件人 {len(self.unmatched)} 个项目")
        lines.append("合计：" + "，".join(tail) + "。")
        if not [o for o in self.outcomes if o.status != "not_reviewed"]:
            lines.append("（run.json 中没有复核成功的文件）")
        return "\n".join(lines)


# ---- entry points --------------------------------------------------------------------------

def _outcome(p: Planned, status: str, **kw) -> Outcome:
    return Outcome(p.item.input, p.item.name, status, to=p.to, cc=p.cc,
                   attachments=tuple(x.name for x in p.attachments), **kw)


def mail(outbox: Path, recipients: Path, *, attach: Sequence[str] | str = ("report",), send: bool = False,
         dry_run: bool = False, smtp: SmtpSettings | None = None, from_addr: str | None = None,
         templates: Path | None = None, resend_changed: bool = False, resend_uncertain: bool = False,
         progress: Callable[[str], None] | None = None) -> MailResult:
    """Draft (default), send (``send=True`` with ``smtp``) or list (``dry_run=True``) the mails
    for the reviewed projects in ``outbox``. Raises MailError / TemplateError on bad inputs."""
    outbox = Path(outbox)
    mode = "dry-run" if dry_run else ("send" if send else "draft")
    if mode == "send" and smtp is None:
        raise MailError("发送邮件需要 SMTP 设置（--smtp-host 或 --smtp-config）")
    planned, known = plan(outbox, recipients, attach, templates)
    result = MailResult(mode, outbox)
    sender = (smtp.from_addr if smtp else "") or (from_addr or "")
    if sender:
        parsed = parse_addresses(sender, "发件人")
        if len(parsed) != 1:
            raise MailError(f"发件人地址应为一个：{sender}")
        sender = parsed[0]
    if mode == "dry-run":
        ledger = load_ledger(outbox)
        names = {"new": "would_send", "retry": "would_retry", "resend": "would_resend",
                 "already_sent": "already_sent", "changed": "changed_not_resent", "uncertain": "would_skip_uncertain"}
        for p in planned:
            decision, rcpts, unsure = _ledger_decision(p, ledger, resend_changed, resend_uncertain)
            detail = f"本次投递：{'; '.join(rcpts)}" if decision == "retry" else ""
            if unsure:
                detail = (detail + "；" if detail else "") + _unsure_text(unsure)
            result.outcomes.append(_outcome(p, names[decision], detail=detail))
    elif mode == "draft":
        used: set[str] = set()
        try:
            ledger = load_ledger(outbox)
        except MailError:  # drafts do not depend on the ledger; it only adds a note
            ledger = {"messages": {}}
        for p in planned:
            name = draft_name(p, used)
            target = outbox / MAIL_DIR / name
            msg = build_message(p, sender or PLACEHOLDER_FROM, draft=True)
            atomic_write_bytes(target, msg.as_bytes(policy=POLICY))
            entry = ledger["messages"].get(p.key)
            detail = f"该邮件已于 {entry.get('sent_at', '')} 通过 SMTP 发送过" if entry and entry.get("sent_at") else ""
            result.outcomes.append(_outcome(p, "drafted", draft=f"{MAIL_DIR}/{name}",
                                            message_id=str(msg["Message-ID"]), detail=detail))
            if progress:
                progress(f"草稿：{MAIL_DIR}/{name}")
    else:
        assert smtp is not None
        with _lock(outbox):
            _send_all(outbox, planned, smtp, sender, resend_changed, resend_uncertain, result, progress)
    result.outcomes.extend(known)
    return result


def _unsure_text(unsure: dict[str, str]) -> str:
    return "结果不确定：" + "；".join(f"{a}（{why}）" if why else a for a, why in unsure.items())


class _Uncertain(Exception):
    """The final ``.`` of DATA went out but no answer came back: the server may have stored it."""


def _transmit(conn: smtplib.SMTP, envelope_from: str, rcpts: list[str], data: bytes,
              before_data: Callable[[list[str]], None]) -> tuple[list[str], dict]:
    """MAIL, RCPT each, then ``before_data(accepted)`` (the ledger's phase 1), then DATA.

    Returns (accepted, refused). Raises SMTPRecipientsRefused (nobody accepted), another
    SMTPException or OSError (certainly not delivered: no final ``.`` was sent, or the server
    refused the message), or _Uncertain (the ``.`` was sent, no answer)."""
    conn.ehlo_or_helo_if_needed()
    code, resp = conn.mail(envelope_from)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, resp, envelope_from)
    refused: dict = {}
    accepted: list[str] = []
    for r in rcpts:
        code, resp = conn.rcpt(r)
        if code in (250, 251):
            accepted.append(r)
        else:
            refused[r] = (code, resp)
    if not accepted:
        conn.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    before_data(accepted)
    code, resp = conn.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, resp)
    q = smtplib._quote_periods(data)  # what smtplib.SMTP.data does, with the moment of the "." known
    if q[-2:] != b"\r\n":
        q += b"\r\n"
    conn.send(q + b".\r\n")  # sendall: on an error here the final "." did not go out completely
    try:
        code, resp = conn.getreply()
    except (smtplib.SMTPException, OSError) as err:
        raise _Uncertain(f"已发出邮件正文，但未收到服务器确认（{_describe(err)}）") from None
    if code != 250:
        raise smtplib.SMTPDataError(code, resp)
    return accepted, refused


def _send_all(outbox: Path, planned: list[Planned], s: SmtpSettings, sender: str, resend_changed: bool,
              resend_uncertain: bool, result: MailResult, progress) -> None:
    ledger = load_ledger(outbox)
    path = _ledger_path(outbox)
    conn = None
    aborted = ""
    stopped = ""  # the ledger could not be saved: no further message
    try:
        for p in planned:
            decision, rcpts, unsure = _ledger_decision(p, ledger, resend_changed, resend_uncertain)
            note = _unsure_text(unsure) if unsure else ""
            if decision == "already_sent":
                result.outcomes.append(_outcome(p, "already_sent", message_id=ledger["messages"][p.key].get("message_id", "")))
                continue
            if decision == "changed":
                result.outcomes.append(_outcome(p, "changed_not_resent", detail=note))
                continue
            if decision == "uncertain":
                result.outcomes.append(_outcome(p, "uncertain", detail=note))
                continue
            if stopped:
                result.outcomes.append(_outcome(p, "not_sent", detail=stopped))
                continue
            if aborted:
                result.outcomes.append(_outcome(p, "failed", detail=f"未发送：{aborted}"))
                continue
            if conn is not None and not _alive(conn):
                _close(conn)
                conn = None
            if conn is None:
                try:
                    conn = _connect(s)
                except _Abort as err:
                    aborted = _scrub(str(err), s)
                    result.outcomes.append(_outcome(p, "failed", detail=aborted))
                    continue
            msg = build_message(p, sender)
            mid = str(msg["Message-ID"])
            data = msg.as_bytes(policy=POLICY)
            base = {"input": p.item.input, "sheet": p.item.sheet, "project": p.item.name, "to": list(p.to),
                    "cc": list(p.cc), "subject": p.subject}

            def phase_one(accepted: list[str]) -> None:
                ledgers.begin(ledger, p.key, base, mid, p.hashes, accepted)
                _save_ledger(outbox, ledger)  # LedgerError: nothing sent, stop

            try:
                accepted, refused_raw = _transmit(conn, _addr_of(sender), rcpts, data, phase_one)
            except ledgers.LedgerError as err:
                stopped = f"{err}；已停止发送"
                result.outcomes.append(_outcome(p, "failed", detail=f"未发送：{stopped}"))
                _close(conn)
                conn = None
                continue
            except smtplib.SMTPRecipientsRefused as err:
                refused_all = {a: _scrub(_code_text(v), s) for a, v in err.recipients.items()}
                result.outcomes.append(_outcome(p, "failed", detail="全部收件人被服务器拒收", refused=refused_all))
                continue
            except _Uncertain as err:
                attempt = (ledger["messages"].get(p.key) or {}).get("sending") or {}
                ledgers.uncertain(ledger, p.key, list(attempt.get("rcpts") or rcpts), mid, _scrub(str(err), s))
                result.outcomes.append(_outcome(p, "uncertain", message_id=mid,
                                                detail=f"{_scrub(str(err), s)}：不会自动重发，请向收件人确认"))
                _close(conn)
                conn = None
                stopped = _record(outbox, ledger, path) or stopped
                continue
            except (smtplib.SMTPException, OSError) as err:
                # refused by the server, or dropped before the final ".": certainly not delivered
                what = "连接中断" if isinstance(err, (smtplib.SMTPServerDisconnected, OSError)) else "服务器拒绝"
                ledgers.not_delivered(ledger, p.key)
                result.outcomes.append(_outcome(p, "failed", detail=f"{what}：{_scrub(_describe(err), s)}"))
                _close(conn)
                conn = None
                stopped = _record(outbox, ledger, path) or stopped
                continue
            refused = {a: _scrub(_code_text(v), s) for a, v in refused_raw.items()}
            before = ledger["messages"].get(p.key) or {}
            was_refused = {a.lower() for a in before.get("refused") or {}}
            ledgers.delivered(ledger, p.key, base, mid, p.hashes, accepted, refused, replaced=decision == "resend")
            problem = _record(outbox, ledger, path)
            status = "partial" if refused else "sent"
            retry = ("补发给上次被拒收的收件人：" if {a.lower() for a in accepted} <= was_refused
                     else "发给尚未收到过的收件人（如新增的抄送）：")
            detail = {"retry": retry, "resend": "附件已变化，重发："}.get(decision, "")
            if detail:
                detail += "; ".join(accepted)
            if problem:
                stopped = problem
                detail = (detail + "；" if detail else "") + f"已发送，但{problem}（下次运行会把它列为结果不确定，不会重发）"
            result.outcomes.append(_outcome(p, status, message_id=mid, refused=refused, detail=detail))
            if progress:
                progress(f"已发送：{p.item.name}")
    finally:
        _close(conn)


def _record(outbox: Path, ledger: dict, path: Path) -> str:
    """Save the ledger; '' or why it failed (then sending stops before the next message)."""
    try:
        _save_ledger(outbox, ledger)
    except ledgers.LedgerError as err:
        return f"{err}；已停止发送"
    return ""


def _code_text(v) -> str:
    if isinstance(v, tuple) and len(v) == 2:
        code, text = v
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{code} {text}".strip()
    return str(v)


def draft_for_run(outbox: Path, recipients: Path, attach: Sequence[str] | str = ("report",)) -> MailResult:
    """The ``run … --mail recipients.csv`` hook: write ``.eml`` drafts for the reviewed files of
    the run in ``outbox`` (never sends). Print ``result.summary()``; ``result.exit_code`` is 1
    when a project has no recipient or a draft could not be made. Raises MailError (bad
    recipients file / run.json) or TemplateError (bad mail template)."""
    return mail(Path(outbox), Path(recipients), attach=attach)
