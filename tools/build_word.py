"""Build a Word 自评价报告 (.docx) holding the 自评表 as a table, from form content.

The table is the blank form's layout (``form.build``: the same cells and merges as the workbook
sample), the two title rows become paragraphs above it, and the narrative follows it as
headings and paragraphs - the shape of the seed document. Used by the tests (and the fuzz
bases) to type the same form into Word the way departments do, with optional drift.

    python tools/build_word.py OUT.docx      # the seed project
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CN_NUMBERS = "一二三四五六七八九十"


def build_docx(content: dict, path: Path, *, merges: bool = True, blank_rows: tuple[int, ...] = (),
               leading_table: bool = False, numbered: bool = False, heading_style: bool = False,
               narrative: bool = True) -> Path:
    """Write ``content`` as a Word document to ``path``.

    ``merges=False`` types every cell unmerged (the value in the merge's first cell);
    ``blank_rows`` inserts an empty table row after each listed form row; ``leading_table`` puts
    an unrelated contact table before the form; ``numbered`` writes the narrative headings as
    一、项目概况 …; ``heading_style`` gives them Word's Heading 1 style.
    """
    from docx import Document
    from docx.shared import Pt

    sys.path.insert(0, str(ROOT))
    from selfeval_xl import form

    ws = form.build(content)[form.FORM_SHEET]
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    if leading_table:
        doc.add_paragraph("报送信息")
        t = doc.add_table(rows=2, cols=3)
        for j, text in enumerate(("报送单位", "联系人", "联系电话")):
            t.cell(0, j).text = text
        for j, text in enumerate(("苏州市工业和信息化局", "张三", "0512-68000000")):
            t.cell(1, j).text = text
        doc.add_paragraph("")
    doc.add_paragraph(str(ws["A1"].value or ""))
    doc.add_paragraph(str(ws["A2"].value or ""))
    first, last = 3, ws.max_row
    rows = []
    for r in range(first, last + 1):
        rows.append(r)
        if r in blank_rows:
            rows.append(None)
    table = doc.add_table(rows=len(rows), cols=7)
    table.style = "Table Grid"
    at = {r: i for i, r in enumerate(rows) if r is not None}
    if merges:
        for m in ws.merged_cells.ranges:
            if m.min_row < first:
                continue
            cells = table._cells  # one grid per merge (each merge changes it), not one per corner
            cells[at[m.min_row] * 7 + m.min_col - 1].merge(cells[at[m.max_row] * 7 + m.max_col - 1])
    # table.cell() rebuilds the whole cell grid on every call (quadratic on this form's ~130 rows);
    # typing text does not change the grid, so take it once, laid out as table.cell indexes it.
    cells = table._cells
    for r in range(first, last + 1):
        for c in range(1, 8):
            v = ws.cell(r, c).value
            if v is None:
                continue
            cells[at[r] * 7 + c - 1].text = _text(v)
    if narrative:
        doc.add_paragraph("")
        doc.add_paragraph("项目基本情况")
        for k, heading in enumerate(form.NARRATIVE_HEADINGS):
            text = (content.get("narrative") or {}).get(heading)
            title = f"{CN_NUMBERS[k]}、{heading}" if numbered else heading
            if heading_style:
                doc.add_heading(title, level=1)
            else:
                doc.add_paragraph(title)
            for line in (text or "").split("\n"):
                doc.add_paragraph(line)
    doc.save(str(path))
    return Path(path)


def _text(v) -> str:
    """A cell value as typed into Word: numbers as written on the form (two decimals for money
    is what departments type, but the value is what counts: the shortest exact form here)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    from build_sample import SEED, parse_seed

    out = Path(argv[0]) if argv else Path("自评价报告.docx")
    build_docx(parse_seed(SEED.read_text(encoding="utf-8")), out)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
