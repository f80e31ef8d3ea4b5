"""The Jinja sandbox for user-supplied report and mail templates.

Jinja's SandboxedEnvironment stops attribute escapes (``__class__.__mro__``) and caps
``range()``, but not what a template may build: ``{{ 'a' * 10**9 }}``, ``{{ "%0300000000d" % 1 }}``,
``{{ ''|center(10**8) }}``, ``{{ '{:>99999999}'.format(1) }}`` or doubling a string with ``~`` in a
loop would each build hundreds of megabytes. Here every operation that can make a long string
is checked before it runs (``*``, ``**``, ``%``, ``+``, ``~``, the padding filters and the
``str`` methods that pad), the rendered text is capped (``MAX_RENDERED``), and
``render_limited`` also caps the time on POSIX (``MAX_SECONDS``, SIGALRM in the main thread).
A breach is a SecurityError, which the callers turn into a TemplateError for the user.
"""
from __future__ import annotations

import os
import re
import signal
import threading
import time
from contextlib import contextmanager

from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment

MAX_REPEAT = 100_000  # characters or items that ``*`` may build
MAX_EXPONENT = 100
MAX_STRING = 1_000_000  # characters any one string operation may produce
MAX_WIDTH = 10_000  # a padding width or %-format width/precision
MAX_RENDERED = 5_000_000  # characters of one rendered template
MAX_SECONDS = 10.0  # wall time of one render (POSIX main thread only)

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*?(\d{5,})[^{}]*\}")
_PADDING_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_FORMAT_METHODS = {"format", "format_map"}


def _check_len(n: int, what: str) -> None:
    if n > MAX_STRING:
        raise SecurityError(f"模板中的{what}结果过长（{n} 个字符，上限 {MAX_STRING}）")


def _check_percent(fmt: str, args) -> None:
    values = list(args) if isinstance(args, tuple) else [args]
    for m in _PERCENT_SPEC.finditer(fmt):
        for part in m.groups():
            if part == "*":
                n = values.pop(0) if values else 0
                if isinstance(n, int) and abs(n) > MAX_WIDTH:
                    raise SecurityError(f"模板中的格式宽度 {n} 过大（上限 {MAX_WIDTH}）")
            elif part and int(part) > MAX_WIDTH:
                raise SecurityError(f"模板中的格式宽度 {part} 过大（上限 {MAX_WIDTH}）")


_NESTED_SPEC = re.compile(r"\{[^{}]*:[^{}]*\{")


def _check_format(fmt: str, args=(), kwargs=None) -> None:
    """``str.format`` widths: literal ones, and nested ones (``{0:>{1}}``) taken from the arguments."""
    m = _FORMAT_WIDTH.search(fmt)
    if m and int(m.group(1)) > MAX_WIDTH:
        raise SecurityError(f"模板中的格式宽度 {m.group(1)} 过大（上限 {MAX_WIDTH}）")
    if _NESTED_SPEC.search(fmt):
        for n in [*args, *(kwargs or {}).values()]:
            if isinstance(n, int) and abs(n) > MAX_WIDTH:
                raise SecurityError(f"模板中的格式宽度 {n} 过大（上限 {MAX_WIDTH}）")


class _Codegen(CodeGenerator):
    """``a ~ b`` goes through ``environment.call_concat`` so its length is checked first."""

    def visit_Concat(self, node, frame) -> None:  # noqa: N802 (jinja's visitor name)
        self.write("environment.call_concat(context, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _width_filter(original, name: str):
    def checked(value, width=80, *args, **kwargs):
        if isinstance(width, int) and width > MAX_WIDTH:
            raise SecurityError(f"模板中 {name} 的宽度 {width} 过大（上限 {MAX_WIDTH}）")
        return original(value, width, *args, **kwargs)
    return checked


class SafeSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _Codegen

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("center", "indent", "wordwrap", "truncate"):
            if name in self.filters:
                self.filters[name] = _width_filter(self.filters[name], name)
        fmt = self.filters.get("format")
        if fmt is not None:
            def format_checked(value, *args, **kwargs):
                if isinstance(value, str):
                    _check_percent(value, tuple(args) if args else kwargs)
                return fmt(value, *args, **kwargs)
            self.filters["format"] = format_checked

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"模板中的乘方指数 {right} 过大")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"模板中的重复结果过长（{len(seq)}×{n}）")
        if operator == "%" and isinstance(left, str):
            _check_percent(left, right)
        if operator == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_len(len(left) + len(right), "拼接")
        return super().call_binop(context, operator, left, right)

    def call_concat(self, context, parts):
        strs = [p if isinstance(p, str) else str(p) for p in parts]
        _check_len(sum(len(s) for s in strs), "拼接（~）")
        return (markup_join if context.eval_ctx.volatile or context.eval_ctx.autoescape else str_join)(strs)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's signature)
        name = getattr(__obj, "__name__", "")
        bound = getattr(__obj, "__wrapped__", __obj)  # jinja wraps str.format in a function
        if isinstance(getattr(bound, "__self__", None), str):
            if name in _PADDING_METHODS:
                for n in list(args) + list(kwargs.values()):
                    if isinstance(n, int) and n > MAX_WIDTH:
                        raise SecurityError(f"模板中 {name} 的宽度 {n} 过大（上限 {MAX_WIDTH}）")
            elif name in _FORMAT_METHODS:
                _check_format(bound.__self__, args, kwargs)
            elif name == "replace":
                s = bound.__self__
                if len(args) >= 2 and isinstance(args[1], str):
                    _check_len(len(s) + (len(s) + 1) * len(args[1]), "替换")
            elif name == "join" and args:
                items = list(args[0]) if not isinstance(args[0], (str, list, tuple)) else args[0]
                _check_len(sum(len(str(x)) for x in items) + len(bound.__self__) * len(items), "连接")
                args = (items, *args[1:])
        return super().call(__context, __obj, *args, **kwargs)


@contextmanager
def _deadline(seconds: float):
    """SIGALRM after ``seconds`` (POSIX, main thread); elsewhere no time cap (documented)."""
    usable = (os.name == "posix" and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def fire(signum, frame):
        raise SecurityError(f"模板渲染超过 {seconds:g} 秒，已中止")

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def render_limited(template, context: dict, max_chars: int = MAX_RENDERED, seconds: float = MAX_SECONDS) -> str:
    """Render ``template`` streaming, stopping at ``max_chars`` characters or ``seconds``."""
    out: list[str] = []
    size = 0
    t0 = time.monotonic()
    with _deadline(seconds):
        for chunk in template.generate(context):
            size += len(chunk)
            if size > max_chars:
                raise SecurityError(f"模板渲染结果超过 {max_chars} 个字符，已中止")
            if time.monotonic() - t0 > seconds:
                raise SecurityError(f"模板渲染超过 {seconds:g} 秒，已中止")
            out.append(chunk)
    return "".join(out)
