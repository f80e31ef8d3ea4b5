"""Command line: parses arguments, calls the core, maps errors to exit codes and messages.

Exit codes (errors.ExitCode): 0 done, 1 some files/mails failed, 2 usage error, unreadable file
(check) or OUTBOX locked, 70 internal error (a bug; ``--traceback`` shows it), 130 interrupted,
141 stdout closed by its reader.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from .errors import ExitCode, ReadError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE


def _setup_console() -> None:
    """Survive a GBK console: characters it cannot show become '?' instead of a crash."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_check(args) -> int:
    from .review import evaluation_json, review, to_json
    from .reader import read
    from .text import review_summary

    if args.profile != "auto":
        from .rules import load_profile

        try:
            load_profile(args.profile)
        except ValueError as err:
            raise UsageError(str(err)) from None
    try:
        ev = read(args.file)
    except ReadError as err:
        if args.json:
            _print_json({"file": Path(args.file).name, "error": err.to_dict()})
        print(err.message, file=sys.stderr)
        return EXIT_USAGE
    if args.no_score:
        _print_json(evaluation_json(ev))
        return EXIT_OK
    r = review(ev, args.profile)
    if args.json:
        _print_json(to_json(r))
    else:
        print(review_summary(r))
    return EXIT_OK


def cmd_parse(args) -> int:
    from . import values

    ms = [values.parse(t) for t in args.text]
    if args.json:
        _print_json([m.to_dict() for m in ms])
    else:
        for m in ms:
            print(f"{m.text}\t{m.kind}\t{m.display}")
    return EXIT_OK


def cmd_profiles(args) -> int:
    from .rules import load_profile, profile_names

    for name in profile_names():
        print(f"{name}\t{load_profile(name).title}")
    return EXIT_OK


def cmd_template(args) -> int:
    from . import form

    out = form.write(Path(args.output))
    print(f"已生成空白自评表：{out}")
    return EXIT_OK


def cmd_run(args) -> int:
    """Batch: review every workbook under INBOX into OUTBOX (see batch.py)."""
    from . import batch

    try:
        inbox, outbox, options = batch.options_from_args(args)
        if args.mail:
            from . import mail

            if not Path(args.mail).is_file():
                raise UsageError(f"收件人文件不存在：{args.mail}")
            kinds = mail.parse_attach(args.mail_attach)
            if not options.report and ({"report", "pdf"} & set(kinds)):
                raise UsageError("--no-report 时没有自评价报告可附：请去掉 --no-report，或用 --mail-attach workbook 只附复核工作簿")
    except UsageError as err:
        print(f"错误：{err}", file=sys.stderr)
        return EXIT_USAGE
    rc = batch.run(inbox, outbox, options)
    if args.mail and rc in (EXIT_OK, EXIT_FAILED):
        from . import mail
        from .errors import TemplateError

        try:
            result = mail.draft_for_run(outbox, Path(args.mail), attach=args.mail_attach)
        except (mail.MailError, TemplateError) as err:
            print(f"错误：{err}", file=sys.stderr)
            return EXIT_USAGE
        print(result.summary())
        rc = max(rc, result.exit_code)
    return rc


def cmd_mail(args) -> int:
    """E-mail the outputs of a run: .eml drafts (default), SMTP (--send) or a dry run (mail.py)."""
    from . import mail
    from .errors import TemplateError

    try:
        smtp = None
        if args.send and not args.dry_run:
            security = "starttls" if args.starttls else ("ssl" if args.ssl else None)
            smtp = mail.smtp_settings(host=args.smtp_host, port=args.smtp_port, security=security,
                                      user=args.smtp_user, from_addr=args.from_addr, config=args.smtp_config)
        result = mail.mail(Path(args.outbox), Path(args.recipients), attach=args.attach, send=args.send,
                           dry_run=args.dry_run, smtp=smtp, from_addr=args.from_addr,
                           templates=Path(args.mail_templates) if args.mail_templates else None,
                           resend_changed=args.resend_changed, resend_uncertain=args.resend_uncertain)
    except (mail.MailError, TemplateError) as err:
        print(f"错误：{err}", file=sys.stderr)
        return EXIT_USAGE
    print(result.summary())
    return result.exit_code


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="selfeval-xl", description="绩效自评表复核：按填表说明重新评分，生成复核工作簿和自评价报告")
    p.add_argument("--traceback", action="store_true", help="程序内部错误时显示完整的 Python 调用栈（报告问题时附上）")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="读取并复核一个自评表，输出结果")
    c.add_argument("file")
    c.add_argument("--json", action="store_true", help="输出 JSON")
    c.add_argument("--profile", default="auto", help="评分规则配置（名称或 .toml 路径；auto：按识别出的表式自动选择）")
    c.add_argument("--no-score", action="store_true", help="只输出读取结果，不评分")
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("parse", help="解析目标值/实际完成值文字")
    c.add_argument("text", nargs="+")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_parse)

    c = sub.add_parser("profiles", help="列出可用的评分规则配置")
    c.set_defaults(func=cmd_profiles)

    c = sub.add_parser("template", help="生成空白自评表模板")
    c.add_argument("-o", "--output", default="自评表模板.xlsx")
    c.set_defaults(func=cmd_template)

    c = sub.add_parser("run", help="批量复核一个文件夹中的自评表，生成复核工作簿、报告、汇总.xlsx 和 run.json")
    c.add_argument("inbox", metavar="INBOX", help="输入文件夹（含子文件夹）")
    c.add_argument("-o", "--output", required=True, metavar="OUTBOX", help="输出文件夹（子文件夹结构与输入相同）")
    c.add_argument("-j", "--jobs", default=None, metavar="N", help="同时处理的文件数（默认：CPU 核数）")
    c.add_argument("--profile", default="auto", help="评分规则配置（名称或 .toml 路径；auto：按识别出的表式自动选择）")
    c.add_argument("--report-template", default=None, metavar="F", help="自评价报告模板（.docx）")
    c.add_argument("--no-report", action="store_true", help="不生成自评价报告")
    c.add_argument("--no-findings", action="store_true", help="报告中不附复核发现")
    c.add_argument("--font", action="append", default=[], metavar="ROLE=NAME",
                   help="报告字体，可重复：body=仿宋 heading2=楷体 …（角色：body title heading1 heading2 table page_number latin）")
    c.add_argument("--pdf", action="store_true", help="同时把报告转为 PDF（需要 LibreOffice）")
    c.add_argument("--skip-unchanged", action="store_true", help="跳过内容和选项都与上次相同且输出仍在的文件")
    c.add_argument("--watch", action="store_true", help="处理完后继续监视输入文件夹，按 Ctrl-C 结束")
    c.add_argument("--poll-interval", default="1", metavar="S", help="监视模式：检查间隔秒数（默认 1）")
    c.add_argument("--settle", default="2", metavar="N", help="监视模式：文件大小和修改时间连续 N 次不变才处理（默认 2）")
    c.add_argument("-q", "--quiet", action="store_true", help="不显示进度，只输出一行结果")
    c.add_argument("--timeout", default=None, metavar="S", help="每个文件的处理时限，秒（默认 120）")
    c.add_argument("--max-memory", default=None, metavar="MB", help="每个处理进程的内存上限，MB（默认 2048，0 为不限；仅 Linux/macOS）")
    c.add_argument("--mail", default=None, metavar="CSV", help="处理完后按收件人文件为每个项目生成邮件草稿（OUTBOX/mail/，不发送）")
    c.add_argument("--mail-attach", default="report", metavar="KINDS", help="邮件附件种类：report,workbook,pdf（默认 report）")
    c.add_argument("--follow-links", action="store_true", help="处理指向输入文件夹之外的符号链接（默认跳过并说明原因）")
    c.set_defaults(func=cmd_run)

    c = sub.add_parser("mail", help="把复核结果发给主管部门：默认生成 .eml 草稿，--send 时经 SMTP 发送（不重复发送）")
    c.add_argument("outbox", metavar="OUTBOX", help="run 命令的输出文件夹（含 run.json）")
    c.add_argument("--recipients", required=True, metavar="CSV", help="收件人文件：匹配（主管部门或文件名通配）, 收件人, 抄送")
    c.add_argument("--attach", default="report", metavar="KINDS", help="附件种类，逗号分隔：report,workbook,pdf（默认 report）")
    c.add_argument("--send", action="store_true", help="经 SMTP 发送（默认只生成草稿到 OUTBOX/mail/）")
    c.add_argument("--dry-run", action="store_true", help="只列出将发给谁、带哪些附件；不联网、不写文件")
    c.add_argument("--resend-changed", action="store_true", help="附件与上次发送时不同的，重新发送")
    c.add_argument("--resend-uncertain", action="store_true",
                   help="重发结果不确定的邮件（上次发出正文后未收到服务器确认；请先向收件人确认未收到）")
    c.add_argument("--smtp-host", default=None, metavar="H", help="SMTP 服务器")
    c.add_argument("--smtp-port", type=int, default=None, metavar="P", help="端口（默认 25；--starttls 587；--ssl 465）")
    tls = c.add_mutually_exclusive_group()
    tls.add_argument("--starttls", action="store_true", help="连接后用 STARTTLS 加密")
    tls.add_argument("--ssl", action="store_true", help="直接以 SSL/TLS 连接")
    c.add_argument("--smtp-user", default=None, metavar="U", help="登录用户名；密码只从环境变量 SELFEVAL_SMTP_PASSWORD 或 --smtp-config 文件读取")
    c.add_argument("--from", dest="from_addr", default=None, metavar="ADDR", help="发件人地址")
    c.add_argument("--smtp-config", default=None, metavar="FILE", help="SMTP 配置文件（TOML 或 INI：host、port、user、password、from、security、cafile）")
    c.add_argument("--mail-templates", default=None, metavar="DIR", help="邮件模板文件夹（subject.txt.j2、body.txt.j2）")
    c.set_defaults(func=cmd_mail)
    return p


def _stdout_gone() -> int:
    """``selfeval-xl check F | head``: the reader left; end quietly (no BrokenPipeError traceback)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return ExitCode.BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    _setup_console()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
        sys.stdout.flush()
        return int(rc)
    except BrokenPipeError:
        return _stdout_gone()
    except ReadError as err:
        print(err.message, file=sys.stderr)
        return EXIT_USAGE
    except UsageError as err:  # bad option values (unknown profile, …) carry a Chinese message
        print(f"错误：{err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as err:  # noqa: BLE001 - a bug: say so, never as a usage error
        print(f"[INTERNAL] 程序内部错误：{type(err).__name__}: {err}", file=sys.stderr)
        if args.traceback:
            traceback.print_exc()
        else:
            print("（加 --traceback 可显示完整调用栈，报告问题时请附上）", file=sys.stderr)
        return ExitCode.INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
