"""An ArgumentParser that speaks Chinese: usage, section titles, -h and argparse's own errors.

argparse's English strings come from gettext; rather than install a catalogue (or patch the
module globally), this subclass translates the few that reach a user: the usage prefix, the
section titles, the help option and the error messages (by pattern, so the argument names in
them are kept). The exit code of a usage error stays 2.
"""
from __future__ import annotations

import argparse
import re
import sys

# argparse's error texts (Python 3.9-3.13) -> Chinese, applied in order.
_ERRORS: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"^the following arguments are required: (.+)$", r"缺少必需的参数：\1"),
    (r"^unrecognized arguments: (.+)$", r"无法识别的参数：\1"),
    (r"^argument (.+?): invalid choice: (.+?) \(choose from (.+)\)$", r"参数 \1：无效的取值 \2（可选：\3）"),
    (r"^argument (.+?): expected one argument$", r"参数 \1 需要一个值"),
    (r"^argument (.+?): expected at least one argument$", r"参数 \1 至少需要一个值"),
    (r"^argument (.+?): expected (\d+) arguments?$", r"参数 \1 需要 \2 个值"),
    (r"^argument (.+?): not allowed with argument (.+)$", r"参数 \1 不能与 \2 同时使用"),
    (r"^argument (.+?): invalid (\w+) value: (.+)$", r"参数 \1 的取值 \3 无效（应为\2）"),
    (r"^argument (.+?): ignored explicit argument (.+)$", r"参数 \1 不接受取值 \2"),
    (r"^ambiguous option: (.+?) could match (.+)$", r"选项 \1 有歧义，可能是：\2"),
    (r"^argument (.+?): (.+)$", r"参数 \1：\2"),
))
_TYPES = {"int": "整数", "float": "数字"}
_SECTIONS = {"positional arguments": "位置参数", "options": "选项", "optional arguments": "选项"}


def translate(message: str) -> str:
    for pattern, repl in _ERRORS:
        if pattern.match(message):
            out = pattern.sub(repl, message)
            for en, zh in _TYPES.items():
                out = out.replace(f"（应为{en}）", f"（应为{zh}）")
            return out
    return message


class ChineseHelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, prefix="用法：" if prefix is None else prefix)

    def start_section(self, heading):
        super().start_section(_SECTIONS.get(heading, heading))


class ChineseArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with Chinese help and errors (subparsers inherit it)."""

    def __init__(self, *args, **kwargs):
        add_help = kwargs.pop("add_help", True)
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出")

    def format_help(self) -> str:
        # argparse ends section titles with an ASCII colon; Chinese text takes the full-width one
        return re.sub(r"^(\S[^\n]*?):$", r"\1：", super().format_help(), flags=re.M)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：错误：{translate(message)}\n")
