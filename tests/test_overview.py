"""The bureau's view of a batch: 汇总.xlsx from pandas, frames(), compare, the 复核汇总报告.

Most tests use synthetic run outputs (tests/batchdata.py: run.json + kept review JSON +
placeholder files) with known numbers; one runs a real ``selfeval-xl run`` end to end.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from batchdata import current_run, previous_run
from conftest import SAMPLE, build, content

from selfeval_xl import cli
from selfeval_xl.compare import compare
from selfeval_xl.histogram import bands
from selfeval_xl.overview import write_summary, write_workbook
from selfeval_xl.tables import load_run, records

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


@pytest.fixture
def outbox(tmp_path) -> Path:
    return current_run(tmp_path / "本次")


def _summary(outbox: Path):
    rec = records(load_run(outbox), outbox)
    return load_workbook(write_workbook(outbox / "汇总.xlsx", rec))


def test_project_sheet(outbox):
    wb = _summary(outbox)
    assert wb.sheetnames == ["项目", "按部门", "按问题", "复核发现", "文件"]
    ws = wb["项目"]
    rows = _rows(ws)
    assert rows[0] == ("主管部门", "项目", "年度", "表式", "预算执行率（%）", "自评分", "复核得分", "最终得分", "差异", "等级",
                       "错误", "警告", "提示", "重复报送", "文件", "复核工作簿", "自评价报告")
    title = "苏州市级财政支出项目绩效自评（填表说明，2020年版）"
    # |差异| descending, then errors; the finalized project's 差异 uses its 最终得分 (85 − 90)
    assert [r[:15] for r in rows[1:]] == [
        ("市财政局", "城市更新专项资金", 2021, title, 90, 80, 75, None, -5, None, 2, 1, 0, None, "财政/a1.xlsx"),
        ("市卫健委", "公共卫生服务补助", 2021, title, 75, 90, 88, 85, -5, "良", 0, 1, 0, None, "卫健/c.xlsx（表1）"),
        ("市教育局", "校舍维修资金", 2021, title, 75, 60, 62, None, 2, None, 1, 0, 1, "重复：b1副本.xlsx", "b1.xlsx"),
        ("市教育局", "校舍维修资金", 2021, title, 75, 60, 62, None, 2, None, 1, 0, 1, "重复：b1.xlsx", "b1副本.xlsx"),
        ("市卫健委", "=健康宣传经费", 2021, title, None, 50, 50, None, 0, None, 0, 0, 0, None, "卫健/c.xlsx（表2）"),
        ("市财政局", "政府采购监管经费", 2021, title, 100, 70, 70, None, 0, None, 0, 0, 0, None, "财政/a2.xlsx"),
    ]
    # a formula-looking name stays text
    assert ws["B6"].data_type == "s" and ws["B6"].quotePrefix
    # frozen header, filter, A4 landscape one page wide, header repeated on every page
    assert ws.freeze_panes == "C2" and ws.auto_filter.ref == "A1:Q7"
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == "9"
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$1"
    # links resolve to the project's own files
    links = {(r, c): ws.cell(r, c).hyperlink.target for r in range(2, 8) for c in (16, 17)}
    for target in links.values():
        assert (outbox / unquote(target)).is_file(), target
    assert links[(2, 16)] == "财政/a1.复核.xlsx" and links[(2, 17)] == "财政/a1.自评价报告.docx"
    assert links[(3, 17)] == "卫健/c.表1.自评价报告.docx" and links[(6, 17)] == "卫健/c.表2.自评价报告.docx"


def test_department_and_problem_pivots(outbox):
    wb = _summary(outbox)
    assert _rows(wb["按部门"]) == [
        ("主管部门", "项目数", "预算数合计（万元）", "执行数合计（万元）", "执行率（%）", "平均自评分", "平均复核得分", "有错误的项目数",
         "错误", "警告", "最常见问题"),
        ("市教育局", 2, 400, 300, 75, 60, 62, 2, 2, 0, "合计不符（2条）"),
        ("市财政局", 2, 150, 140, 93.33, 75, 72.5, 1, 2, 1, "评分不符（2条）"),
        ("市卫健委", 2, 40, 30, 75, 70, 67.5, 0, 0, 1, "内容未填（1条）"),
        ("合计", 6, 590, 470, 79.66, 68.33, 67.33, 3, 4, 2, "合计不符（2条）"),
    ]
    assert _rows(wb["按问题"]) == [
        ("级别", "问题", "涉及项目数", "市教育局", "市财政局", "市卫健委", "合计"),
        ("错误", "合计不符", 2, 2, 0, 0, 2),
        ("错误", "评分不符", 1, 0, 2, 0, 2),
        ("警告", "内容未填", 1, 0, 0, 1, 1),
        ("警告", "实际值未量化", 1, 0, 1, 0, 1),
        ("提示", "超额完成", 2, 2, 0, 0, 2),
        ("合计", None, None, 4, 3, 1, 8),
    ]


def test_findings_and_files_sheets(outbox):
    wb = _summary(outbox)
    fd = wb["复核发现"]
    rows = _rows(fd)
    assert rows[0] == ("级别", "主管部门", "项目", "问题", "指标", "单元格", "说明", "代码", "文件")
    assert [r[0] for r in rows[1:]] == ["错误"] * 4 + ["警告"] * 2 + ["提示"] * 2
    assert rows[3][1:6] == ("市财政局", "城市更新专项资金", "评分不符", "指标甲", "自评表!G10")
    link = fd.cell(4, 6).hyperlink
    assert (link.target, link.location) == ("财政/a1.复核.xlsx", "'自评表'!G10")
    assert (outbox / link.target).is_file()
    assert rows[5][4:6] == ("指标戊", "表1!F8") and fd.cell(6, 6).hyperlink.location == "'表1'!F8"
    assert rows[1][4] is None  # TOTAL_MISMATCH is about the project, not an indicator
    assert _rows(wb["文件"]) == [
        ("文件", "状态", "项目数", "错误代码", "说明"),
        ("坏.xlsx", "失败", 0, "CORRUPT", "[CORRUPT] 坏.xlsx：文件已损坏"),
        ("~$x.xlsx", "跳过", 0, None, "Excel/WPS 临时锁定文件（工作簿正在被打开），已跳过"),
        ("b1.xlsx", "成功", 1, None, None), ("b1副本.xlsx", "成功", 1, None, None), ("卫健/c.xlsx", "成功", 2, None, None),
        ("财政/a1.xlsx", "成功", 1, None, None), ("财政/a2.xlsx", "成功", 1, None, None),
    ]


def test_summary_strings_stay_text(tmp_path):
    risky = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)"]
    entries = [{"input": f"{i}.xlsx", "status": "ok", "error": None, "outputs": [], "sha256": None,
                "totals": {"stated": 1, "self": 1, "computed": 1}, "findings": {"error": 1, "warning": 0, "info": 0},
                "project": {"name": text, "department": text, "year": 2020},
                "finding_items": [{"cell": "自评表!A1", "code": "SCORE_MISMATCH", "severity": "error", "message": text}]}
               for i, text in enumerate(risky)]
    entries.append({"input": "=坏.xlsx", "status": "failed", "error": {"code": "CORRUPT", "message": "=1+1"},
                    "outputs": [], "totals": None, "findings": None, "sha256": None})
    target = write_summary(tmp_path / "汇总.xlsx", entries)
    with zipfile.ZipFile(target) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in zf.read(name) and b"<f " not in zf.read(name)
    wb = load_workbook(target)
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert {c.value for c in cells} >= {*risky, "=坏.xlsx", "=1+1"}
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)


def test_frames_lengths_and_dtypes(outbox):
    import selfeval_xl
    from selfeval_xl.tables import FILE_COLUMNS, FINDING_COLUMNS, INDICATOR_COLUMNS, PROJECT_COLUMNS

    f = selfeval_xl.frames(outbox)
    assert (len(f.projects), len(f.indicators), len(f.findings), len(f.files)) == (6, 8, 8, 7)
    for df, cols in ((f.projects, PROJECT_COLUMNS), (f.indicators, INDICATOR_COLUMNS), (f.findings, FINDING_COLUMNS),
                     (f.files, FILE_COLUMNS)):
        assert list(df.columns) == list(cols)
        for col, dtype in cols.items():
            assert str(df[col].dtype) == {"str": "string"}.get(dtype, dtype), (col, df[col].dtype)
    p = f.projects.set_index(["input", "project_index"])
    assert p.loc[("卫健/c.xlsx", 0), "review_score"] == 85 and p.loc[("卫健/c.xlsx", 0), "grade"] == "良"
    assert p["duplicate"].sum() == 2 and p.loc[("b1副本.xlsx", 0), "project"] == "校舍维修资金"
    ind = f.indicators.set_index(["input", "name"])
    assert ind.loc[("财政/a1.xlsx", "指标乙"), "difference"] == -4
    assert ind.loc[("财政/a1.xlsx", "指标乙"), "findings"] == "SCORE_MISMATCH"
    # the same numbers pandas users would compute themselves
    assert f.projects.groupby("department")["review_score"].mean().to_dict() == {"市卫健委": 67.5, "市教育局": 62, "市财政局": 72.5}
    assert f.findings["label"].value_counts()["评分不符"] == 2
    empty = selfeval_xl.frames(outbox, indicators=False).indicators
    assert len(empty) == 0 and list(empty.columns) == list(INDICATOR_COLUMNS)


def test_records_read_both_run_json_shapes(outbox):
    rec = records(load_run(outbox), outbox)
    c = [p for p in rec.projects if p["input"] == "卫健/c.xlsx"]
    assert [(p["sheet"], p["project"], p["report"]) for p in c] == [
        ("表1", "公共卫生服务补助", "卫健/c.表1.自评价报告.docx"), ("表2", "=健康宣传经费", "卫健/c.表2.自评价报告.docx")]
    a1 = next(p for p in rec.projects if p["input"] == "财政/a1.xlsx")
    assert (a1["sheet"], a1["workbook"], a1["budget"], a1["paid"], a1["execution_rate"]) == ("自评表", "财政/a1.复核.xlsx", 100, 90, 90)
    # the small facts files (written by the batch beside each review) give the same rows
    from selfeval_xl import store

    for rel in ("财政/a1.xlsx", "卫健/c.xlsx"):
        store.write_reviews(outbox, rel, store.load_reviews(outbox, rel))
        assert (outbox / ".selfeval" / "facts" / (rel + ".json")).is_file()
    again = records(load_run(outbox), outbox)
    assert again.projects == rec.projects and again.findings == rec.findings
    # without the kept reviews (a run made before they were kept) the rows still come from run.json
    shutil.rmtree(outbox / ".selfeval")
    rec = records(load_run(outbox), outbox)
    assert len(rec.projects) == 6 and all(f["indicator"] == "" for f in rec.findings)


def test_compare(tmp_path, outbox, capsys):
    prev = previous_run(tmp_path / "上次")
    c = compare(prev, outbox)
    by = {m.b["project"]: m for m in c.matches}
    assert set(by) == {"城市更新专项资金", "政府采购监管经费", "校舍维修资金"}
    assert by["政府采购监管经费"].how == "名称相近" and by["政府采购监管经费"].a["project"] == "政府采购监督经费"
    assert by["政府采购监管经费"].similarity == 0.875
    assert by["校舍维修资金"].b["input"] == "b1.xlsx" and by["城市更新专项资金"].how == "完全一致"
    city = by["城市更新专项资金"]
    assert [(t[1], t[2]) for t in city.repeated] == [("SCORE_MISMATCH", "指标甲")]  # same indicator, other row
    assert [(t[1], t[2]) for t in city.fixed] == [("BUDGET_BALANCE", "")]
    assert sorted((t[1], t[2]) for t in city.new) == [("ACTUAL_NOT_NUMERIC", "指标丙"), ("SCORE_MISMATCH", "指标乙")]
    assert [(t[1], t[2]) for t in by["政府采购监管经费"].fixed] == [("MISSING_VALUE", "指标X")]
    assert sorted(p["input"] for p in c.new) == ["b1副本.xlsx", "卫健/c.xlsx", "卫健/c.xlsx"]
    assert [p["project"] for p in c.gone] == ["旅游节经费"]
    assert c.counts() == {"matched": 3, "fuzzy": 1, "new": 3, "gone": 1, "repeated": 1, "fixed": 2, "new_problems": 4,
                          "better": 2, "worse": 0}
    assert {d["department"]: (d["a"], d["b"], d["matched"], d["mean_change"], d["repeated"], d["fixed"], d["new_problems"])
            for d in c.departments()} == {
        "市财政局": (2, 2, 2, 5, 1, 2, 2), "市教育局": (1, 2, 1, 0, 0, 0, 2),
        "市卫健委": (0, 2, 0, None, 0, 0, 0), "市文旅局": (1, 0, 0, None, 0, 0, 0)}
    assert (c.a_label, c.b_label) == ("2020年度", "2021年度")

    # the command: 对比.xlsx with every sheet, fuzzy matches printed
    out = tmp_path / "对比.xlsx"
    assert cli.main(["compare", str(prev), str(outbox), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "匹配 3 个项目（其中 1 个" in text and "重复出现的问题 1 条，已改正 2 条，新出现 4 条" in text
    assert "名称相近（相似度0.88）：市财政局《政府采购监督经费》→ 市财政局《政府采购监管经费》" in text
    wb = load_workbook(out)
    assert wb.sheetnames == ["项目对比", "重复出现的问题", "已改正的问题", "新出现的问题", "新增项目", "未再出现的项目", "按部门"]
    assert _rows(wb["重复出现的问题"])[1][:5] == ("错误", "市财政局", "城市更新专项资金", "评分不符", "指标甲")
    assert _rows(wb["项目对比"])[1][:8] == ("市财政局", "城市更新专项资金", "城市更新专项资金", "完全一致", None, 70, 75, 5)
    assert len(_rows(wb["已改正的问题"])) == 3 and len(_rows(wb["未再出现的项目"])) == 2
    assert cli.main(["compare", str(tmp_path / "无"), str(outbox)]) == 2


def test_score_bands():
    assert bands([77.51, 77.38, 95, 100, 42]) == [
        ("40–50分", 1), ("50–60分", 0), ("60–70分", 0), ("70–80分", 2), ("80–90分", 0), ("90–100分", 2)]
    assert bands([]) == [] and bands([5]) [0] == ("10分以下", 1)


def _pdf_text(docx: Path, tmp_path: Path) -> str:
    from conftest import convert

    pdf = convert(docx, "pdf", tmp_path)
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.office
def test_overview_report_through_libreoffice(tmp_path, outbox):
    from conftest import soffice

    from selfeval_xl.overview_report import render

    soffice()
    prev = previous_run(tmp_path / "上次")
    rec = records(load_run(outbox), outbox)
    docx = render(rec, tmp_path / "复核汇总报告.docx", comparison=compare(prev, outbox), today=date(2021, 3, 1))
    text = _pdf_text(docx, tmp_path)
    flat = "".join(text.split())
    for heading in ("2021年度项目支出绩效自评复核汇总报告", "一、复核范围", "二、复核得分分布", "三、各主管部门情况",
                    "四、自评分与复核得分差异最大的项目", "五、主要问题", "六、与上次复核对比", "七、建议"):
        assert heading in flat, heading
    assert "（2021年3月1日）" in flat
    assert "本次共收到自评表文件7个，成功复核5个，未能复核1个，跳过1个" in flat
    assert "共有项目6个，涉及主管部门3个，其中疑似重复报送（主管部门、项目名称和年度相同）的项目2个" in flat
    assert "[CORRUPT]坏.xlsx：文件已损坏" in flat
    assert "6个项目的复核得分平均67.33分，最高88分，最低50分" not in flat  # the finalized 85 counts, not 88
    assert "6个项目的复核得分平均67.33分，最高85分，最低50分" in flat
    assert "本批自评表的表式规定等级" not in flat and "等级分布见表3" in flat
    assert "有错误的项目较多的是市教育局、市财政局，建议重点关注" in flat
    assert "复核得分低于自评分的项目2个，高于自评分的2个，一致的2个。差异最大的4个项目见表5" in flat
    assert "复核共发现问题8条，其中错误4条、警告2条、提示2条，分属5类" in flat
    assert "（一）合计不符" in flat and "涉及2个项目，共2条。例如市教育局《校舍维修资金》（自评表!G20）" in flat
    assert "（五）超额完成" in flat
    assert "两次都有的项目3个（其中1个按名称相近匹配" in flat and "已改正2条，重复出现1条，另新出现4条" in flat
    assert "1.市财政局《城市更新专项资金》：评分不符（指标“指标甲”）" in flat
    assert "1.请市教育局、市财政局等主管部门对照复核工作簿" in flat
    assert "针对“合计不符”（2个项目）：合计应等于各项自评分之和" in flat
    assert "未能复核的1个文件" in flat


def test_worker_never_imports_pandas(tmp_path):
    """A batch worker reviews a file without pandas ever being imported in its process."""
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from selfeval_xl import batch\n"
        "state = batch.worker_init({'profile': 'auto', 'template': None, 'report': True})\n"
        f"res = batch.process_file({{'source': {str(SAMPLE)!r}, 'rel': 'a.xlsx', 'staging': {str(tmp_path / 's')!r},"
        " 'report': True, 'findings': True}, state)\n"
        "print(json.dumps({'status': res['status'], 'reviews': len(res.get('reviews') or []),"
        " 'pandas': sorted(m for m in sys.modules if m == 'pandas' or m.startswith('pandas.'))}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(tmp_path),
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"status": "ok", "reviews": 1, "pandas": []}


@pytest.mark.slow
def test_run_end_to_end(tmp_path, seed):
    """A real run: two departments, a duplicate, a failed file; then a second run compared."""
    box = tmp_path / "收件箱"
    (box / "教育").mkdir(parents=True)
    shutil.copy2(SAMPLE, box / "工信.xlsx")
    shutil.copy2(SAMPLE, box / "工信副本.xlsx")
    build(box / "教育" / "校舍.xlsx", content(seed, project_name="校舍维修资金", department="苏州市教育局"))
    (box / "坏.xlsx").write_bytes(b"not a workbook")
    out1 = tmp_path / "第一次"
    assert cli.main(["run", str(box), "-o", str(out1), "-j", "1", "-q", "--no-report"]) == 1
    assert (out1 / "复核汇总报告.docx").is_file()
    for rel in ("工信.xlsx", "工信副本.xlsx", "教育/校舍.xlsx"):
        kept = json.loads((out1 / ".selfeval" / "reviews" / (rel + ".json")).read_text(encoding="utf-8"))
        assert kept["input"] == rel and len(kept["projects"][0]["indicators"]) == 92
    assert not (out1 / ".selfeval" / "reviews" / "坏.xlsx.json").exists()
    assert len(json.loads((out1 / ".selfeval" / "facts" / "工信.xlsx.json").read_text(encoding="utf-8"))
               ["projects"][0]["rows"]) == 92

    wb = load_workbook(out1 / "汇总.xlsx")
    rows = _rows(wb["项目"])[1:]
    assert [(r[0], r[1], r[5], r[6], r[7]) for r in rows[:2]] == [
        ("苏州市工业和信息化局", "苏州市打造先进制造业基地专项资金", 77.38, 77.51, 0.13)] * 2
    assert {r[11] for r in rows[:2]} == {"重复：工信副本.xlsx", "重复：工信.xlsx"}
    assert rows[2][0] == "苏州市教育局" and rows[2][11] is None and rows[2][4] == 98.96
    for r in range(2, 5):
        assert (out1 / wb["项目"].cell(r, 14).hyperlink.target).is_file()
    assert wb["项目"].cell(2, 15).value is None  # --no-report: no report to link
    assert [r[:3] for r in _rows(wb["文件"])[1:2]] == [("坏.xlsx", "失败", 0)]
    dept = {r[0]: r for r in _rows(wb["按部门"])[1:]}
    assert dept["苏州市工业和信息化局"][1:3] == (2, 115144.58) and dept["合计"][1] == 3

    import selfeval_xl

    f = selfeval_xl.frames(out1)
    assert (len(f.projects), len(f.indicators), len(f.files)) == (3, 276, 4)
    assert (f.indicators["difference"] != 0).sum() == 3  # 保持全省第二 in each of the three

    # next year: the duplicate withdrawn, the education project renamed slightly
    (box / "工信副本.xlsx").unlink()
    (box / "坏.xlsx").unlink()
    build(box / "教育" / "校舍.xlsx", content(seed, project_name="校舍维修专项资金", department="苏州市教育局"))
    out2 = tmp_path / "第二次"
    assert cli.main(["run", str(box), "-o", str(out2), "-j", "1", "-q", "--no-report", "--compare", str(out1)]) == 0
    wb = load_workbook(out2 / "对比.xlsx")
    pairs = {r[1]: r[3] for r in _rows(wb["项目对比"])[1:]}
    assert pairs == {"苏州市打造先进制造业基地专项资金": "完全一致", "校舍维修专项资金": "名称相近"}
    assert len(_rows(wb["未再出现的项目"])) == 2  # the withdrawn duplicate
    # every problem of last year came back (nothing was fixed)
    assert len(_rows(wb["已改正的问题"])) == 1 and len(_rows(wb["重复出现的问题"])) > 1

    out3 = tmp_path / "第三次"
    assert cli.main(["run", str(box), "-o", str(out3), "-j", "1", "-q", "--no-report", "--no-overview"]) == 0
    assert not (out3 / "复核汇总报告.docx").exists() and (out3 / "汇总.xlsx").is_file()
    assert cli.main(["run", str(box), "-o", str(out3), "-q", "--no-overview", "--compare", str(out1)]) == 2


def test_report_tables_numbered_in_order_of_appearance(tmp_path):
    from selfeval_xl.overview_report import build_context

    prev = previous_run(tmp_path / "上次")
    ctx = build_context(records(load_run(prev), prev), today=date(2021, 3, 1))
    # no failed file, no 等级, no comparison: those tables take no number
    assert ctx["t"] == {"failures": "", "bands": "1", "grades": "", "departments": "2", "largest": "3", "compare": ""}
    assert "见表" not in ctx["scope"]["sentence"]
    assert ctx["scores"]["sentence"].endswith("图1和表1。" if ctx["scores"]["chart_png"] else "见表1。")
    assert "见表2（按有错误的项目数排列）" in ctx["departments"]["sentence"]
    assert ctx["largest"]["sentence"] == "复核得分低于自评分的项目2个，高于自评分的0个，一致的2个。差异最大的2个项目见表3（差异＝复核得分－自评分）。"
    assert [r["diff"] for r in ctx["largest"]["rows"]] == ["-2", "-1"]
    assert ctx["comparison"] is None and ctx["advice_number"] == "六"
    assert ctx["title"] == "2020年度项目支出绩效自评复核汇总报告"


def test_a_word_inputs_report_link_is_the_report_not_the_commented_copy():
    """A Word input's outputs list the commented document (X.复核.docx) first; 汇总's 自评价报告
    column must point at X.自评价报告.docx."""
    run = {"files": [{"input": "申报.docx", "status": "ok",
                      "outputs": ["申报.复核.docx", "申报.复核.xlsx", "申报.自评价报告.docx"],
                      "projects": [{"project": {"name": "甲项目", "department": "甲局"}, "totals": {}}]}]}
    [row] = records(run).projects
    assert row["report"] == "申报.自评价报告.docx"
    assert row["workbook"] == "申报.复核.xlsx"


def test_a_runtime_error_in_the_overview_template_names_its_line(tmp_path, outbox):
    """A custom 复核汇总报告 template that fails while rendering (not while parsing) gets the same
    Chinese TemplateError with a line as the per-project report — and no half-written file."""
    from selfeval_xl.errors import TemplateError
    from selfeval_xl.overview_report import TEMPLATE_NAME, render
    from selfeval_xl.resources import template_file

    src = template_file(TEMPLATE_NAME)
    bad = tmp_path / "坏模板.docx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "word/document.xml":
                xml = data.decode("utf-8")
                i = xml.index("<w:t>") + len("<w:t>")
                data = (xml[:i] + "{{ 1 // 0 }}" + xml[i:]).encode("utf-8")
            zout.writestr(item, data)
    target = tmp_path / "复核汇总报告.docx"
    with pytest.raises(TemplateError) as exc:
        render(records(load_run(outbox), outbox), target, template=bad)
    assert "坏模板.docx" in str(exc.value) and exc.value.lineno is not None
    assert not target.exists()
