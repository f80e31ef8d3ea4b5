"""The reader: the sample equals the seed, and every tolerance of issue 2 holds."""
from __future__ import annotations

import io
import shutil
import time
import zipfile
from decimal import Decimal

import pytest

from conftest import SAMPLE, build, content, convert, relayout
from selfeval_xl.errors import ReadError
from selfeval_xl.reader import read
from selfeval_xl.safety import Limits

D = Decimal


def _num(x) -> Decimal:
    return D(str(x))


def test_sample_equals_seed(seed):
    ev = read(SAMPLE)
    assert ev.project_name.text == seed["project_name"] == "苏州市打造先进制造业基地专项资金"
    assert ev.year.number == seed["year"] == 2020
    assert ev.department.text == seed["department"]
    for key, val in seed["budget"].items():
        assert ev.budget[key].number == _num(val), key
    for key, val in seed["funds"].items():
        assert ev.funds[key].number == _num(val), key
    assert ev.composition_total.number == D("57559.49")
    assert [(i.name, i.amount.number) for i in ev.sub_items] == [(n, _num(a)) for n, a in seed["sub_items"]]
    assert len(ev.sub_items) == 58
    assert sum(i.amount.number for i in ev.sub_items) == D("57559.49")
    got = [(c.label, [(i.name, i.target.text, i.weight.number, i.actual.text, i.self_score.number) for i in c.indicators])
           for c in ev.categories]
    want = [(label, [(n, t, _num(w), a, _num(s)) for n, t, w, a, s in rows]) for label, rows in seed["categories"]]
    assert got == want
    assert [len(c.indicators) for c in ev.categories] == [10, 53, 20, 9]
    assert [c.points for c in ev.categories] == [26, 20, 28, 6]
    assert ev.stated_total.number == D("77.38")
    assert ev.instructions == seed["instructions"]
    assert {h: n.text for h, n in ev.narrative.items()} == {h: t.strip() for h, t in seed["narrative"].items()}
    assert len(ev.narrative) == 7


def test_cells_are_known():
    ev = read(SAMPLE)
    ind = next(i for i in ev.indicators if i.name == "预算执行率")
    assert ind.self_score.cell.startswith("自评表!G")
    assert ind.actual.text == "=99.9%"
    assert ev.stated_total.cell.startswith("自评表!G")
    assert ev.narrative["项目概况"].cell == "项目基本情况!B2"


def test_strings_with_equals_are_text_not_formulas():
    with zipfile.ZipFile(SAMPLE) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in xml
    assert "=5家" in [i.target.text for i in read(SAMPLE).indicators]


def _same(ev, ref):
    assert ev.project_name.text == ref.project_name.text
    assert [(i.category, i.name, i.target.text, i.weight.number, i.actual.text, i.self_score.number) for i in ev.indicators] == \
        [(i.category, i.name, i.target.text, i.weight.number, i.actual.text, i.self_score.number) for i in ref.indicators]
    assert {k: v.number for k, v in ev.budget.items()} == {k: v.number for k, v in ref.budget.items()}
    assert {k: v.number for k, v in ev.funds.items()} == {k: v.number for k, v in ref.funds.items()}
    assert [(s.name, s.amount.number) for s in ev.sub_items] == [(s.name, s.amount.number) for s in ref.sub_items]
    assert ev.stated_total.number == ref.stated_total.number
    assert {h: n.text for h, n in ev.narrative.items()} == {h: n.text for h, n in ref.narrative.items()}


@pytest.mark.parametrize("dr,dc", [(5, 0), (0, 3), (12, 2)])
def test_form_anywhere_on_the_sheet(tmp_path, dr, dc):
    ref = read(SAMPLE)
    ev = read(relayout(SAMPLE, tmp_path / "moved.xlsx", row_map=lambda r: r + dr, col_shift=dc))
    _same(ev, ref)
    assert ev.stated_total.cell != ref.stated_total.cell or (dr, dc) == (0, 0)


def test_rows_inserted_between_blocks(tmp_path):
    ref = read(SAMPLE)
    # blank rows after the project block, inside the budget block gap, and before the indicator table
    ev = read(relayout(SAMPLE, tmp_path / "gaps.xlsx", row_map=lambda r: r + (r > 4) * 2 + (r > 9) * 3 + (r > 69) * 1))
    _same(ev, ref)


def test_unmerged_labels_and_repeated_class_label(tmp_path):
    ref = read(SAMPLE)

    def repeat_class(wb):
        ws = wb["自评表"]
        label = None
        for r in range(1, ws.max_row + 1):
            v = ws.cell(r, 2).value
            if isinstance(v, str) and v.endswith("分）") and "目标" in v:
                label = v
            elif label and ws.cell(r, 3).value and ws.cell(r, 1).value != "合计":
                ws.cell(r, 2, label)
            if ws.cell(r, 1).value == "合计":
                break

    ev = read(relayout(SAMPLE, tmp_path / "flat.xlsx", merges=False, edit=repeat_class))
    _same(ev, ref)


def test_project_column_blank(tmp_path):
    ref = read(SAMPLE)

    def drop(wb):
        ws = wb["自评表"]
        for r in range(1, ws.max_row + 1):
            if str(ws.cell(r, 1).value or "").startswith("项目绩效实现情况"):
                ws.cell(r, 1).value = None

    ev = read(relayout(SAMPLE, tmp_path / "noproj.xlsx", merges=False, edit=drop))
    _same(ev, ref)
    assert ev.performance_label == ""


def test_numbers_typed_as_text(tmp_path, seed):
    c = content(seed, year="２０２０ ",
                budget={"initial": "50,660.00", "adjustment": " ６９６２.８０", "allocated": "57，572.29", "balance": "50.51 "},
                funds={"allocated": "57572.29", "paid": "56,974.96", "balance": "597.33", "carried": "５９７.３３", "recovered": "0"})
    c["categories"] = [(label, [(n, t, str(w), a, f" {s} ") for n, t, w, a, s in rows]) for label, rows in seed["categories"]]
    ev = read(build(tmp_path / "text.xlsx", c))
    ref = read(SAMPLE)
    assert ev.year.number == 2020
    assert {k: v.number for k, v in ev.budget.items()} == {k: v.number for k, v in ref.budget.items()}
    assert {k: v.number for k, v in ev.funds.items()} == {k: v.number for k, v in ref.funds.items()}
    assert [i.self_score.number for i in ev.indicators] == [i.self_score.number for i in ref.indicators]
    assert [i.weight.number for i in ev.indicators] == [i.weight.number for i in ref.indicators]


def test_other_counts_and_class_points(tmp_path, seed):
    cats = [("投入目标（30分）", [("预算执行率", "=100%", 30, "=100%", 30)]),
            ("产出目标（40分）", [(f"产出{i}", f"={i}个", 8, f"={i}个", 8) for i in range(1, 6)]),
            ("结果目标（20分）", [("结果1", "≥10家", 10, "=12家", 10), ("结果2", "≥1家", 10, "=1家", 10)]),
            ("影响力目标（10分）", [("影响1", "好", 10, "好", 10)])]
    c = content(seed, categories=cats, sub_items=[("甲", 1), ("乙", 2), ("丙", 3)], composition_total=6, total=100)
    ev = read(build(tmp_path / "other.xlsx", c))
    assert [(cat.name, cat.points, len(cat.indicators)) for cat in ev.categories] == [
        ("投入目标", 30, 1), ("产出目标", 40, 5), ("结果目标", 20, 2), ("影响力目标", 10, 1)]
    assert [s.name for s in ev.sub_items] == ["甲", "乙", "丙"]
    assert ev.stated_total.number == 100


def test_narrative_below_table_on_same_sheet(tmp_path):
    ref = read(SAMPLE)

    def move(wb):
        ws, ns = wb["自评表"], wb["项目基本情况"]
        base = ws.max_row + 2
        for row in ns.iter_rows():
            for cell in row:
                if cell.value is not None:
                    ws.cell(base + cell.row, cell.column, cell.value)
        wb.remove(ns)

    ev = read(relayout(SAMPLE, tmp_path / "onesheet.xlsx", edit=move))
    assert {h: n.text for h, n in ev.narrative.items()} == {h: n.text for h, n in ref.narrative.items()}
    assert ev.narrative["项目概况"].cell.startswith("自评表!")


def _total_as_formula(path):
    """Replace the 合计 self-score by =SUM(...) over the 92 scores, saved by openpyxl (no cached value)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["自评表"]
    total = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "合计")
    ws.cell(total, 7).value = f"=SUM(G{total - 92}:G{total - 1})"
    wb.save(path)
    return total


def test_formula_without_cached_value_is_reported(tmp_path, seed):
    path = build(tmp_path / "f.xlsx", seed)
    total = _total_as_formula(path)
    ev = read(path)
    assert ev.stated_total.number is None
    notice = [n for n in ev.notices if n.code == "FORMULA_NO_VALUE"]
    assert [n.cell for n in notice] == [f"自评表!G{total}"]


@pytest.mark.office
def test_formula_cached_value_read(tmp_path, seed):
    """A workbook saved by a spreadsheet program keeps the computed value: read that."""
    path = build(tmp_path / "src.xlsx", seed)
    _total_as_formula(path)
    out = tmp_path / "lo"
    out.mkdir()
    saved = convert(path, "xlsx", out)
    ev = read(saved)
    assert ev.stated_total.number == D("77.38")
    assert not [n for n in ev.notices if n.code == "FORMULA_NO_VALUE"]


@pytest.mark.office
@pytest.mark.parametrize("fmt", ["xls", "ods", "xlsm:Calc MS Excel 2007 VBA XML"])
def test_other_formats(tmp_path, fmt):
    ref = read(SAMPLE)
    out = convert(SAMPLE, fmt, tmp_path)
    _same(read(out), ref)


def test_et_is_read_like_xls(tmp_path):
    """WPS .et files are BIFF8: the suffix must not matter to the reader."""
    src = tmp_path / "a.xlsx"
    shutil.copy2(SAMPLE, src)
    et = tmp_path / "a.et"
    shutil.copy2(src, et)  # content decides, not the suffix
    _same(read(et), read(SAMPLE))


# ---- unreadable files ----------------------------------------------------------------

def _code(path) -> str:
    with pytest.raises(ReadError) as exc:
        read(path)
    assert path.name in exc.value.message
    return exc.value.code


def test_not_a_workbook(tmp_path):
    p = tmp_path / "文本.xlsx"
    p.write_text("这不是表格", encoding="utf-8")
    assert _code(p) == "NOT_A_WORKBOOK"


def test_zip_but_not_workbook(tmp_path):
    p = tmp_path / "doc.xlsx"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    assert _code(p) == "NOT_A_WORKBOOK"


def test_truncated(tmp_path):
    p = tmp_path / "截断.xlsx"
    p.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size // 2])
    assert _code(p) == "CORRUPT"


def test_encrypted(tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile

    p = tmp_path / "加密.xlsx"
    buf = io.BytesIO()
    with SAMPLE.open("rb") as fh:
        OOXMLFile(fh).encrypt("secret", buf)
    p.write_bytes(buf.getvalue())
    assert _code(p) == "ENCRYPTED"


def test_empty_workbook_and_empty_file(tmp_path):
    from openpyxl import Workbook

    p = tmp_path / "空.xlsx"
    Workbook().save(p)
    assert _code(p) == "EMPTY"
    z = tmp_path / "零字节.xlsx"
    z.write_bytes(b"")
    assert _code(z) == "EMPTY"


def test_no_indicator_table(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active["A1"] = "项目名称"
    wb.active["B1"] = "某项目"
    p = tmp_path / "无指标.xlsx"
    wb.save(p)
    assert _code(p) == "NOT_SELF_EVALUATION_FORM"


def test_missing_project_name(tmp_path, seed):
    p = build(tmp_path / "无名称.xlsx", content(seed, project_name=None))
    with pytest.raises(ReadError) as exc:
        read(p)
    assert exc.value.code == "MISSING_FIELD"
    assert "自评表!B3" in exc.value.message


def test_zip_bomb_fails_fast(tmp_path):
    p = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 2**20))
    t = time.perf_counter()
    assert _code(p) == "TOO_LARGE"
    assert time.perf_counter() - t < 0.5


def test_declared_size_limit(tmp_path):
    with pytest.raises(ReadError) as exc:
        read(SAMPLE, Limits(max_unpacked_bytes=10_000))
    assert exc.value.code == "TOO_LARGE"


def test_row_limit(tmp_path):
    with pytest.raises(ReadError) as exc:
        read(SAMPLE, Limits(max_rows=100))
    assert exc.value.code == "TOO_LARGE"
    assert "行" in exc.value.message


def test_xml_entities_refused(tmp_path):
    p = tmp_path / "xxe.xlsx"
    with zipfile.ZipFile(SAMPLE) as src, zipfile.ZipFile(p, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + data.split(b"?>", 1)[-1]
            dst.writestr(item, data)
    assert _code(p) == "UNSAFE_CONTENT"
