"""Errors for files that cannot be read at all.

Content problems are ``Finding``s; a ``ReadError`` is for a file that yields no evaluation.
Each carries a stable code (the JSON contract and exit codes rely on it) and a Chinese message
that says what went wrong, where (file, sheet!cell) and what to do next.
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status of the command line, in one place (README: 退出码)."""

    OK = 0  # done (a batch: every file reviewed or skipped)
    FAILED = 1  # some files or mails failed; each is listed with its code
    USAGE = 2  # bad command line or input that stops everything (also: OUTBOX locked by another run)
    INTERNAL = 70  # an unexpected exception: a bug (--traceback shows it)
    INTERRUPTED = 130  # Ctrl-C / SIGTERM
    BROKEN_PIPE = 141  # the reader of stdout went away (``check FILE | head``)


class UsageError(ValueError):
    """Bad command line or an input that stops the whole command (exit code 2); Chinese message."""

# code -> what it means, in the words shown to the user (the message adds file and cell).
CODES: dict[str, str] = {
    "NOT_FOUND": "文件不存在",
    "NOT_A_WORKBOOK": "不是电子表格文件",
    "CORRUPT": "文件已损坏，无法打开",
    "ENCRYPTED": "文件已加密（设置了打开密码）",
    "EMPTY": "文件或工作表为空",
    "NOT_SELF_EVALUATION_FORM": "未找到绩效自评表的指标表",
    "MISSING_FIELD": "缺少必填项",
    "PROFILE_NOT_FOR_FORM": "评分规则配置不适用于该表式",
    "TOO_LARGE": "文件超出处理限制",
    "UNSAFE_CONTENT": "文件含有不安全的内容",
    "CONVERSION_FAILED": "无法转换文件格式",
    "TIMEOUT": "处理超时",
    "CRASHED": "处理过程异常中止",
    "INTERNAL": "程序内部错误",
}


# run.json error codes besides CODES: batch-only situations, never raised as a ReadError.
EXTRA_CODES: dict[str, str] = {
    "TEMPLATE_ERROR": "报告模板无法渲染",
    "PDF_FAILED": "PDF 转换失败",
    "NAME_CONFLICT": "输出文件名与同一文件夹中的另一个文件冲突",
    "DUPLICATE_PROJECT": "重复提交的同一项目",
}


class ReadError(Exception):
    """A file that cannot be reviewed. ``str(err)`` is the full Chinese message."""

    def __init__(self, code: str, detail: str, file: str = "", cell: str = "", hint: str = ""):
        assert code in CODES, code
        self.code = code
        self.detail = detail
        self.file = file
        self.cell = cell
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = self.file + (f"（{self.cell}）" if self.cell else "")
        text = f"{CODES[self.code]}：{self.detail}" if self.detail else CODES[self.code]
        if where:
            text = f"{where}：{text}"
        if self.hint:
            text += f"。{self.hint}"
        return f"[{self.code}] {text}"

    def with_file(self, file: str) -> "ReadError":
        if not self.file:
            self.file = file
            self.args = (self.message,)
        return self

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


class TemplateError(Exception):
    """A report or mail template that cannot be rendered (names the tag and line)."""


def template_line(exc: BaseException, filename: str | None = "<template>") -> int | None:
    """The template line a Jinja runtime error happened on, or None.

    Jinja rewrites tracebacks so that template code shows as frames of the template's file
    (``<template>`` for one made with ``from_string``, as docxtpl does); the last such frame is
    the innermost, i.e. the failing line. The report and the mail templates both use this.
    """
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if filename and tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def error_dict(code: str, detail: str, file: str = "") -> dict:
    """``{"code", "message"}`` in the same words and form as ``ReadError.message``."""
    if code in CODES:
        return ReadError(code, detail, file).to_dict()
    text = f"{EXTRA_CODES.get(code, code)}：{detail}" if detail else EXTRA_CODES.get(code, code)
    return {"code": code, "message": f"[{code}] {file}：{text}" if file else f"[{code}] {text}"}
