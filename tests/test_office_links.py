"""Hostile binary Office files (issue 16): what LibreOffice would reach for while converting a
.xls or a .doc is taken out first (ole_links), and LibreOffice's own profile is hardened.

Each construct has a precondition test that shows the harm without the protection (so the
protective test can fail), against a real HTTP server on 127.0.0.1 and real LibreOffice."""
from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from conftest import convert
from test_odf_links import _png, edit_content, server  # noqa: F401  (the 127.0.0.1 server fixture)
from selfeval_xl import office
from selfeval_xl.ole_links import readable_path, strip_doc, strip_xls
from selfeval_xl.pipeline import JobOptions, review_into
from selfeval_xl.review import review_file
from selfeval_xl.writeback import REVIEW_SHEET, reviewed_name, write_reviewed

pytestmark = pytest.mark.office

TS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"


def _everything(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return b"".join(zf.read(n) for n in zf.namelist())


# ---- .xls: an external reference (SUPBOOK) ---------------------------------------------------

def _hostile_xls(sample: Path, tmp_path: Path, url: str) -> tuple[Path, str]:
    """The sample as .xls with a sheet whose formula refers to another workbook; the SUPBOOK
    LibreOffice writes for it is then pointed at ``url`` (raw URL form, same record length)."""
    ods = convert(sample, "ods", tmp_path / "ods")
    other = tmp_path / "o" / "other.ods"
    other.parent.mkdir()
    shutil.copy(ods, other)
    # the encoded path is 1 char longer than the POSIX path; the raw-URL form is 3 + len(url)
    want = len(str(other)) + 1 - 3
    target = url + "/" + "x" * (want - len(url) - 1)
    table = (f'<table:table table:name="外部"><table:table-row><table:table-cell '
             f"table:formula=\"of:=['{other.as_uri()}'#$'自评表'.A1]\" office:value-type=\"string\">"
             '<text:p>引用</text:p></table:table-cell></table:table-row></table:table>')
    with_ref = edit_content(ods, tmp_path / "with_ref.ods",
                            lambda text: text.replace("</office:spreadsheet>", table + "</office:spreadsheet>", 1))
    xls = convert(with_ref, "xls", tmp_path / "xls")
    import olefile

    with olefile.OleFileIO(str(xls), write_mode=True) as ole:
        stream = bytearray(ole.openstream("Workbook").read())
        path = ("\x01\x02" + str(other)[1:].replace("/", "\x03")).encode("latin-1")
        at = stream.index(path)
        raw = ("\x01\x05" + chr(len(target)) + target).encode("latin-1")
        assert len(raw) == len(path)
        stream[at:at + len(path)] = raw
        ole.write_stream("Workbook", bytes(stream))
    hostile = tmp_path / "hostile.xls"
    shutil.move(xls, hostile)
    return hostile, target


def test_precondition_libreoffice_carries_an_xls_external_reference_into_the_xlsx(sample, tmp_path, server):
    url, hits = server
    hostile, target = _hostile_xls(sample, tmp_path, url)
    out = office.convert([hostile], "xlsx", tmp_path / "plain")[hostile]
    assert target.encode() in _everything(out)  # an externalLink Excel would offer to update


def test_hostile_xls_external_reference_is_taken_out_before_converting(sample, tmp_path, server):
    url, hits = server
    hostile, target = _hostile_xls(sample, tmp_path, url)
    before = hostile.read_bytes()
    out = write_reviewed(review_file(hostile), hostile, tmp_path / "out" / reviewed_name(hostile))
    assert hostile.read_bytes() == before  # the input is never touched
    assert hits == []
    with zipfile.ZipFile(out) as zf:
        links = [t for n in zf.namelist() if n.startswith("xl/externalLinks/_rels/")
                 for t in re.findall(rb'Target="([^"]*)"', zf.read(n))]
        # what is left is a relative name of underscores that resolves to nothing (LibreOffice prefixes ../in/)
        assert links and all(b":" not in t and not t.rsplit(b"/", 1)[-1].strip(b"_") for t in links)
        holding = [n for n in zf.namelist() if url.split("//")[1].encode() in zf.read(n)]
    wb = load_workbook(out)
    notes = [c.value for row in wb[REVIEW_SHEET].iter_rows() for c in row
             if isinstance(c.value, str) and "外部工作簿" in c.value]
    assert len(notes) == 1 and target in notes[0]  # the reviewer is told what was taken out
    assert len(holding) == 1 and holding[0].startswith("xl/worksheets/")  # ... and the notice is the only trace
    assert wb.sheetnames.index(REVIEW_SHEET) == int(re.search(r"(\d+)", holding[0].rsplit("/", 1)[1]).group(1)) - 1
    assert review_file(hostile).computed_total == review_file(sample).computed_total  # the form reads the same


def test_a_plain_xls_is_not_touched(sample, tmp_path):
    xls = convert(sample, "xls", tmp_path / "xls")
    copy = tmp_path / "copy.xls"
    shutil.copy(xls, copy)
    assert strip_xls(copy) == [] and copy.read_bytes() == xls.read_bytes()
    out = write_reviewed(review_file(xls), xls, tmp_path / "out" / reviewed_name(xls))
    assert not any("外部" in str(c.value) for row in load_workbook(out)[REVIEW_SHEET].iter_rows() for c in row)


@pytest.mark.parametrize("virtual, shown", [
    ("\x01\x02tmp\x03a\x03b.xls", "\\tmp\\a\\b.xls"), ("\x01\x01Cdata\x03a.xls", "C:\\data\\a.xls"),
    ("\x01\x01@srv\x03share\x03b.xls", "\\\\srv\\share\\b.xls"), ("\x01\x05\x0bhttp://x/yz", "http://x/yz"),
    ("\x01\x04\x04b.xls", "..\\..\\b.xls"), ("plain.xls", "plain.xls"),
])
def test_readable_path(virtual, shown):
    assert readable_path(virtual) == shown


# ---- .doc: a linked picture (INCLUDEPICTURE) -------------------------------------------------

def _linked_picture_docx(seed_docx: Path, tmp_path: Path, url: str) -> Path:
    """The seed as Word with a picture that is linked, not embedded, to ``url``."""
    from docx import Document
    from docx.shared import Inches

    doc = Document(str(seed_docx))
    doc.add_picture(str(_png(tmp_path / "p.png")), width=Inches(1))
    buf = io.BytesIO()
    doc.save(buf)
    out = tmp_path / "linked.docx"
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "word/_rels/document.xml.rels":
                data = re.sub(rb'Target="media/image\d+\.png"', f'Target="{url}/tracker.png" TargetMode="External"'.encode(), data)
            elif item.filename == "word/document.xml":
                data = data.replace(b"r:embed=", b"r:link=")
            zout.writestr(item, data)
    return out


@pytest.fixture
def hostile_doc(seed_docx, tmp_path, server) -> Path:
    url, hits = server
    linked = _linked_picture_docx(seed_docx, tmp_path, url)
    doc = office.convert([linked], "doc", tmp_path / "doc")[linked]  # hardened: LibreOffice fetches nothing here
    assert doc is not None and hits == []
    hostile = tmp_path / "部门自评价报告.doc"
    shutil.move(doc, hostile)
    return hostile


def test_precondition_a_docx_linked_picture_is_fetched_by_an_unhardened_libreoffice(seed_docx, tmp_path, server):
    """The hardened profile (office._HARDENED) is what keeps the .docx import above quiet."""
    url, hits = server
    linked = _linked_picture_docx(seed_docx, tmp_path, url)
    assert office.convert([linked], "doc", tmp_path / "doc", hardened=False)[linked] is not None
    assert any("tracker.png" in h for h in hits)


def test_precondition_libreoffice_fetches_a_doc_linked_picture(hostile_doc, tmp_path, server):
    url, hits = server
    assert office.convert([hostile_doc], "docx:MS Word 2007 XML", tmp_path / "plain")[hostile_doc] is not None
    assert any("tracker.png" in h for h in hits)  # even with the hardened profile


def test_a_doc_with_a_linked_picture_is_reviewed_without_fetching_it(hostile_doc, tmp_path, server):
    url, hits = server
    before = hostile_doc.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    job = review_into(hostile_doc, out, JobOptions(report=False))
    assert hits == [] and hostile_doc.read_bytes() == before
    commented = [n for n in job.outputs if n.endswith(".docx")]
    assert commented and all(b"tracker.png" not in _everything(out / n) for n in commented)  # no link left to follow
    notes = [c.value for row in load_workbook(out / "部门自评价报告.复核.xlsx")[REVIEW_SHEET].iter_rows() for c in row
             if isinstance(c.value, str) and "外部加载" in c.value]
    assert len(notes) == 1 and f"{url}/tracker.png" in notes[0]
    assert job.projects[0].review.evaluation.project_name.text  # the form was still read


def test_strip_doc_leaves_a_plain_doc_alone(seed_docx, tmp_path):
    doc = office.convert([seed_docx], "doc", tmp_path / "doc")[seed_docx]
    copy = tmp_path / "copy.doc"
    shutil.copy(doc, copy)
    assert strip_doc(copy) == [] and copy.read_bytes() == doc.read_bytes()
