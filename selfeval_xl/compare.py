"""Year on year: two ``run`` output folders compared project by project.

    selfeval-xl compare OUTBOX_A OUTBOX_B [-o 对比.xlsx]

A is the earlier run (last year), B the later one. Projects are matched in three passes, each
one-to-one and best first:
1. the same 主管部门 and 项目名称 (after NFKC and whitespace normalisation): 完全一致;
2. the same 项目名称 under another 主管部门 (a department renamed or merged): 主管部门不同;
3. within one 主管部门, names at least ``FUZZY_CUTOFF`` similar by difflib (a year in the name,
   一字之差): 名称相近, reported with the similarity so a person can check it.
The year is not part of the key: it is expected to differ.

A problem is a finding, keyed by its code and the indicator it sits on (the indicator's name,
so a moved row still matches; "" for a finding about the whole project such as FUNDS_BALANCE).
For a matched pair, a key in both runs is **repeated** (重复出现), in A only **fixed** (已改正),
in B only **new** (新出现). Every severity counts (a repeated OVER_ACHIEVED says the target was
set too low again); the sheets show the severity.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from .labels import finding_label
from .model import severity_label, severity_rank
from .tables import load_run, norm_name, records

FUZZY_CUTOFF = 0.8  # difflib ratio for 名称相近 (pass 3); below it two names are different projects
COMPARE_NAME = "对比.xlsx"


@dataclass
class Match:
    a: dict
    b: dict
    how: str  # 完全一致 | 主管部门不同 | 名称相近
    similarity: float = 1.0
    repeated: list[tuple] = field(default_factory=list)  # (severity, code, indicator, message_b)
    fixed: list[tuple] = field(default_factory=list)
    new: list[tuple] = field(default_factory=list)


@dataclass
class Comparison:
    a_label: str
    b_label: str
    matches: list[Match]
    new: list[dict]  # projects only in B
    gone: list[dict]  # projects only in A

    @property
    def fuzzy(self) -> list[Match]:
        return [m for m in self.matches if m.how != "完全一致"]

    def counts(self) -> dict[str, int]:
        return {"matched": len(self.matches), "fuzzy": len(self.fuzzy), "new": len(self.new), "gone": len(self.gone),
                "repeated": sum(len(m.repeated) for m in self.matches), "fixed": sum(len(m.fixed) for m in self.matches),
                "new_problems": sum(len(m.new) for m in self.matches),
                "better": sum(1 for m in self.matches if _delta(m) is not None and _delta(m) > 0),
                "worse": sum(1 for m in self.matches if _delta(m) is not None and _delta(m) < 0)}

    def summary(self) -> str:
        c = self.counts()
        return (f"匹配 {c['matched']} 个项目（其中 {c['fuzzy']} 个按名称相近或主管部门不同匹配，请核对），"
                f"新增 {c['new']} 个，未再出现 {c['gone']} 个；重复出现的问题 {c['repeated']} 条，"
                f"已改正 {c['fixed']} 条，新出现 {c['new_problems']} 条")

    def departments(self) -> list[dict]:
        """Per 主管部门 (of B, or of A for projects gone): counts and mean score change."""
        out: dict[str, dict] = {}

        def row(d: str) -> dict:
            return out.setdefault(d or "（未填写）", {"department": d or "（未填写）", "a": 0, "b": 0, "matched": 0,
                                                  "deltas": [], "repeated": 0, "fixed": 0, "new_problems": 0})
        for m in self.matches:
            r = row(m.b["department"])
            r["a"] += 1
            r["b"] += 1
            r["matched"] += 1
            if _delta(m) is not None:
                r["deltas"].append(_delta(m))
            r["repeated"] += len(m.repeated)
            r["fixed"] += len(m.fixed)
            r["new_problems"] += len(m.new)
        for p in self.new:
            row(p["department"])["b"] += 1
        for p in self.gone:
            row(p["department"])["a"] += 1
        for r in out.values():
            d = r.pop("deltas")
            r["mean_change"] = round(sum(d) / len(d), 2) if d else None
        return sorted(out.values(), key=lambda r: (-r["repeated"], -r["new_problems"], r["department"]))


def _delta(m: Match) -> float | None:
    a, b = m.a.get("review_score"), m.b.get("review_score")
    return round(b - a, 2) if a is not None and b is not None else None


def _problems(findings: list[dict]) -> dict[tuple, list[dict]]:
    out: dict[tuple, dict[tuple, dict]] = {}
    for f in findings:
        key = (f["code"], norm_name(f["indicator"]))
        out.setdefault((f["input"], f["project_index"]), {}).setdefault(key, f)
    return out


def match_projects(a: list[dict], b: list[dict], cutoff: float = FUZZY_CUTOFF) -> tuple[list[Match], list[dict], list[dict]]:
    """(matches, only in b, only in a) by the three passes of the module docstring."""
    left, right = list(a), list(b)
    matches: list[Match] = []

    def take(pairs: list[tuple[float, int, int, str]]) -> None:
        used_a: set[int] = set()
        used_b: set[int] = set()
        for score, i, j, how in sorted(pairs, key=lambda t: (-t[0], t[1], t[2])):
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            matches.append(Match(left[i], right[j], how, round(score, 3)))
        for i in sorted(used_a, reverse=True):
            left.pop(i)
        for j in sorted(used_b, reverse=True):
            right.pop(j)

    def key(p: dict, dept: bool = True) -> tuple:
        return (norm_name(p["department"]) if dept else "", norm_name(p["project"]))

    # 1 and 2: exact keys (candidates in input order, one-to-one)
    for dept, how in ((True, "完全一致"), (False, "主管部门不同")):
        index: dict[tuple, list[int]] = {}
        for j, p in enumerate(right):
            if p["project"]:
                index.setdefault(key(p, dept), []).append(j)
        pairs = []
        for i, p in enumerate(left):
            for j in index.get(key(p, dept), []) if p["project"] else ():
                pairs.append((1.0 - 1e-6 * j, i, j, how))
        take(pairs)
    # 3: similar names within one department
    pairs = []
    for i, p in enumerate(left):
        for j, q in enumerate(right):
            if norm_name(p["department"]) != norm_name(q["department"]) or not p["project"] or not q["project"]:
                continue
            s = difflib.SequenceMatcher(None, norm_name(p["project"]), norm_name(q["project"])).ratio()
            if s >= cutoff:
                pairs.append((s, i, j, "名称相近"))
    take(pairs)
    return matches, right, left


def compare(outbox_a: Path, outbox_b: Path, cutoff: float = FUZZY_CUTOFF) -> Comparison:
    """Compare two run output folders (raises ValueError with a Chinese message)."""
    ra = records(load_run(Path(outbox_a)), Path(outbox_a))
    rb = records(load_run(Path(outbox_b)), Path(outbox_b))
    matches, new, gone = match_projects(ra.projects, rb.projects, cutoff)
    pa, pb = _problems(ra.findings), _problems(rb.findings)
    for m in matches:
        fa = pa.get((m.a["input"], m.a["project_index"]), {})
        fb = pb.get((m.b["input"], m.b["project_index"]), {})

        def item(f: dict) -> tuple:
            return (f["severity"], f["code"], f["indicator"], f["message"], f["cell"])
        m.repeated = [item(fb[k]) for k in fb if k in fa]
        m.fixed = [item(fa[k]) for k in fa if k not in fb]
        m.new = [item(fb[k]) for k in fb if k not in fa]
        for lst in (m.repeated, m.fixed, m.new):
            lst.sort(key=lambda t: severity_rank(t[0]))
    return Comparison(_label(ra.projects, outbox_a), _label(rb.projects, outbox_b), matches, new, gone)


def _label(projects: list[dict], outbox: Path) -> str:
    """What to call a run in sentences: its most common 年度 (2020年度), else its folder name."""
    from collections import Counter

    years = Counter(p["year"] for p in projects if p["year"])
    return f"{years.most_common(1)[0][0]}年度" if years else (Path(outbox).resolve().name or str(outbox))


# ---- 对比.xlsx ------------------------------------------------------------------------------

def write_comparison(c: Comparison, target: Path) -> Path:
    from openpyxl import Workbook

    from .overview import TableSheet, save

    wb = Workbook(write_only=True)
    ws = TableSheet(wb, "项目对比", ["主管部门", "项目", "上次项目名称", "匹配方式", "相似度", "上次复核得分", "本次复核得分", "变化",
                             "上次自评分", "本次自评分", "上次错误", "本次错误", "重复出现的问题", "已改正的问题", "新出现的问题",
                             "上次文件", "本次文件"],
                [22, 32, 32, 10, 7, 9, 9, 7, 8, 8, 7, 7, 9, 9, 9, 26, 26], freeze="C2")
    # the rows of the big sheets are streamed by overview.save (sheetstream), as in 汇总.xlsx
    order = sorted(c.matches, key=lambda m: (-len(m.repeated), -abs(_delta(m) or 0), m.b["department"], m.b["project"]))
    streamed = [ws.streamed(([m.b["department"], m.b["project"], m.a["project"], m.how,
                              m.similarity if m.how == "名称相近" else None, m.a["review_score"], m.b["review_score"],
                              _delta(m), m.a["self_score"], m.b["self_score"], m.a["errors"], m.b["errors"],
                              len(m.repeated), len(m.fixed), len(m.new), m.a["input"], m.b["input"]] for m in order),
                            len(order))]
    for title, attr in (("重复出现的问题", "repeated"), ("已改正的问题", "fixed"), ("新出现的问题", "new")):
        ws = TableSheet(wb, title, ["级别", "主管部门", "项目", "问题", "指标", "单元格", "说明", "代码"],
                    [6, 22, 30, 26, 26, 14, 60, 20], freeze="D2")
        rows = [(m, t) for m in c.matches for t in getattr(m, attr)]
        rows.sort(key=lambda mt: (severity_rank(mt[1][0]), mt[0].b["department"], mt[0].b["project"]))
        streamed.append(ws.streamed(([severity_label(sev), m.b["department"], m.b["project"], finding_label(code, sev),
                                      ind, cell, msg, code] for m, (sev, code, ind, msg, cell) in rows), len(rows)))
    for title, items in (("新增项目", c.new), ("未再出现的项目", c.gone)):
        ws = TableSheet(wb, title, ["主管部门", "项目", "年度", "复核得分", "错误", "文件"], [24, 36, 7, 9, 7, 36])
        streamed.append(ws.streamed(([p["department"], p["project"], p["year"], p["review_score"], p["errors"], p["input"]]
                                     for p in sorted(items, key=lambda p: (p["department"], p["project"]))), len(items)))
    ws = TableSheet(wb, "按部门", ["主管部门", "上次项目数", "本次项目数", "匹配项目数", "平均得分变化", "重复出现的问题",
                            "已改正的问题", "新出现的问题"], [26, 9, 9, 9, 10, 10, 10, 10], freeze="B2")
    for r in c.departments():
        ws.append([ws.cell(r["department"]), ws.cell(r["a"]), ws.cell(r["b"]), ws.cell(r["matched"]),
                   ws.cell(r["mean_change"]), ws.cell(r["repeated"]), ws.cell(r["fixed"]), ws.cell(r["new_problems"])])
    ws.close()
    return save(wb, target, streamed)
