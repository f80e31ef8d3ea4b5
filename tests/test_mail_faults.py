"""Mail never twice (issue 15): a fault-injecting SMTP server on 127.0.0.1, a ledger that cannot
be written, a new Cc, a killed sender, duplicates, projects of one workbook, template bombs."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from selfeval_xl import ledger as ledgers
from selfeval_xl import mail
from selfeval_xl.lock import outbox_lock

from test_mail import RECIPIENTS, Collector, _docx, _send_args, outbox, recipients, run_cli, serving, smtp_server  # noqa: E402,F401

GX = "工业/苏州市打造先进制造业基地专项资金_2020.xlsx"
NY = "农业/农田水利建设补助资金_2020.xlsx"


class SlowAck(Collector):
    """Stores the message, then answers 250 only after ``delay`` seconds (past the client timeout)."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay
        self.slow: set[str] = set()

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        if self.slow & {a.lower() for a in envelope.rcpt_tos}:
            await asyncio.sleep(self.delay)
        return "250 Message accepted"


@pytest.fixture
def slow_server():
    handler = SlowAck(delay=3.0)
    with serving(handler) as port:
        yield handler, port


def _cfg(tmp_path: Path, port: int, timeout: float = 1.0) -> Path:
    cfg = tmp_path / "smtp.toml"
    cfg.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\ntimeout = {timeout}\nfrom = "review@example.com"\n',
                   encoding="utf-8")
    return cfg


def _ledger(outbox: Path) -> dict:
    return json.loads((outbox / "mail" / "sent.json").read_text(encoding="utf-8"))["messages"]


def test_late_250_is_uncertain_and_never_resent_without_the_flag(capsys, tmp_path, outbox, recipients, slow_server):
    handler, port = slow_server
    handler.slow = {"nongye@example.com"}
    args = ["mail", outbox, "--recipients", recipients, "--send", "--smtp-config", _cfg(tmp_path, port)]
    rc, out, err = run_cli(capsys, *args)
    assert rc == 1
    assert len(handler.envelopes) == 3  # the server stored all three, one answer came too late
    assert "结果不确定（服务器可能已收到）" in out and "农田水利建设补助资金" in out
    entry = _ledger(outbox)[NY]
    assert set(entry["uncertain"]) == {"nongye@example.com", "zs@example.com"}
    assert entry["uncertain"]["zs@example.com"]["message_id"].startswith("<")
    assert entry["attachments"] and "sending" not in entry
    handler.slow = set()
    for _ in range(2):  # re-runs list it and send nothing
        rc, out, err = run_cli(capsys, *args)
        assert len(handler.envelopes) == 3 and rc == 1
        assert "结果不确定（服务器可能已收到），未重发；确认对方未收到后可加 --resend-uncertain（1）" in out
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--dry-run")
    assert "结果不确定，不会重发（需要时加 --resend-uncertain）（1）" in out
    rc, out, err = run_cli(capsys, *args, "--resend-uncertain")
    assert len(handler.envelopes) == 4 and sorted(handler.envelopes[-1].rcpt_tos) == ["nongye@example.com", "zs@example.com"]
    assert "uncertain" not in _ledger(outbox)[NY] and _ledger(outbox)[NY]["delivered"] == ["nongye@example.com", "zs@example.com"]


def test_ledger_write_error_after_a_send_stops_before_the_next_message(capsys, monkeypatch, outbox, recipients, smtp_server):
    handler, port = smtp_server
    real_save = ledgers.save
    calls = []

    def failing_save(path, data):
        calls.append(1)
        if len(calls) == 2:  # phase 1 of message 1 is saved, its phase 2 meets a full disk
            raise ledgers.LedgerError(f"无法写入发送记录 {path}（No space left on device）")
        real_save(path, data)

    monkeypatch.setattr(ledgers, "save", failing_save)
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 1 and rc == 1
    assert "No space left on device" in out and "已停止发送" in out
    assert "未发送（发送已停止）（2）" in out
    assert "Traceback" not in out + err
    monkeypatch.setattr(ledgers, "save", real_save)
    first = handler.envelopes[0].rcpt_tos
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    # the message that went out is on record as "sending": uncertain, not sent again
    assert len(handler.envelopes) == 3
    assert all(e.rcpt_tos != first for e in handler.envelopes[1:])
    assert "结果不确定（服务器可能已收到）" in out and "中断，服务器是否已收到未知" in out


def test_ledger_write_error_before_data_sends_nothing(capsys, monkeypatch, outbox, recipients, smtp_server):
    handler, port = smtp_server

    def full(path, data):
        raise ledgers.LedgerError(f"无法写入发送记录 {path}（No space left on device）")

    monkeypatch.setattr(ledgers, "save", full)
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert handler.envelopes == [] and rc == 1
    assert "未发送：无法写入发送记录" in out and "未发送（发送已停止）（2）" in out


def test_killed_during_data_is_uncertain(capsys, outbox, recipients, smtp_server):
    """A sender killed between phase 1 and the answer leaves a "sending" record: uncertain."""
    handler, port = smtp_server
    (outbox / "mail").mkdir()
    ledgers.save(outbox / "mail" / "sent.json", {"version": 2, "messages": {NY: {
        "input": NY, "sending": {"message_id": "<x@y>", "attachments": {}, "rcpts": ["nongye@example.com", "zs@example.com"],
                                 "since": "2026-01-01T00:00:00+08:00"}}}})
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert sorted(tuple(sorted(e.rcpt_tos)) for e in handler.envelopes) == [
        ("gxj@example.com", "kj2@example.com", "kj@example.com"), ("gxj@example.com", "leader@example.com")]
    assert "Message-ID <x@y>）中断" in out


def test_a_new_cc_gets_only_what_it_has_not_had(capsys, outbox, recipients, smtp_server):
    handler, port = smtp_server
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 3
    recipients.write_text(RECIPIENTS.replace("gxj@example.com,leader@example.com", "gxj@example.com,leader@example.com;boss@example.com"),
                          encoding="utf-8")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 4 and handler.envelopes[-1].rcpt_tos == ["boss@example.com"]
    assert "发给尚未收到过的收件人（如新增的抄送）：boss@example.com" in out
    msg = handler.messages()[-1]
    assert "boss@example.com" in str(msg["Cc"]) and "leader@example.com" in str(msg["Cc"])
    assert sorted(_ledger(outbox)[GX]["delivered"]) == ["boss@example.com", "gxj@example.com", "leader@example.com"]
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 4 and "已发送过，跳过（3）" in out


def test_v1_ledger_is_migrated_and_not_resent(capsys, outbox, recipients, smtp_server):
    handler, port = smtp_server
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 3
    led = json.loads((outbox / "mail" / "sent.json").read_text(encoding="utf-8"))
    old = {f"{k}|to=x|cc=": v for k, v in led["messages"].items()}  # the v1 key format
    (outbox / "mail" / "sent.json").write_text(json.dumps({"version": 1, "messages": old}), encoding="utf-8")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert len(handler.envelopes) == 3 and "已发送过，跳过（3）" in out


def test_attachment_rewritten_after_the_run_is_not_sent(capsys, outbox, recipients, smtp_server):
    """run.json records each output's sha256: a report rewritten later (a killed run under
    another profile) is not the one run.json describes, and is not mailed with its numbers."""
    handler, port = smtp_server
    import hashlib

    data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    for e in data["files"]:
        e["output_sha256"] = {o: hashlib.sha256((outbox / o).read_bytes()).hexdigest() for o in e["outputs"]}
    (outbox / "run.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    _docx(outbox / "农业/农田水利建设补助资金_2020.自评价报告.docx", "另一次运行写的报告")
    rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 1 and len(handler.envelopes) == 2
    assert "附件与 run.json 记录的不一致（可能被另一次运行改写）：农田水利建设补助资金_2020.自评价报告.docx" in out


def test_duplicates_mailed_once_and_one_draft_per_project(capsys, outbox, recipients):
    data = json.loads((outbox / "run.json").read_text(encoding="utf-8"))
    files = {e["input"]: e for e in data["files"]}
    gx = files[GX]
    gx["projects"] = [
        {"sheet": "自评表", "project": gx["project"], "totals": gx["totals"], "findings": gx["findings"], "outputs": gx["outputs"]},
        {"sheet": "项目二", "project": {"name": "第二个项目", "department": "苏州市工业和信息化局", "year": 2020},
         "totals": {"stated": 90, "self": 90, "computed": 88.5}, "findings": gx["findings"], "outputs": gx["outputs"]},
    ]
    files[NY]["duplicate_of"] = GX
    (outbox / "run.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients)
    names = sorted(p.name for p in (outbox / "mail").glob("*.eml"))
    assert names == ["第二个项目.eml", "苏州市打造先进制造业基地专项资金.eml",
                     "苏州市打造先进制造业基地专项资金_科技创新券_2020.eml"]  # no draft for the duplicate 农业 file
    assert f"重复提交的同一项目（DUPLICATE_PROJECT），只发送一次（1）" in out
    assert f"与 {GX} 为同一项目" in out


@pytest.mark.parametrize("body", [
    '{{ "%0300000000d" % 1 }}',
    "{{ ''|center(10**8) }}",
    "{{ '{:>300000000}'.format(1) }}",
    "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ '0123456789' }}{% endfor %}{% endfor %}",
])
def test_mail_template_bombs_are_template_errors(capsys, tmp_path, outbox, recipients, body):
    import time

    tdir = tmp_path / "tpl"
    tdir.mkdir()
    (tdir / "body.txt.j2").write_text(body + "\n", encoding="utf-8")
    t = time.monotonic()
    rc, out, err = run_cli(capsys, "mail", outbox, "--recipients", recipients, "--mail-templates", tdir)
    assert rc == 2 and "邮件模板 body.txt.j2" in err and ("过大" in err or "过长" in err or "超过" in err), err
    assert time.monotonic() - t < 20
    assert not list((outbox / "mail").glob("*.eml")) if (outbox / "mail").exists() else True


def test_send_refused_while_a_run_holds_the_outbox(capsys, outbox, recipients, smtp_server):
    handler, port = smtp_server
    with outbox_lock(outbox, "运行批量复核"):
        rc, out, err = run_cli(capsys, *_send_args(outbox, recipients, port))
    assert rc == 2 and handler.envelopes == []
    assert "正被另一个 selfeval-xl 使用（进程" in err
