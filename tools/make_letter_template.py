"""Generate templates/复核意见书.docx, the docxtpl template of the bureau's 复核意见书 (finalize).

    python tools/make_letter_template.py [output.docx]

Same style family as the 自评价报告 (tools/make_report_template.py: page, fonts, font table with
w:altName, headings, tables); the letter adds the 主送机关 line and the 落款 (issuer over the
date, right-aligned, the date four characters in from the right margin: GB/T 9704-2012 7.3.5).
Variables are documented in ``selfeval_xl/finalize.py`` (``letter_context``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import qn

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "templates" / "复核意见书.docx"
sys.path.insert(0, str(ROOT / "tools"))

import make_report_template as base  # noqa: E402  (the one style family)

# style id -> (name, font role, size, options), added to the report's styles
LETTER_STYLES: dict[str, tuple[str, str, float, dict]] = {
    "Addressee": ("主送机关", "body", 16, {"line": "exact"}),
    "Signature": ("落款", "body", 16, {"line": "exact", "jc": "right", "keep": True}),
    "SignatureDate": ("成文日期", "body", 16, {"line": "exact", "jc": "right"}),
}


def build() -> Document:
    doc, para = base._document(LETTER_STYLES)

    def items(name: str, line: str, empty: str | None = None) -> None:
        para("{%p for x in " + name + " %}")
        para(line)
        para("{%p endfor %}")
        if empty:
            para("{%p if not " + name + " %}")
            para(empty)
            para("{%p endif %}")

    para("关于《{{ project.name }}》绩效自评的复核意见", "Title")
    para("", "Addressee")
    para("{{ project.department }}：", "Addressee")
    para("{{ opening }}")

    para("一、复核结论", "Heading1")
    para("{{ totals.sentence }}")
    para("表1  复核得分", "Caption")
    base._table(doc, [39, 39, 39, 39], [
        ["自评总分", "按评分规则复核得分", "复核认定调整", "最终得分"],
        ["{{ totals.self }}", "{{ totals.rule }}", "{{ totals.adjustment }}", "{{ totals.final }}"],
    ], together=True)

    para("二、存在的问题及整改要求", "Heading1")
    para("{{ problems_sentence }}")
    items("problems", "{{ x.no }}. {{ x.label }}（{{ x.cell }}）：{{ x.message }}。整改要求：{{ x.remedy }}")

    para("三、复核认定情况", "Heading1")
    para("{{ decisions_sentence }}")
    items("kept", "{{ x.no }}. {{ x.text }}")

    para("{{ closing }}")
    para("特此函告。")
    para("")
    para("")
    sign = para("{{ issuer }}", "Signature")
    ind = parse_xml(f'<w:ind {base.nsdecls("w")} w:right="{{{{ sign.issuer_indent }}}}"/>')
    _replace_ind(sign, ind)
    date = para("{{ date }}", "SignatureDate")
    _replace_ind(date, parse_xml(f'<w:ind {base.nsdecls("w")} w:right="{{{{ sign.date_indent }}}}"/>'))

    return base._finish(doc, "关于《{{ project.name }}》绩效自评的复核意见", author="{{ issuer }}")


def _replace_ind(p, ind) -> None:
    """The 落款 lines' right indent is filled in at render time (it depends on the texts' widths)."""
    ppr = p._p.get_or_add_pPr()
    for old in ppr.findall(qn("w:ind")):
        ppr.remove(old)
    jc = ppr.find(qn("w:jc"))
    if jc is not None:
        jc.addprevious(ind)
    else:
        ppr.append(ind)


def main(argv: list[str]) -> int:
    base.save_template(build, Path(argv[1]) if len(argv) > 1 else OUTPUT, "复核意见书模板")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
