"""Build samples/苏州市打造先进制造业基地专项资金_2020.xlsx from the seed text.

The seed (tests/data/seed_suzhou_2020.txt) is the text of the real 2020 Suzhou
self-evaluation. ``parse_seed`` turns it into form content; the test suite uses the same
function to check that every value in the committed sample equals the seed.

    python tools/build_sample.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed_suzhou_2020.txt"
SAMPLE = ROOT / "samples" / "苏州市打造先进制造业基地专项资金_2020.xlsx"
CATEGORY = re.compile(r"^(投入|产出|结果|影响力)目标（[\d.]+分）$")
HEADINGS = ("项目概况", "项目总目标", "年度绩效目标", "项目实施情况", "项目管理成效", "项目管理存在的问题及原因", "进一步加强项目管理的建议")


def _num(text: str):
    """The seed's number as the form stores it: int when written without a point."""
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def parse_seed(text: str) -> dict:
    lines = [ln.lstrip("\t").rstrip() for ln in text.splitlines()]
    words = [ln.strip() for ln in lines if ln.strip()]
    at = words.index

    def after(label: str, n: int, start: int = 0) -> list[str]:
        i = words.index(label, start) + 1
        return words[i:i + n]

    c: dict = {"report_title": words[0], "title": words[1]}
    c["project_name"] = after("项目名称", 1)[0]
    c["year"] = _num(after("项目年份", 1)[0])
    c["department"] = after("项目主管部门(单位)", 1)[0]
    c["budget"] = dict(zip(("initial", "adjustment", "allocated", "balance"), map(_num, after("指标结余数", 4))))
    c["funds"] = dict(zip(("allocated", "paid", "balance", "carried", "recovered"), map(_num, after("财政收回数", 5))))
    i = at("实际金额（万元）") + 1
    assert words[i] == "合计"
    c["composition_total"] = _num(words[i + 1])
    i += 2
    items = []
    while words[i] != "项目":
        items.append((words[i], _num(words[i + 1])))
        i += 2
    c["sub_items"] = items
    i = at("自评分", i) + 1
    categories: list = []
    while words[i] != "合计":
        if words[i].startswith("项目绩效实现情况"):
            c["performance_label"] = words[i]
            i += 1
        elif CATEGORY.match(words[i]):
            categories.append((words[i], []))
            i += 1
        else:
            name, target, weight, actual, score = words[i:i + 5]
            categories[-1][1].append((name, target, _num(weight), actual, _num(score)))
            i += 5
    c["categories"] = categories
    c["total"] = _num(words[i + 1])
    c["instructions"] = next(w for w in words if w.startswith("填表说明"))
    # Narrative: each heading's text runs until the next heading or the closing note.
    start = lines.index("项目基本情况")
    narrative: dict[str, str] = {}
    current = None
    for ln in lines[start + 1:]:
        if ln.strip() in HEADINGS:
            current = ln.strip()
            narrative[current] = ""
        elif ln.strip().startswith("（标注"):
            break
        elif current and ln.strip():
            narrative[current] = (narrative[current] + "\n" + ln).lstrip("\n")
    c["narrative"] = narrative
    return c


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from selfeval_xl import form

    content = parse_seed(SEED.read_text(encoding="utf-8"))
    form.write(SAMPLE, content)
    print(SAMPLE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
