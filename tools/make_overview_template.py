"""Generate templates/复核汇总报告.docx, the docxtpl template of the batch's 复核汇总报告.

    python tools/make_overview_template.py [output.docx]

Same GB/T 9704 family as the per-project report: the page, styles, fonts, tables and page
numbers come from ``make_report_template`` (one definition); only the body differs. The
variables are documented in ``selfeval_xl/overview_report.py`` (``build_context``).
"""
from __future__ import annotations

import sys
from pathlib import Path

from docx import Document

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "templates" / "复核汇总报告.docx"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_report_template as base  # noqa: E402  (styles, page, tables: one definition)


def build() -> Document:
    doc, para = base._document()  # the same styles, page, font table (with altName) as the report

    def loop_table(caption, widths, header, item, seq, fields, styles=None, when=None, total=None):
        """A captioned table with one row per ``item`` of ``seq`` (docxtpl {%tr %} rows), inside
        ``{%p if when %}`` when given; ``total`` is a last, fixed row."""
        if when:
            para(f"{{%p if {when} %}}")
        para(caption, "Caption")
        rows = [header, [f"{{%tr for {item} in {seq} %}}"], [f"{{{{ {item}.{f} }}}}" for f in fields], ["{%tr endfor %}"]]
        base._table(doc, widths, rows + ([total] if total else []), **({"styles": styles} if styles else {}))
        if when:
            para("{%p endif %}")

    para("{{ title }}", "Title")
    para("{{ subtitle }}", "Subtitle")
    para("{{ intro }}")

    para("一、复核范围", "Heading1")
    para("{{ scope.sentence }}")
    loop_table("表{{ t.failures }}  未能复核的文件", [12, 58, 86], ["序号", "文件", "原因"], "f", "scope.failures", ["no", "input", "message"], styles=["TableCenter", "TableText", "TableText"], when="scope.failures")

    para("二、复核得分分布", "Heading1")
    para("{{ scores.sentence }}")
    para("{%p if scores.chart %}")
    para("{{ scores.chart }}", "Figure")
    para("图1  复核得分分布", "Caption")
    para("{%p endif %}")
    loop_table("表{{ t.bands }}  复核得分分布", [52, 52, 52], ["分数段", "项目数", "占比"], "b", "scores.bands", ["label", "count", "share"], when="scores.bands")
    para("{{ scores.grade_sentence }}")
    loop_table("表{{ t.grades }}  等级分布", [52, 52, 52], ["等级", "项目数", "占比"], "g", "scores.grades", ["grade", "count", "share"], when="scores.grades")

    para("三、各主管部门情况", "Heading1")
    para("{{ departments.sentence }}")
    loop_table("表{{ t.departments }}  各主管部门复核情况", [36, 14, 18, 20, 20, 48], ["主管部门", "项目数", "平均自评分", "平均复核得分", "有错误的项目数", "最常见问题"], "d", "departments.rows", ["department", "projects", "self_mean", "review_mean", "with_errors", "top"], styles=["TableText", "TableCenter", "TableCenter", "TableCenter", "TableCenter", "TableText"], total=["合计", "{{ departments.total.projects }}", "{{ departments.total.self_mean }}", "{{ departments.total.review_mean }}",
         "{{ departments.total.with_errors }}", "{{ departments.total.top }}"])

    para("四、自评分与复核得分差异最大的项目", "Heading1")
    para("{{ largest.sentence }}")
    loop_table("表{{ t.largest }}  差异最大的项目", [10, 36, 56, 18, 18, 18], ["序号", "主管部门", "项目", "自评分", "复核得分", "差异"], "p", "largest.rows", ["no", "department", "project", "self", "review", "diff"], styles=["TableCenter", "TableText", "TableText", "TableCenter", "TableCenter", "TableCenter"], when="largest.rows")

    para("五、主要问题", "Heading1")
    para("{{ problems.sentence }}")
    para("{%p for p in problems.rows %}")
    para("（{{ p.no }}）{{ p.label }}", "Heading2")
    para("{{ p.text }}")
    para("{%p endfor %}")

    para("{%p if comparison %}")
    para("六、与上次复核对比", "Heading1")
    para("{{ comparison.sentence }}")
    loop_table("表{{ t.compare }}  各主管部门对比", [40, 18, 18, 26, 18, 18, 18], ["主管部门", "上次项目数", "本次项目数", "平均得分变化", "重复出现的问题", "已改正的问题", "新出现的问题"], "d", "comparison.departments", ["department", "a", "b", "mean_change", "repeated", "fixed", "new_problems"], styles=["TableText", "TableCenter", "TableCenter", "TableCenter", "TableCenter", "TableCenter", "TableCenter"])
    para("{%p for r in comparison.repeated %}")
    para("{{ r.no }}. {{ r.text }}")
    para("{%p endfor %}")
    para("{%p endif %}")

    para("{{ advice_number }}、建议", "Heading1")
    para("{%p for a in advice %}")
    para("{{ a.no }}. {{ a.text }}")
    para("{%p endfor %}")

    base._finish(doc, "{{ title }}")
    return doc


def main(argv: list[str]) -> int:
    base.save_template(build, Path(argv[1]) if len(argv) > 1 else OUTPUT, "汇总报告模板")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
