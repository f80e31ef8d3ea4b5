"""mail: .eml drafts, SMTP sending against a real aiosmtpd server, the sent ledger, recipients.csv."""
from __future__ import annotations

import contextlib

import datetime
import hashlib
import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from selfeval_xl import cli, mail
from selfeval_xl.errors import TemplateError

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "苏州市打造先进制造业基地专项资金_2020.xlsx"
PASSWORD = "Pw-7f3!xq-Geheim"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# input, project (None: read it from the reviewed workbook), status
PROJECTS = [
    ("工业/苏州市打造先进制造业基地专项资金_2020.xlsx",
     {"name": "苏州市打造先进制造业基地专项资金", "department": "苏州市工业和信息化局", "year": 2020}),
    ("农业/农田水利建设补助资金_2020.xlsx",
     {"name": "农田水利建设补助资金", "department": "苏州市农业农村局", "year": 2020}),
    ("科技/科技创新券_2020.xlsx", None),  # no project in run.json: read from the reviewed workbook
    ("其他/城市绿化养护经费_2020.xlsx",
     {"name": "城市绿化养护经费", "department": "苏州市园林和绿化管理局", "year": 2020}),
]

RECIPIENTS = (
    "匹配,收件人,抄送\n"
    "# 主管部门 → 地址\n"
    "苏州市工业和信息化局,gxj@example.com,leader@example.com\n"
    "*农田*.xlsx,\"nongye@example.com; 张三 <zs@example.com>\",\n"
    "科技/科技创新券_2020.xlsx,kj@example.com;kj2@example.com,gxj@example.com\n"
)


# ---- fixtures ------------------------------------------------------------------------------

def _docx(path: Path, text: str) -> None:
    from docx import Document

    d = Document()
    d.add_paragraph(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(path)


def _xlsx(path: Path, text: str) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = text
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


@pytest.fixture
def outbox(tmp_path) -> Path:
    """A run.json per the batch contract plus fake outputs with Chinese file names."""
    out = tmp_path / "outbox"
    files = []
    for rel, project in PROJECTS:
        stem = rel[:-len(".xlsx")]
        report, book = f"{stem}.自评价报告.docx", f"{stem}.复核.xlsx"
        _docx(out / report, f"{stem} 自评价报告")
        if project is None:
            (out / book).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(SAMPLE, out / book)  # a real form: reader.read finds project and department
        else:
            _xlsx(out / book, f"{stem} 复核")
        entry = {"input": rel, "status": "ok", "error": None, "outputs": [book, report],
                 "totals": {"stated": 77.38, "self": 77.38, "computed": 80.5},
                 "findings": {"error": 1, "warning": 2, "info": 3}, "sha256": "0" * 64}
        if project is not None:
            entry["project"] = project
        files.append(entry)
    files.append({"input": "坏文件.xlsx", "status": "failed", "error": {"code": "CORRUPT", "message": "[CORRUPT] 坏文件.xlsx：文件已损坏"},
                  "outputs": [], "totals": None, "findings": None, "sha256": "1" * 64})
    run = {"started": "2020-01-01T00:00:00+08:00", "finished": "2020-01-01T00:01:00+08:00", "options": {},
           "counts": {"ok": 4, "failed": 1, "skipped": 0}, "files": files}
    (out / "run.json").write_text(json.dumps(run, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


@pytest.fixture
def recipients(tmp_path) -> Path:
    p = tmp_path / "recipients.csv"
    p.write_bytes(b"\xef\xbb\xbf" + RECIPIENTS.encode("utf-8"))  # as Excel saves "CSV UTF-8"
    return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """Collects envelopes; refuses addresses in ``refuse`` (550) and drops the connection at
    DATA when a recipient is in ``drop``."""

    def __init__(self):
        self.envelopes = []
        self.refuse: set[str] = set()
        self.drop: set[str] = set()
        self.auth_logins: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop & {a.lower() for a in envelope.rcpt_tos}:
            server.transport.close()
            return "421 closing"
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self):
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@contextlib.contextmanager
def serving(handler, **options):
    """An aiosmtpd server on a free 127.0.0.1 port for the block: yields the port."""
    port = _free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port, **options)
    ctl.start()
    try:
        yield port
    finally:
        ctl.stop()


@pytest.fixture
def smtp_server():
    handler = Collector()
    with serving(handler) as port:
        yield handler, port


def _cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography, or the openssl command)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        if not shutil.which("openssl"):
            pytest.skip("neither cryptography nor openssl available for a test certificate")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        return cert, key
    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                     x509.DNSName("localhost")]), critical=False)
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .sign(k, hashes.SHA256()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return cert, key


def _authenticator(handler: Collector):
    def auth(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            handler.auth_logins.append(auth_data.login.decode())
            if auth_data.login == b"reviewer" and auth_data.password == PASSWORD.encode():
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)
    return auth


@pytest.fixture
def tls_server(tmp_path):
    """STARTTLS required, AUTH required (and only offered after TLS)."""
    cert, key = _cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = Collector()
    with serving(handler, tls_context=ctx, require_starttls=True, authenticator=_authenticator(handler),
                 auth_required=True, auth_require_tls=True) as port:
        yield handler, port, cert


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _send_args(outbox, recipients, port, *extra):
    return ["mail", outbox, "--recipients", recipients, "--send", "--smtp-host", "127.0.0.1",
            "--smtp-port", port, "--from", "复核组 <review@example.com>", *extra]


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in sorted(path.rglob("*"))}


# ---- recipients.csv ------------------------------------------------------------------------

def test_recipients_utf8_bom_gbk_and_english_header(tmp_path, recipients):
    rules = mail.load_recipients(recipients)
    assert [r.pattern for r in rules] == ["苏州市工业和信息化局", "*农田*.xlsx", "科技/科技创新券_2020.xlsx"]
    assert rules[0].to == ("gxj@example.com",) and rules[0].cc == ("leader@example.com",)
    assert not rules[0].is_file and rules[1].is_file and rules[2].is_file
    assert rules[1].to == ("nongye@example.com", "张三 <zs@example.com>")
    assert rules[2].to == ("kj@example.com", "kj2@example.com") and rules[2].cc == ("gxj@example.com",)

    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes("主管部门或文件,收件人,抄送\n苏州市工业和信息化局,a@example.com，b@example.com,\n".encode("gbk"))
    (r,) = mail.load_recipients(gbk)
    assert r.pattern == "苏州市工业和信息化局" and r.to == ("a@example.com", "b@example.com")

    en = tmp_path / "en.csv"
    en.write_text("Match;To;Cc\n*.xlsx;x@example.com;y@example.com\n", encoding="utf-8")
    (r,) = mail.load_recipients(en)
    assert r.is_file and r.to == ("x@example.com",) and r.cc == ("y@example.com",)


@pytest.mark.parametrize("text, words", [
    ("部门,地址\n甲,a@example.com\n", ["表头", "匹配", "收件人"]),
    ("匹配,收件人\n甲,not-an-address\n", ["第 2 行", "not-an-address"]),
    ("匹配,收件人\n甲,\n", ["第 2 行", "收件人"]),
    ("匹配,收件人\n甲,a@example.com\n乙,b@example.com\n甲,c@example.com\n", ["第 4 行", "第 2 行", "重复"]),
])
def test_recipients_errors_name_the_line(tmp_path, text, words):
    p = tmp_path / "r.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(mail.MailError) as e:
        mail.load_recipients(p)
    for w in words:
        assert w in str(e.value)


def test_file_rules_before_department_rules():
    rules = [mail.Rule("苏州市工业和信息化局", ("a@x.cn",), (), 2, False),
             mail.Rule("*工业*.xlsx", ("b@x.cn",), (), 3, True)]
    assert mail.find_rule(rules, "工业/某工业项目.xlsx", "苏州市工业和信息化局").to == ("b@x.cn",)
    assert mail.find_rule(rules, "其他/某项目.xlsx", "苏州市工业和信息化局").to == ("a@x.cn",)
    assert mail.find_rule(rules, "其他/某项目.xlsx", "苏州市工业和信息化局分局") is None  # exact, not a prefix
    win = mail.Rule("科技/*.XLSX", ("c@x.cn",), (), 4, True)
    assert win.matches("科技/创新券.xlsx", "") and not win.matches("其他/创新券.xlsx", "")


# ---- drafts --------------------------------------------------------------------------------

def test_drafts_parse_back_with_chinese_names_and_no_name_param(capsys, outbox, recipients):
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--attach", "report,workbook")
    assert rc == 1, out + err  # 城市绿化养护经费 has no recipient
    assert "未找到收件人" in out and "城市绿化养护经费" in out and "苏州市园林和绿化管理局" in out
    assert "坏文件.xlsx" in out  # listed as not reviewed, not mailed
    emls = sorted((outbox / "mail").glob("*.eml"))
    assert [p.name for p in emls] == ["农田水利建设补助资金.eml", "苏州市打造先进制造业基地专项资金.eml",
                                      "苏州市打造先进制造业基地专项资金_科技创新券_2020.eml"]
    assert not (outbox / "mail" / "sent.json").exists()
    for eml in emls:
        raw = eml.read_bytes()
        assert not re.search(rb";\s*name\*?\d*\*?=", raw, re.I), "no name= parameter on Content-Type"
        assert b"\r\n" in raw
        msg = message_from_bytes(raw, policy=policy.default)
        assert msg["X-Unsent"] == "1"
        assert msg["Message-ID"] and msg["Date"]
        assert "example.invalid" in msg["From"]  # placeholder sender until --from
        assert "绩效自评复核结果" in msg["Subject"]
        names = {}
        for part in msg.iter_attachments():
            assert part.get_param("name") is None
            names[part.get_filename()] = part
        stem = {"农田水利建设补助资金.eml": "农业/农田水利建设补助资金_2020",
                "苏州市打造先进制造业基地专项资金.eml": "工业/苏州市打造先进制造业基地专项资金_2020",
                "苏州市打造先进制造业基地专项资金_科技创新券_2020.eml": "科技/科技创新券_2020"}[eml.name]
        report, book = outbox / f"{stem}.自评价报告.docx", outbox / f"{stem}.复核.xlsx"
        assert set(names) == {report.name, book.name}
        assert names[report.name].get_content_type() == DOCX
        assert names[book.name].get_content_type() == XLSX
        assert names[report.name].get_content() == report.read_bytes()
        assert names[book.name].get_content() == book.read_bytes()
        body = msg.get_body(("plain",)).get_content()
        assert "77.38" in body and "80.5" in body and report.name in body
    nong = message_from_bytes((outbox / "mail" / "农田水利建设补助资金.eml").read_bytes(), policy=policy.default)
    assert nong["Subject"] == "2020年度“农田水利建设补助资金”绩效自评复核结果"
    assert [a.addr_spec for a in nong["To"].addresses] == ["nongye@example.com", "zs@example.com"]
    assert nong["To"].addresses[1].display_name == "张三"
    kj = message_from_bytes((outbox / "mail" / "苏州市打造先进制造业基地专项资金_科技创新券_2020.eml").read_bytes(),
                            policy=policy.default)
    # project fields read from the reviewed workbook when run.json has no "project"
    assert "苏州市工业和信息化局" in kj.get_body(("plain",)).get_content()
    assert [a.addr_spec for a in kj["To"].addresses] == ["kj@example.com", "kj2@example.com"]
    assert [a.addr_spec for a in kj["Cc"].addresses] == ["gxj@example.com"]


def test_draft_for_run_hook_and_from(outbox, recipients):
    result = mail.draft_for_run(outbox, recipients)
    assert result.exit_code == 1 and len(result.drafted) == 3
    assert [o.project for o in result.unmatched] == ["城市绿化养护经费"]
    msg = message_from_bytes((outbox / "mail" / "农田水利建设补助资金.eml").read_bytes(), policy=policy.default)
    assert [p.get_filename() for p in msg.iter_attachments()] == ["农田水利建设补助资金_2020.自评价报告.docx"]
    r = mail.mail(outbox, recipients, from_addr="复核组 <review@example.com>")
    msg = message_from_bytes((outbox / "mail" / "农田水利建设补助资金.eml").read_bytes(), policy=policy.default)
    assert msg["From"].addresses[0].addr_spec == "review@example.com" and r.exit_code == 1


def test_draft_names_never_escape_the_folder(outbox, recipients):
    run = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    run["files"][0]["project"]["name"] = "../../..\\evil/CON"
    run["files"][1]["outputs"].append("../../etc/passwd")
    (outbox / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    result = mail.mail(outbox, recipients)
    for o in result.drafted:
        target = (outbox / o.draft).resolve()
        assert target.parent == (outbox / "mail").resolve()
    bad = [o for o in result.failed if o.input.startswith("农业/")]
    assert bad and "不在输出文件夹内" in bad[0].detail
    assert not list(outbox.parent.glob("*.eml")) and not list(outbox.glob("*.eml"))


def test_missing_attachment_fails_that_project_only(outbox, recipients):
    result = mail.mail(outbox, recipients, attach="report,pdf")
    assert len(result.failed) == 3 and all("PDF" in o.detail for o in result.failed)
    assert result.exit_code == 1
    with pytest.raises(mail.MailError, match="--attach"):
        mail.mail(outbox, recipients, attach="report,zip")


def test_dry_run_writes_nothing_and_lists_recipients(capsys, outbox, recipients):
    before = _tree(outbox)
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--dry-run", "--send",
                           "--smtp-host", "192.0.2.1", "--attach", "report,workbook")
    assert rc == 1
    assert _tree(outbox) == before
    assert "将发送（3）" in out and "nongye@example.com" in out and "张三 <zs@example.com>" in out
    assert "农田水利建设补助资金_2020.复核.xlsx" in out and "未找到收件人（1）" in out


# ---- templates -----------------------------------------------------------------------------

def test_custom_templates_and_errors_name_the_line(capsys, tmp_path, outbox, recipients):
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    (tdir / "subject.txt.j2").write_text("【{{ 主管部门 }}】{{ project.name }} R&D <5% {{ totals.computed }}\n", encoding="utf-8")
    result = mail.mail(outbox, recipients, templates=tdir)
    msg = message_from_bytes((outbox / "mail" / "农田水利建设补助资金.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == "【苏州市农业农村局】农田水利建设补助资金 R&D <5% 80.5"  # no HTML escaping
    assert "绩效自评表的复核结果" in msg.get_body(("plain",)).get_content()  # bundled body used
    assert result.exit_code == 1

    (tdir / "body.txt.j2").write_text("您好\n\n{{ 项目名陈 }}\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="第 3 行") as e:
        mail.mail(outbox, recipients, templates=tdir)
    assert "项目名陈" in str(e.value) and "body.txt.j2" in str(e.value)

    (tdir / "body.txt.j2").write_text("一\n{% if 年度 %}\n二\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="第 3 行"):
        mail.mail(outbox, recipients, templates=tdir)

    (tdir / "body.txt.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n", encoding="utf-8")
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--mail-templates", tdir)
    assert rc == 2 and "邮件模板" in err and "第 1 行" in err


# ---- SMTP ----------------------------------------------------------------------------------

def _by_subject(handler: Collector) -> dict:
    return {m["Subject"]: m for m in handler.messages()}


def test_send_delivers_byte_identical_attachments_and_never_twice(capsys, monkeypatch, outbox, recipients, smtp_server):
    handler, port = smtp_server
    monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--attach", "report,workbook"))
    assert rc == 1, out + err  # one project without recipients
    assert "已发送（3）" in out and "未找到收件人（1）" in out
    assert not list((outbox / "mail").glob("*.eml"))  # sending writes no drafts
    assert len(handler.envelopes) == 3
    env = {tuple(sorted(e.rcpt_tos)): e for e in handler.envelopes}
    assert ("nongye@example.com", "zs@example.com") in env
    assert ("gxj@example.com", "leader@example.com") in env
    assert all(e.mail_from == "review@example.com" for e in handler.envelopes)

    msgs = _by_subject(handler)
    m = msgs["2020年度“农田水利建设补助资金”绩效自评复核结果"]
    assert m["From"].addresses[0].display_name == "复核组"
    assert "X-Unsent" not in m
    atts = {p.get_filename(): p for p in m.iter_attachments()}
    report = outbox / "农业/农田水利建设补助资金_2020.自评价报告.docx"
    book = outbox / "农业/农田水利建设补助资金_2020.复核.xlsx"
    assert atts[report.name].get_content() == report.read_bytes()
    assert atts[book.name].get_content() == book.read_bytes()
    assert atts[report.name].get_content_type() == DOCX
    assert not re.search(rb";\s*name\*?\d*\*?=", handler.envelopes[0].content, re.I)

    ledger = json.loads((outbox / "mail" / "sent.json").read_text(encoding="utf-8"))
    assert len(ledger["messages"]) == 3
    entry = next(v for v in ledger["messages"].values() if v["input"].startswith("农业/"))
    assert entry["message_id"] == m["Message-ID"]
    assert entry["attachments"][report.name] == hashlib.sha256(report.read_bytes()).hexdigest()

    # a second run sends nothing
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--attach", "report,workbook"))
    assert len(handler.envelopes) == 3
    assert "已发送过，跳过（3）" in out and "发送 0 封" in out

    # a changed attachment is reported, and re-sent only with --resend-changed
    _docx(report, "改过的报告")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--attach", "report,workbook"))
    assert len(handler.envelopes) == 3 and "附件已变化，未重发" in out
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--attach", "report,workbook", "--resend-changed"))
    assert len(handler.envelopes) == 4 and "已发送（1）" in out
    last = message_from_bytes(handler.envelopes[-1].content, policy=policy.default)
    assert {p.get_filename(): p.get_content() for p in last.iter_attachments()}[report.name] == report.read_bytes()
    ledger = json.loads((outbox / "mail" / "sent.json").read_text(encoding="utf-8"))
    entry = next(v for v in ledger["messages"].values() if v["input"].startswith("农业/"))
    assert entry["history"][0]["message_id"] == m["Message-ID"]

    # different recipients for the same file is a different message
    changed = recipients.read_text(encoding="utf-8-sig").replace("gxj@example.com,leader@example.com", "new@example.com,")
    recipients.write_text(changed, encoding="utf-8")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--attach", "report,workbook"))
    assert len(handler.envelopes) == 5 and handler.envelopes[-1].rcpt_tos == ["new@example.com"]


def test_refused_recipient_is_reported_and_the_rest_delivered(capsys, outbox, recipients, smtp_server):
    handler, port = smtp_server
    handler.refuse = {"zs@example.com", "kj@example.com", "kj2@example.com"}
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 1
    # 农业: one of two refused (partial); 科技: both To refused, its Cc still gets it (partial)
    delivered = sorted(a for e in handler.envelopes for a in e.rcpt_tos)
    assert "nongye@example.com" in delivered and "zs@example.com" not in delivered
    assert "gxj@example.com" in delivered and "leader@example.com" in delivered
    assert "部分收件人被拒收" in out and "zs@example.com（550" in out

    # all recipients refused -> that message fails, nothing recorded for it
    handler.refuse = {"nongye@example.com", "zs@example.com"}
    recipients2 = recipients.with_name("r2.csv")
    recipients2.write_text("匹配,收件人\n*农田*.xlsx,nongye@example.com;zs@example.com\n"
                           "苏州市农业农村局,x@example.com\n", encoding="utf-8")
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients2, "--send", "--smtp-host", "127.0.0.1",
                           "--smtp-port", port, "--from", "review@example.com", "--attach", "report")
    assert "全部收件人被服务器拒收" in out and rc == 1

    # the refused address of the partial message is retried alone once the server accepts it
    handler.refuse = set()
    n = len(handler.envelopes)
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    new = handler.envelopes[n:]
    assert [e.rcpt_tos for e in new] == [["zs@example.com"], ["kj@example.com", "kj2@example.com"]]
    assert "将补发" not in out and "补发给上次被拒收的收件人" in out
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == n + 2 and "已发送过，跳过（3）" in out


def test_dropped_connection_fails_one_message_and_reconnects(capsys, outbox, recipients, smtp_server):
    """Changed by issue 15: the server drops the connection after the final "." of DATA, so the
    client cannot know whether the message was stored: it is "uncertain", recorded, never re-sent
    on its own (only with --resend-uncertain); the other messages go out over a new connection."""
    handler, port = smtp_server
    handler.drop = {"gxj@example.com"}  # the 工业 message (and 科技's Cc)
    recipients.write_text(RECIPIENTS.replace(",gxj@example.com\n", ",\n"), encoding="utf-8")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 1
    assert "结果不确定（服务器可能已收到）" in out and "未收到服务器确认" in out
    got = sorted(tuple(sorted(e.rcpt_tos)) for e in handler.envelopes)
    assert got == [("kj2@example.com", "kj@example.com"), ("nongye@example.com", "zs@example.com")]
    ledger = json.loads((outbox / "mail" / "sent.json").read_text(encoding="utf-8"))
    gx = ledger["messages"]["工业/苏州市打造先进制造业基地专项资金_2020.xlsx"]
    assert sorted(gx["uncertain"]) == ["gxj@example.com", "leader@example.com"] and "delivered" not in gx
    handler.drop = set()
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 2 and rc == 1 and "发送 0 封" in out
    assert "结果不确定（服务器可能已收到），未重发；确认对方未收到后可加 --resend-uncertain（1）" in out
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--resend-uncertain"))
    assert len(handler.envelopes) == 3 and "已发送（1）" in out and rc == 1  # 1: one project has no recipient
    assert sorted(handler.envelopes[-1].rcpt_tos) == ["gxj@example.com", "leader@example.com"]
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 3 and "已发送过，跳过（3）" in out


def test_starttls_and_auth_password_from_env_never_printed(capsys, monkeypatch, tmp_path, outbox, recipients, tls_server):
    handler, port, cert = tls_server
    cfg = tmp_path / "smtp.toml"
    cfg.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ncafile = "{cert.as_posix()}"\n', encoding="utf-8")
    base = ["mail", outbox, "--recipients", recipients, "--send", "--smtp-config", cfg, "--starttls",
            "--smtp-user", "reviewer", "--from", "review@example.com"]

    monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
    rc, out, err = run_cli(capsys, *base)
    assert rc == 2 and mail.PASSWORD_ENV in err and not handler.envelopes

    monkeypatch.setenv(mail.PASSWORD_ENV, "wrong-" + PASSWORD)
    rc, out, err = run_cli(capsys, *base)
    assert rc == 1 and "登录失败" in out and not handler.envelopes
    assert PASSWORD not in out + err

    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    rc, out, err = run_cli(capsys, *base)
    assert rc == 1 and "已发送（3）" in out, out + err
    assert len(handler.envelopes) == 3 and "reviewer" in handler.auth_logins
    assert PASSWORD not in out + err
    ledger_text = (outbox / "mail" / "sent.json").read_text(encoding="utf-8")
    assert PASSWORD not in ledger_text

    # without STARTTLS the server refuses (require_starttls) and we refuse to log in in clear
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--send", "--smtp-config", cfg,
                           "--smtp-user", "reviewer", "--from", "review@example.com")
    assert rc == 2 and "--starttls" in err


def test_starttls_untrusted_certificate_is_refused(capsys, monkeypatch, tmp_path, outbox, recipients, tls_server):
    handler, port, cert = tls_server
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port, "--starttls", "--smtp-user", "reviewer"))
    assert rc == 1 and "证书校验失败" in out and not handler.envelopes
    assert "失败（3）" in out and out.count("未发送：") == 2  # sending stopped after the first failure


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_password_from_ini_config_and_implicit_ssl(capsys, monkeypatch, tmp_path, outbox, recipients):
    cert, key = _cert(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    handler = Collector()
    # aiosmtpd only counts STARTTLS as "TLS" for auth_require_tls; the connection is TLS from the start here
    with serving(handler, ssl_context=ctx, authenticator=_authenticator(handler), auth_required=True,
                 auth_require_tls=False) as port:
        cfg = tmp_path / "smtp.ini"
        cfg.write_text(f"[smtp]\nhost = 127.0.0.1\nport = {port}\nsecurity = ssl\nuser = reviewer\n"
                       f"password = {PASSWORD}\nfrom = review@example.com\ncafile = {cert}\n", encoding="utf-8")
        cfg.chmod(0o600)
        monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
        rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--send", "--smtp-config", cfg)
        assert "已发送（3）" in out, out + err
        assert len(handler.envelopes) == 3
        assert PASSWORD not in out + err


def test_password_is_not_an_argument():
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["mail", "o", "--recipients", "r.csv", "--smtp-password", "x"])


def test_cannot_connect_reports_every_message(capsys, outbox, recipients):
    port = _free_port()  # nothing listens here
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 1 and "无法连接 SMTP 服务器" in out and "失败（3）" in out
    assert not (outbox / "mail" / "sent.json").exists()


def test_corrupt_ledger_stops_sending(capsys, outbox, recipients, smtp_server):
    handler, port = smtp_server
    (outbox / "mail").mkdir()
    (outbox / "mail" / "sent.json").write_text("{broken", encoding="utf-8")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 2 and "sent.json" in err and not handler.envelopes


# ---- with the real batch -------------------------------------------------------------------

@pytest.mark.slow
def test_drafts_over_a_real_run(capsys, tmp_path):
    pytest.importorskip("selfeval_xl.batch")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy2(SAMPLE, inbox / SAMPLE.name)
    out = tmp_path / "out"
    rc, o, e = run_cli(capsys, "run", inbox, "-o", out, "-q")
    assert rc == 0, o + e
    rec = tmp_path / "r.csv"
    rec.write_text("匹配,收件人\n苏州市工业和信息化局,gxj@example.com\n", encoding="utf-8")
    rc, o, e = run_cli(capsys, "mail", out, "--recipients", rec, "--attach", "report,workbook")
    assert rc == 0, o + e
    (eml,) = (out / "mail").glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["X-Unsent"] == "1"
    assert sorted(p.get_filename() for p in msg.iter_attachments()) == [
        "苏州市打造先进制造业基地专项资金_2020.复核.xlsx", "苏州市打造先进制造业基地专项资金_2020.自评价报告.docx"]
    assert "2020年度" in msg["Subject"] and "苏州市打造先进制造业基地专项资金" in msg["Subject"]


@pytest.mark.slow
def test_run_with_mail_option_writes_drafts(capsys, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy2(SAMPLE, inbox / SAMPLE.name)
    rec = tmp_path / "r.csv"
    rec.write_text("匹配,收件人\n苏州市工业和信息化局,gxj@example.com\n", encoding="utf-8-sig")
    out = tmp_path / "out"
    rc, o, e = run_cli(capsys, "run", inbox, "-o", out, "-q", "--no-report", "--mail", rec, "--mail-attach", "workbook")
    assert rc == 0, o + e
    (eml,) = (out / "mail").glob("*.eml")
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["To"] == "gxj@example.com"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["苏州市打造先进制造业基地专项资金_2020.复核.xlsx"]
    rc, o, e = run_cli(capsys, "run", inbox, "-o", tmp_path / "out2", "-q", "--mail", tmp_path / "missing.csv")
    assert rc == 2 and "收件人文件不存在" in e
