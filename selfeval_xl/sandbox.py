"""The Jinja sandbox for user-supplied report and mail templates.

Jinja's SandboxedEnvironment stops attribute escapes (``__class__.__mro__``) and caps
``range()``, but not arithmetic: ``{{ 'a' * 10**9 }}`` would build a gigabyte. Here ``*`` and
``**`` are checked before they run, so a hostile template fails with a SecurityError (a
TemplateError for the user) instead of eating the worker's memory and time.
"""
from __future__ import annotations

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

MAX_REPEAT = 100_000  # characters or items that ``*`` may build
MAX_EXPONENT = 100


class SafeSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"模板中的乘方指数 {right} 过大")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > MAX_REPEAT:
                    raise SecurityError(f"模板中的重复结果过长（{len(seq)}×{n}）")
        return super().call_binop(context, operator, left, right)
