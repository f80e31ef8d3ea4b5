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
    from .reader import read_all
    from .printout import review_summary

    if args.profile != "auto":
        from .rules import load_profile

        try:
            load_profile(args.profile)
        except ValueError as err:
            raise UsageError(str(err)) from None
    try:
        evs = read_all(args.file)
    except ReadError as err:
        if args.json:
            _print_json({"file": Path(args.file).name, "error": err.to_dict()})
        print(err.message, file=sys.stderr)
        return EXIT_USAGE
    # one form: the single JSON object as before; several forms (one per sheet): a list of them
    if args.no_score:
        out = [evaluation_json(ev) for ev in evs]
        _print_json(out[0] if len(out) == 1 else out)
        return EXIT_OK
    try:
        reviews = [review(ev, args.profile) for ev in evs]
    except ReadError as err:  # PROFILE_NOT_FOR_FORM: the profile given does not score this form
        if args.json:
            _print_json({"file": Path(args.file).name, "error": err.to_dict()})
        print(err.message, file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        out = [to_json(r) for r in reviews]
        _print_json(out[0] if len(out) == 1 else out)
    else:
        if len(reviews) > 1:
            sheets = "、".join(f"“{r.evaluation.sheet}”" for r in reviews)
            print(f"本工作簿共有 {len(reviews)} 个项目（工作表 {sheets}），逐一复核如下。\n")
        print("\n\n".join(review_summary(r) for r in reviews))
    return EXIT_OK


def cmd_parse(args) -> int:
    from . import values

    ms = [values.parse(t) for t in args.text]
    if args.json:
        _print_json([m.to_dict() for m in ms])
    else:
        for m in ms:
            words = "、".join(f"“{w}”" for w in (m.label, m.note) if w)
            said = f"（{values.VERDICT_DISPLAY[m.verdict]}）" if m.kind == "quantity" and m.verdict else ""
            print(f"{m.text}\t{m.kind}\t{m.display}" + (f"\t文字{words}{said}" if words else ""))
    return EXIT_OK


def cmd_profiles(args) -> int:
    from .layout import LAYOUTS
    from .rules import load_profile, profile_names

    titles = {m.NAME: m.TITLE for m in LAYOUTS}
    if args.export:
        from importlib import resources

        from .fsutil import atomic_write_bytes

        if args.export not in profile_names():
            raise UsageError(f"未知的规则配置“{args.export}”，可用：{'、'.join(profile_names())}")
        out = Path(args.output or f"{args.export}.toml")
        if out.exists() and not args.force:
            print(f"错误：文件已存在：{out}（加 --force 覆盖）", file=sys.stderr)
            return EXIT_USAGE
        atomic_write_bytes(out, (resources.files("selfeval_xl.profiles") / f"{args.export}.toml").read_bytes())
        print(f"已导出评分规则配置：{out}（修改后用 --profile {out} 使用）")
        return EXIT_OK
    for name in profile_names():
        p = load_profile(name)
        forms = "、".join(f"《{titles[n]}》" if n in titles else n for n in p.layouts)
        print(f"{name}\t{p.title}\t适用表式：{forms}")
    return EXIT_OK


def cmd_template(args) -> int:
    from . import form

    default = "项目支出绩效自评表模板.xlsx" if args.form == "national" else "自评表模板.xlsx"
    target = Path(args.output or default)
    if target.exists() and not args.force:
        print(f"错误：文件已存在：{target}（加 --force 覆盖）", file=sys.stderr)
        return EXIT_USAGE
    out = form.write_national(target) if args.form == "national" else form.write(target)
    print(f"已生成空白自评表：{out}")
    return EXIT_OK


def cmd_finalize(args) -> int:
    """Final scores from the reviewer's decisions, a 复核意见书 per project (finalize.py)."""
    from . import finalize

    try:
        result = finalize.finalize(Path(args.outbox), issuer=args.issuer, when=finalize.parse_date(args.date))
    except finalize.FinalizeError as err:
        print(f"错误：{err}", file=sys.stderr)
        return EXIT_USAGE
    print(result.summary())
    return result.exit_code


def cmd_run(args) -> int:
    """Batch: review every workbook under INBOX into OUTBOX (see batch.py)."""
    from . import batch, timing

    timing.mark("cli")

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


def cmd_compare(args) -> int:
    """Two run output folders compared (compare.py): 对比.xlsx and a one-line summary."""
    from .compare import COMPARE_NAME, compare, write_comparison

    for folder in (args.outbox_a, args.outbox_b):
        if not (Path(folder) / "run.json").is_file():
            print(f"错误：{folder} 不是 selfeval-xl run 的输出文件夹（找不到 run.json）", file=sys.stderr)
            return EXIT_USAGE
    c = compare(Path(args.outbox_a), Path(args.outbox_b))
    target = write_comparison(c, Path(args.output) if args.output else Path(args.outbox_b) / COMPARE_NAME)
    print(c.summary())
    for m in c.fuzzy:
        how = f"名称相近（相似度{m.similarity:.2f}）" if m.how == "名称相近" else m.how
        print(f"  {how}：{m.a['department']}《{m.a['project']}》→ {m.b['department']}《{m.b['project']}》")
    print(f"已生成：{target}")
    return EXIT_OK


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
    from .cliparser import ChineseArgumentParser

    p = ChineseArgumentParser(prog="selfeval-xl", description="绩效自评表复核：按填表说明重新评分，生成复核工作簿和自评价报告")
    p.add_argument("--traceback", action="store_true", help="程序内部错误时显示完整的 Python 调用栈（报告问题时附上）")
    sub = p.add_subparsers(dest="command", required=True, title="命令", metavar="命令")

    c = sub.add_parser("check", help="读取并复核一个自评表，输出结果")
    c.add_argument("file", metavar="FILE", help="自评表文件（.xlsx .xlsm .xls .et .ods）")
    c.add_argument("--json", action="store_true", help="输出 JSON")
    c.add_argument("--profile", default="auto", help="评分规则配置（名称或 .toml 路径；auto：按识别出的表式自动选择）")
    c.add_argument("--no-score", action="store_true",
                   help="只读取不评分：以 JSON 输出读到的项目、资金和各项指标（无规则得分和复核发现），用于核对表格是否读对")
    c.set_defaults(func=cmd_check)

    c = sub.add_parser("parse", help="解析目标值/实际完成值文字")
    c.add_argument("text", nargs="+", metavar="TEXT", help="要解析的文字，如 ≥9000亿元、全省第二")
    c.add_argument("--json", action="store_true", help="输出 JSON")
    c.set_defaults(func=cmd_parse)

    c = sub.add_parser("profiles", help="列出可用的评分规则配置；--export 导出一个配置供修改")
    c.add_argument("--export", default=None, metavar="NAME", help="把内置配置 NAME 写成 .toml 文件（改后用 --profile 文件路径 使用）")
    c.add_argument("-o", "--output", default=None, metavar="FILE", help="导出文件名（默认 NAME.toml）")
    c.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    c.set_defaults(func=cmd_profiles)

    c = sub.add_parser("template", help="生成空白自评表模板")
    c.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="输出文件（默认：自评表模板.xlsx；national：项目支出绩效自评表模板.xlsx）")
    c.add_argument("--form", choices=("suzhou", "national"), default="suzhou",
                   help="表式：suzhou（苏州市级财政支出项目绩效自评表，默认）或 national（项目支出绩效自评表，财预〔2020〕10号）")
    c.add_argument("--force", action="store_true", help="覆盖已存在的文件")
    c.set_defaults(func=cmd_template)

    c = sub.add_parser("finalize", help="按复核认定计算最终得分，为每个项目生成复核意见书，更新 run.json 和 汇总.xlsx")
    c.add_argument("outbox", metavar="OUTBOX", help="run 命令的输出文件夹（含 run.json 和复核工作簿）")
    c.add_argument("--issuer", default=None, metavar="机关", help="落款的发文机关（默认取评分规则配置中的，如 苏州市财政局）")
    c.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="成文日期（默认今天），如 2026-12-01")
    c.set_defaults(func=cmd_finalize)

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
    c.add_argument("--mail-attach", default="report", metavar="KINDS", help="邮件附件种类：report,workbook,pdf,letter（默认 report）")
    c.add_argument("--no-overview", action="store_true", help="不生成复核汇总报告（复核汇总报告.docx）")
    c.add_argument("--compare", default=None, metavar="PREVIOUS_OUTBOX", help="与上次 run 的输出文件夹对比：生成 对比.xlsx，并在汇总报告中加入对比部分")
    c.add_argument("--follow-links", action="store_true", help="处理指向输入文件夹之外的符号链接（默认跳过并说明原因）")
    c.set_defaults(func=cmd_run)

    c = sub.add_parser("compare", help="对比两次 run 的结果：得分变化、新增和未再出现的项目、重复出现的问题")
    c.add_argument("outbox_a", metavar="OUTBOX_A", help="较早一次（如上年）run 的输出文件夹")
    c.add_argument("outbox_b", metavar="OUTBOX_B", help="较近一次 run 的输出文件夹")
    c.add_argument("-o", "--output", default=None, metavar="FILE", help="对比结果工作簿（默认 OUTBOX_B/对比.xlsx）")
    c.set_defaults(func=cmd_compare)

    c = sub.add_parser("mail", help="把复核结果发给主管部门：默认生成 .eml 草稿，--send 时经 SMTP 发送（不重复发送）")
    c.add_argument("outbox", metavar="OUTBOX", help="run 命令的输出文件夹（含 run.json）")
    c.add_argument("--recipients", required=True, metavar="CSV", help="收件人文件：匹配（主管部门或文件名通配）, 收件人, 抄送")
    c.add_argument("--attach", default="report", metavar="KINDS",
                   help="附件种类，逗号分隔：report（自评价报告）,workbook（复核工作簿）,pdf,letter（复核意见书，finalize 后）（默认 report）")
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


def entry() -> None:
    """The console script and ``python -m selfeval_xl``: ``main()``, then a quick exit.

    When ``main()`` returns, every output is written (atomically), closed and flushed; what
    the interpreter's teardown would still do is free module state: ~0.2 s once pandas,
    openpyxl and docxtpl are loaded (the end of every ``run``, measured for issue 16), memory
    the OS frees anyway. So the atexit handlers run (multiprocessing's, temporary folders),
    the streams are flushed, and the process ends with ``os._exit``. An exception or
    ``SystemExit`` (argparse) leaves the normal way. Tests call ``main()``, never this."""
    import atexit

    rc = main()
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:  # not CPython: the normal way
        raise SystemExit(rc)
    run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: main() already chose the exit code
            pass
    os._exit(int(rc))


if __name__ == "__main__":
    entry()
