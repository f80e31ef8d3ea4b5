"""Synthetic run outputs (run.json, kept review JSON, placeholder output files) for the
overview, frames() and compare tests: the pure parts need no workbook to be reviewed."""
from __future__ import annotations

import json
from pathlib import Path


def finding(code: str, severity: str, cell: str, message: str = "") -> dict:
    return {"cell": cell, "code": code, "severity": severity, "message": message or f"{code} 于 {cell}"}


def indicator(name: str, row: int, sheet: str = "自评表", weight=5, self_score=5, computed=5, category="产出目标") -> dict:
    return {"category": category, "name": name, "target": "≥10个", "weight": weight, "actual": "8个",
            "self_score": self_score, "cell": f"{sheet}!C{row}", "computed_score": computed, "completion": 80.0,
            "basis": "完成率80%", "measure": {}}


def project(dept: str, name: str, year, stated, computed, items=(), final=None, grade=None, sheet="自评表",
            funds=None, indicators=(), profile="suzhou-2020") -> dict:
    """One project: its run.json facts (``run``) and its review JSON (``review``)."""
    counts = {k: sum(1 for f in items if f["severity"] == k) for k in ("error", "warning", "info")}
    totals = {"stated": stated, "self": stated, "computed": computed}
    if final is not None:
        totals["final"] = final
    run = {"sheet": sheet, "profile": profile, "totals": totals, "findings": counts,
           "project": {"name": name, "department": dept, "year": year}, "finding_items": list(items)}
    if grade:
        run["grade"] = grade
    review = {"file": "x.xlsx", "sheet": sheet, "profile": profile, "project": run["project"],
              "budget": {}, "funds": funds or {}, "indicators": list(indicators), "totals": totals,
              "findings": list(items)}
    return {"run": run, "review": review}


def write_outbox(root: Path, files: list[dict]) -> Path:
    """``files``: dicts with ``input``, ``status`` and, for ok files, ``projects`` (from
    ``project``), ``shape`` ("flat": the project's keys at the entry's top level, the run.json
    of today; "projects": a projects[] list) and ``outputs``."""
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for f in files:
        e = {"input": f["input"], "status": f["status"], "error": f.get("error"), "outputs": list(f.get("outputs", [])),
             "totals": None, "findings": None, "sha256": None, "project": None, "finding_items": None}
        if f.get("reason"):
            e["reason"] = f["reason"]
        if f["status"] == "ok":
            ps = f["projects"]
            if f.get("shape", "flat") == "flat":
                e.update(ps[0]["run"])
            else:
                e.update(ps[0]["run"])
                e["projects"] = [dict(p["run"], outputs=p.get("outputs", e["outputs"])) for p in ps]
            for out in e["outputs"] + [o for p in ps for o in p.get("outputs", [])]:
                (root / out).parent.mkdir(parents=True, exist_ok=True)
                (root / out).write_bytes(b"placeholder")
            rp = root / ".selfeval" / "reviews" / (f["input"] + ".json")
            rp.parent.mkdir(parents=True, exist_ok=True)
            rp.write_text(json.dumps({"input": f["input"], "projects": [p["review"] for p in ps]}, ensure_ascii=False),
                          encoding="utf-8")
        entries.append(e)
    counts = {k: sum(1 for e in entries if e["status"] == k) for k in ("ok", "failed", "skipped")}
    (root / "run.json").write_text(json.dumps({"tool": "selfeval-xl", "counts": counts, "files": entries},
                                              ensure_ascii=False, indent=1), encoding="utf-8")
    return root


F = finding


def current_run(root: Path) -> Path:
    """The mixed batch (see tests/test_overview.py for the numbers it must give)."""
    a1 = project("市财政局", "城市更新专项资金", 2021, 80, 75,
                 [F("SCORE_MISMATCH", "error", "自评表!G10"), F("SCORE_MISMATCH", "error", "自评表!G11"),
                  F("ACTUAL_NOT_NUMERIC", "warning", "自评表!F12")],
                 funds={"allocated": 100, "paid": 90},
                 indicators=[indicator("指标甲", 10, self_score=5, computed=4), indicator("指标乙", 11, self_score=5, computed=1),
                             indicator("指标丙", 12)])
    a2 = project("市财政局", "政府采购监管经费", 2021, 70, 70, funds={"allocated": 50, "paid": 50},
                 indicators=[indicator("指标X", 10)])
    b1_items = [F("TOTAL_MISMATCH", "error", "自评表!G20"), F("OVER_ACHIEVED", "info", "自评表!F13")]
    b1 = project("市教育局", "校舍维修资金", 2021, 60, 62, b1_items, funds={"allocated": 200, "paid": 150},
                 indicators=[indicator("指标丁", 13)])
    b2 = project("市教育局", " 校舍维修资金", "2021年", 60, 62, b1_items, funds={"allocated": 200, "paid": 150},
                 indicators=[indicator("指标丁", 13)])
    c1 = project("市卫健委", "公共卫生服务补助", 2021, 90, 88, [F("MISSING_VALUE", "warning", "表1!F8")], final=85,
                 grade="良", sheet="表1", funds={"allocated": 40, "paid": 30}, indicators=[indicator("指标戊", 8, "表1")])
    c2 = project("市卫健委", "=健康宣传经费", 2021, 50, 50, sheet="表2", indicators=[indicator("指标己", 8, "表2")])
    c1["outputs"] = ["卫健/c.复核.xlsx", "卫健/c.表1.自评价报告.docx"]
    c2["outputs"] = ["卫健/c.复核.xlsx", "卫健/c.表2.自评价报告.docx"]
    return write_outbox(root, [
        {"input": "财政/a1.xlsx", "status": "ok", "projects": [a1], "outputs": ["财政/a1.复核.xlsx", "财政/a1.自评价报告.docx"]},
        {"input": "财政/a2.xlsx", "status": "ok", "projects": [a2], "outputs": ["财政/a2.复核.xlsx", "财政/a2.自评价报告.docx"]},
        {"input": "b1.xlsx", "status": "ok", "projects": [b1], "outputs": ["b1.复核.xlsx", "b1.自评价报告.docx"]},
        {"input": "b1副本.xlsx", "status": "ok", "projects": [b2], "outputs": ["b1副本.复核.xlsx", "b1副本.自评价报告.docx"]},
        {"input": "卫健/c.xlsx", "status": "ok", "projects": [c1, c2], "shape": "projects", "outputs": [
            "卫健/c.复核.xlsx", "卫健/c.表1.自评价报告.docx", "卫健/c.表2.自评价报告.docx"]},
        {"input": "坏.xlsx", "status": "failed", "error": {"code": "CORRUPT", "message": "[CORRUPT] 坏.xlsx：文件已损坏"}},
        {"input": "~$x.xlsx", "status": "skipped", "reason": "Excel/WPS 临时锁定文件（工作簿正在被打开），已跳过"},
    ])


def previous_run(root: Path) -> Path:
    """Last year's batch for compare: one repeated and one fixed problem, a renamed project,
    a project gone."""
    a1 = project("市财政局", "城市更新专项资金", 2020, 72, 70,
                 [F("SCORE_MISMATCH", "error", "自评表!G30"), F("BUDGET_BALANCE", "error", "自评表!B5")],
                 indicators=[indicator("指标甲", 30, self_score=5, computed=3)])
    a2 = project("市财政局", "政府采购监督经费", 2020, 65, 65, [F("MISSING_VALUE", "warning", "自评表!F10")],
                 indicators=[indicator("指标X", 10)])
    b1 = project("市教育局", "校舍维修资金", 2020, 62, 62, indicators=[indicator("指标丁", 13)])
    d1 = project("市文旅局", "旅游节经费", 2020, 75, 74, [F("SCORE_MISMATCH", "error", "自评表!G9")],
                 indicators=[indicator("指标庚", 9)])
    return write_outbox(root, [
        {"input": "a1.xlsx", "status": "ok", "projects": [a1], "outputs": ["a1.复核.xlsx"]},
        {"input": "a2.xlsx", "status": "ok", "projects": [a2], "outputs": ["a2.复核.xlsx"]},
        {"input": "b1.xlsx", "status": "ok", "projects": [b1], "outputs": ["b1.复核.xlsx"]},
        {"input": "d1.xlsx", "status": "ok", "projects": [d1], "outputs": ["d1.复核.xlsx"]},
    ])
