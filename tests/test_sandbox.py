"""Template bombs (issue 15): every way a sandboxed template could build a huge string is refused
before it runs, in report templates (docxtpl) and mail templates alike; ordinary formatting works."""
from __future__ import annotations

import time

import pytest
from jinja2.exceptions import SecurityError

from selfeval_xl import report
from selfeval_xl.errors import TemplateError
from selfeval_xl.sandbox import SafeSandbox, render_limited
from test_report import _minimal_template, sample_review  # noqa: F401 (fixture)

BOMBS = {
    "percent": ('{{ "%0300000000d" % 1 }}', "格式宽度 300000000 过大"),
    "percent_star": ('{{ "%.*f" % (300000000, 1) }}', "格式宽度 300000000 过大"),
    "format_filter": ("{{ '%0300000000d'|format(1) }}", "格式宽度 300000000 过大"),
    "str_format": ("{{ '{:>300000000}'.format(1) }}", "格式宽度 300000000 过大"),
    "str_format_nested": ("{{ '{0:>{1}}'.format(1, 300000000) }}", "格式宽度 300000000 过大"),
    "center_filter": ("{{ ''|center(10**8) }}", "center 的宽度 100000000 过大"),
    "center_method": ("{{ 'a'.center(10**8) }}", "center 的宽度 100000000 过大"),
    "ljust": ("{{ 'a'.ljust(10**8) }}", "ljust 的宽度 100000000 过大"),
    "indent": ("{{ 'a\nb'|indent(10**8) }}", "indent 的宽度 100000000 过大"),
    "tilde_doubling": ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
                       "拼接（~）结果过长"),
    "plus_doubling": ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}",
                      "拼接结果过长"),
    "repeat": ("{{ 'a' * 10**9 }}", "重复结果过长"),
}


@pytest.mark.parametrize("autoescape", [False, True])
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_each_bomb_is_refused_at_once(name, autoescape):
    source, words = BOMBS[name]
    env = SafeSandbox(autoescape=autoescape)
    t = time.monotonic()
    with pytest.raises(SecurityError, match=words):
        render_limited(env.from_string(source), {})
    assert time.monotonic() - t < 2


def test_rendered_size_and_time_are_capped():
    env = SafeSandbox()
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{{ '0123456789' }}{% endfor %}{% endfor %}"
    with pytest.raises(SecurityError, match="渲染结果超过 5000000 个字符"):
        render_limited(env.from_string(loops), {})
    silent = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    t = time.monotonic()
    with pytest.raises(SecurityError, match="模板渲染超过 1 秒"):
        render_limited(env.from_string(silent), {}, seconds=1)
    assert time.monotonic() - t < 5


def test_ordinary_formatting_still_works():
    env = SafeSandbox()
    src = "{{ a ~ '-' ~ 3 }}|{{ '%5.2f' % 3.14159 }}|{{ 'x'|center(9) }}|{{ '{:>6}'.format(2) }}|{{ '%s/%s' % (1, 2) }}"
    assert render_limited(env.from_string(src), {"a": "名"}) == "名-3| 3.14|    x    |     2|1/2"
    assert render_limited(SafeSandbox(autoescape=True).from_string("{{ a ~ 1 }}"), {"a": "<b>"}) == "&lt;b&gt;1"


@pytest.mark.parametrize("name", ["percent", "str_format", "center_filter", "tilde_doubling"])
def test_report_template_bombs_are_template_errors(sample_review, tmp_path, name):  # noqa: F811
    source, words = BOMBS[name]
    evil = _minimal_template(tmp_path / "bomb.docx", "正文", source)
    t = time.monotonic()
    with pytest.raises(TemplateError, match="安全限制"):
        report.render_report(sample_review, tmp_path / "out.docx", template=evil)
    assert time.monotonic() - t < 10 and not (tmp_path / "out.docx").exists()
