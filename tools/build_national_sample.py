"""Build samples/义务教育营养改善计划专项资金_2022.xlsx, the national-form sample, from a real table.

Source: the 2022年度项目支出绩效自评表 of 临沧市永德县明朗中学 (project 义务教育营养改善计划专项资金,
主管部门 永德县教育体育局), published with its 部门决算 as 公开14表 at
https://www.yongde.gov.cn/info/3003/116104.htm . The table is re-typed row by row in
tests/data/national_yongde_2022.txt (which also keeps the stored excerpt it was re-typed from
and says where the flattened excerpt had to be placed back into the form). ``parse_source``
turns that text into ``form.build_national`` content; the test suite uses the same function to
check that every value in the committed sample equals the source.

It shows several of the national variants at once: amounts in 元, 年度指标值 split over
指标性质 | 指标值 | 度量单位 with ``≧`` and ``═``, 二级 labels broken over two lines, an empty
placeholder row (生态效益指标), 执行率 blank on the sub-rows, 其他需要说明事项 and 总分 with the grade.

    python tools/build_national_sample.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "data" / "national_yongde_2022.txt"
SAMPLE = ROOT / "samples" / "义务教育营养改善计划专项资金_2022.xlsx"


def _cell(text: str):
    """A cell as typed: a number when the text is one, None when empty, else the text."""
    text = text.replace("\\n", "\n")
    if text == "":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d+", text):
        return float(text)
    return text


def parse_source(text: str) -> dict:
    rows = [[_cell(x) for x in line.split("\t")] for line in text.splitlines() if line and not line.startswith("#")]
    it = iter(rows)
    c: dict = {"title": next(it)[0], "year_line": None}
    c["extra_lines"] = [tuple(next(it))]
    name_row = next(it)
    assert name_row[0] == "项目名称"
    c["project_name"] = name_row[1]
    dept = next(it)
    assert dept[0] == "主管部门" and dept[2] == "实施单位"
    c["department"], c["implementer"] = dept[1], dept[3]
    head = next(it)
    c["execution_label"] = head[0]
    c["unit"] = "元" if "(元)" in head[0] or "（元）" in head[0] else "万元"
    c["execution"] = {key: tuple((next(it) + [None] * 8)[1:8]) for key in ("total", "current", "carryover", "other")}
    goal = next(it)
    c["goal_label"] = goal[0]
    texts = next(it)
    c["goal"] = (texts[1], texts[2])
    assert next(it)[:4] == ["绩效指标", "一级指标", "二级指标", "三级指标"]
    c["split_target"] = next(it)[4:7] == ["指标性质", "指标值", "度量单位"]
    classes: list = []
    for row in it:
        row = row + [None] * (11 - len(row))
        if row[0] == "其他需要说明事项":
            c["remarks"] = row[1]
            continue
        if row[0] == "总分":
            c["total"] = (row[1], row[2], row[3])
            break
        level1, level2 = row[1], row[2]
        if level1 is not None:
            classes.append((level1, []))
        if level2 is not None or not classes[-1][1]:
            classes[-1][1].append((level2, []))
        name, op, value, unit, actual, weight, score, reason = row[3:11]
        classes[-1][1][-1][1].append((name, (op, value, unit), actual, weight, score, reason))
    c["classes"] = classes
    return c


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from selfeval_xl import form

    form.write_national(SAMPLE, parse_source(SOURCE.read_text(encoding="utf-8")))
    print(SAMPLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
