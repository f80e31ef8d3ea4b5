"""Findings: the sample's exact findings, each code on a workbook with that error planted,
and a clean workbook that raises none."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import Decimal

import pytest

from conftest import CLEAN_MONEY, INPUT, SAMPLE, build
from selfeval_xl.review import review_file, to_json

D = Decimal


@pytest.fixture(scope="module")
def sample_review():
    return review_file(SAMPLE)


def _cell_of(r, name, column):
    ind = next(i for i in r.evaluation.indicators if i.name == name)
    return getattr(ind, column).cell


def test_sample_totals(sample_review):
    r = sample_review
    assert r.computed_total == D("77.51")
    assert r.self_total == D("77.38")
    assert r.stated_total == D("77.38")
    assert [(c.name, c.points, c.weight_sum, c.self, c.computed) for c in r.categories] == [
        ("投入目标", 26, 26, D("25.96"), D("25.96")),
        ("产出目标", 20, 20, D("19.62"), D("19.62")),
        ("结果目标", 28, 28, D("26.6"), D("26.6")),
        ("影响力目标", 6, 6, D("5.2"), D("5.33")),
    ]


def test_sample_findings(sample_review):
    r = sample_review
    codes = [f.code for f in r.findings]
    mismatch = [f for f in r.findings if f.code == "SCORE_MISMATCH"]
    assert len(mismatch) == 1
    assert mismatch[0].cell == _cell_of(r, "促进我市软件产业高质量发展，保持全省第二的位置", "self_score")
    assert "0.54" in mismatch[0].message and "0.67" in mismatch[0].message
    not_num = [f for f in r.findings if f.code == "ACTUAL_NOT_NUMERIC"]
    assert [f.cell for f in not_num] == [_cell_of(r, "规模以上工业增加值率提高", "actual")]
    comp = [f for f in r.findings if f.code == "COMPOSITION_VS_FUNDS"]
    assert len(comp) == 1 and "57559.49" in comp[0].message and "57572.29" in comp[0].message
    goal = [f for f in r.findings if f.code == "GOAL_MISMATCH"]
    assert [f.cell for f in goal] == [_cell_of(r, "获评省级示范智能车间数量", "target")]
    assert "131" in goal[0].message and "53" in goal[0].message
    for absent in ("BUDGET_BALANCE", "FUNDS_BALANCE", "COMPOSITION_SUM", "TOTAL_MISMATCH", "WEIGHT_SUM", "WEIGHT_SPLIT",
                   "UNIT_MISMATCH", "SCORE_OVER_WEIGHT"):
        assert absent not in codes, absent


def test_check_json_contract():
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(SAMPLE), "--json"],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode("utf-8", "replace")
    data = json.loads(out.stdout)
    assert data["totals"] == {"stated": 77.38, "self": 77.38, "computed": 77.51}
    assert data["profile"] == "suzhou-2020"
    assert len(data["indicators"]) == 92
    assert [sum(1 for i in data["indicators"] if i["category"] == c) for c in ("投入目标", "产出目标", "结果目标", "影响力目标")] == [10, 53, 20, 9]
    assert len(data["composition"]["items"]) == 58 and data["composition"]["total"] == 57559.49
    ind = next(i for i in data["indicators"] if i["name"] == "预算执行率")
    assert ind["computed_score"] == 7.96 and ind["completion"] == 99.9 and ind["measure"]["actual"]["value"] == 99.9
    assert set(data) >= {"file", "project", "budget", "funds", "composition", "indicators", "totals", "narrative",
                         "categories", "findings"}
    assert data["project"] == {"name": "苏州市打造先进制造业基地专项资金", "year": 2020, "department": "苏州市工业和信息化局"}


def test_check_human_output_and_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(SAMPLE)], capture_output=True, timeout=120)
    text = out.stdout.decode("utf-8")
    assert "77.51" in text and "SCORE_MISMATCH" in text and "错误" in text
    bad = tmp_path / "坏.xlsx"
    bad.write_text("x", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(bad)], capture_output=True, timeout=120)
    assert out.returncode == 2
    err = out.stderr.decode("utf-8")
    assert "NOT_A_WORKBOOK" in err and "坏.xlsx" in err and "Traceback" not in err


# ---- a clean workbook, and each code planted --------------------------------------

CLEAN = {
    "project_name": "测试项目", "year": 2021, "department": "苏州市测试局",
    **CLEAN_MONEY,
    "categories": [
        ("投入目标（26分）", INPUT),
        ("产出目标（20分）", [("扶持企业数量", "=5家", 6.67, "=5家", 6.67), ("建设平台个数", "=2个", 6.67, "=2个", 6.67),
                           ("培训人次", "≥300人次", 6.66, "=310人次", 6.66)]),
        ("结果目标（28分）", [("新增产值", "≥100亿元", 14, "=120亿元", 14), ("满意度", "≥90%", 14, "=95%", 14)]),
        ("影响力目标（6分）", [("保持全省第二", "全省第二", 3, "全省第二", 3), ("带动作用", "显著提升", 3, "显著提升", 3)]),
    ],
    "total": 80,
    "narrative": {"项目概况": "概况。", "年度绩效目标": "扶持企业数量5家；建设平台个数2个；培训人次300人次。"},
}


def _review(tmp_path, change=None):
    c = copy.deepcopy(CLEAN)
    if change:
        change(c)
    return review_file(build(tmp_path / "planted.xlsx", c))


def _codes(r):
    return sorted({f.code for f in r.findings})


def test_clean_workbook_raises_none(tmp_path):
    r = _review(tmp_path)
    assert r.findings == ()
    assert r.computed_total == r.self_total == 80


def _set(c, cat, idx, pos, value):
    rows = c["categories"][cat][1]
    row = list(rows[idx])
    row[pos] = value
    rows[idx] = tuple(row)


PLANTED = {
    "SCORE_MISMATCH": lambda c: (_set(c, 1, 0, 4, 6), c.update(total=79.33)),
    "SCORE_OVER_WEIGHT": lambda c: (_set(c, 3, 1, 4, 4), c.update(total=81)),
    "TOTAL_MISMATCH": lambda c: c.update(total=79),
    "WEIGHT_SUM": lambda c: c["categories"].__setitem__(0, ("投入目标（30分）", INPUT)),
    "WEIGHT_SPLIT": lambda c: (_set(c, 1, 0, 2, 7.67), _set(c, 1, 0, 4, 7.67), _set(c, 1, 1, 2, 5.67), _set(c, 1, 1, 4, 5.67)),
    "BUDGET_BALANCE": lambda c: c["budget"].update(balance=60),
    "FUNDS_BALANCE": lambda c: c["funds"].update(carried=40),
    "COMPOSITION_SUM": lambda c: c.update(sub_items=[("子项目甲", 1000), ("子项目乙", 150)]),
    "COMPOSITION_VS_FUNDS": lambda c: c.update(sub_items=[("子项目甲", 1000), ("子项目乙", 100)], composition_total=1100.01),
    "GOAL_MISMATCH": lambda c: c["narrative"].update({"年度绩效目标": "扶持企业数量7家；建设平台个数2个。"}),
    "ACTUAL_NOT_NUMERIC": lambda c: (_set(c, 2, 0, 3, "高于上年"), _set(c, 2, 0, 4, 0), c.update(total=66)),
    "VALUE_UNPARSED": lambda c: (_set(c, 3, 1, 1, "全天候可用"), _set(c, 3, 1, 3, "全天候")),
    "UNIT_MISMATCH": lambda c: (_set(c, 2, 1, 3, "=95家"), _set(c, 2, 1, 4, 0), c.update(total=66)),
    "OVER_ACHIEVED": lambda c: _set(c, 2, 0, 3, "=200亿元"),
    "MISSING_VALUE": lambda c: (_set(c, 1, 1, 3, ""), _set(c, 1, 1, 4, 0), c.update(total=73.33)),
}


@pytest.mark.parametrize("code", sorted(PLANTED))
def test_planted(tmp_path, code):
    r = _review(tmp_path, PLANTED[code])
    assert code in _codes(r), r.findings
    f = next(f for f in r.findings if f.code == code)
    assert f.cell.startswith("自评表!") and f.message


def test_planted_cells_exact(tmp_path):
    r = _review(tmp_path, PLANTED["SCORE_MISMATCH"])
    f = next(f for f in r.findings if f.code == "SCORE_MISMATCH")
    assert f.cell == _cell_of(r, "扶持企业数量", "self_score")
    assert "6.67" in f.message and "6" in f.message
    r = _review(tmp_path, PLANTED["BUDGET_BALANCE"])
    f = next(f for f in r.findings if f.code == "BUDGET_BALANCE")
    assert f.cell == r.evaluation.budget["balance"].cell and "50.25" in f.message and "60" in f.message
    assert _codes(r) == ["BUDGET_BALANCE"]


def test_json_of_planted_is_serialisable(tmp_path):
    r = _review(tmp_path, PLANTED["GOAL_MISMATCH"])
    json.dumps(to_json(r), ensure_ascii=False)


def test_output_survives_a_gbk_console(tmp_path):
    """Windows consoles are often GBK: characters GBK lacks (emoji in a project name) must not crash."""
    import os
    import shutil

    src = tmp_path / "项目😀.xlsx"
    shutil.copy2(SAMPLE, src)
    env = {**os.environ, "PYTHONIOENCODING": "gbk"}
    out = subprocess.run([sys.executable, "-m", "selfeval_xl", "check", str(src)], capture_output=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr.decode("gbk", "replace")
    text = out.stdout.decode("gbk")
    assert "77.51" in text and "项目?.xlsx" in text
