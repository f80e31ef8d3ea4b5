"""Issue 8: hostile and broken input. Each protection has a test that fails without it.

- Limits: every breach is a TOO_LARGE ReadError with a Chinese message naming the file, fast.
  Cases that used to kill the process (calamine allocates the whole cell rectangle and aborts
  with SIGABRT, no exception) run in a subprocess, so removing the guard fails the test instead
  of killing pytest.
- XML entities anywhere in a part (not only in its first 2 KiB), in any encoding; openpyxl uses
  defusedxml.
- Templates: the Jinja sandbox turns the classic payloads into a TemplateError.
- Names built from workbook content never leave the output folder.
"""
from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE, build, content
from fuzz import mutants as mu
from selfeval_xl.errors import ReadError
from selfeval_xl.reader import read
from selfeval_xl.safety import DEFAULT_LIMITS, Limits

FAST = 1.0  # seconds: "well under a second" for a bomb, with slack for a loaded CI machine


def _fails(path: Path, limits: Limits = DEFAULT_LIMITS) -> tuple[ReadError, float]:
    t = time.perf_counter()
    with pytest.raises(ReadError) as exc:
        read(path, limits)
    elapsed = time.perf_counter() - t
    assert path.name in exc.value.message
    return exc.value, elapsed


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def _with_sheet(part: str, xml: bytes) -> bytes:
    pkg = mu.Package(SAMPLE.read_bytes())
    pkg.set(part, xml)
    return pkg.to_bytes()


def _read_isolated(path: Path, limits: dict | None = None, timeout: float = 60) -> dict:
    """read() in a child process: a guard that is gone shows up as a dead child, not a dead pytest."""
    code = (
        "import json, sys, time\n"
        "from selfeval_xl.reader import read\n"
        "from selfeval_xl.errors import ReadError\n"
        "from selfeval_xl.safety import Limits\n"
        "t = time.perf_counter()\n"
        "try:\n"
        f"    read(sys.argv[1], Limits(**{limits or {}!r}))\n"
        "    out = {'code': 'ok'}\n"
        "except ReadError as e:\n"
        "    out = {'code': e.code, 'message': e.message}\n"
        "out['seconds'] = time.perf_counter() - t\n"
        "print(json.dumps(out))\n"
    )
    try:
        p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"code": "TIMEOUT", "returncode": None}
    if p.returncode != 0:
        return {"code": "DIED", "returncode": p.returncode, "stderr": p.stderr[-500:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- limits

def test_file_size_limit(tmp_path):
    err, _ = _fails(shutil.copy(SAMPLE, tmp_path / "a.xlsx") and tmp_path / "a.xlsx", Limits(max_file_bytes=10_000))
    assert err.code == "TOO_LARGE" and "MB" in err.message


def test_unpacked_size_limit_sum_of_small_entries(tmp_path):
    """450 entries of 1 MiB zeros: each is under the per-entry ratio check, the sum is not."""
    err, seconds = _fails(_write(tmp_path, "many.xlsx", mu._many_entries(450)))
    assert err.code == "TOO_LARGE" and "解压后共" in err.message
    assert seconds < FAST
    err, _ = _fails(_write(tmp_path, "b.xlsx", SAMPLE.read_bytes()), Limits(max_unpacked_bytes=10_000))
    assert err.code == "TOO_LARGE"


def test_ratio_limit_bomb_is_fast(tmp_path):
    data, size = mu._padded(64, "sheetData")
    err, seconds = _fails(_write(tmp_path, "bomb.xlsx", data))
    assert err.code == "TOO_LARGE" and "压缩比" in err.message
    assert seconds < FAST
    # configurable: 2 MiB of padding (ratio ~1000:1) is refused by default, read when allowed
    small, _ = mu._padded(2, "sheetData")
    err, _ = _fails(_write(tmp_path, "pad.xlsx", small))
    assert err.code == "TOO_LARGE" and "压缩比" in err.message
    assert len(read(tmp_path / "pad.xlsx", Limits(max_ratio=10**6)).indicators) == 92


@pytest.mark.parametrize("local,crc", [(False, False), (True, False), (True, True)])
def test_forged_declared_size(tmp_path, local, crc):
    """Central directory (and local header, and CRC) say 35 KB; the deflate stream holds 64 MB."""
    data, _ = mu._padded(64, "comment")
    small = mu.Package(SAMPLE.read_bytes()).get(mu.SHEET2)
    forged = mu._forge_cd(data, mu.SHEET2, size=len(small), local=local, crc=zlib.crc32(small) if crc else None)
    err, seconds = _fails(_write(tmp_path, "forged.xlsx", forged))
    assert err.code == "TOO_LARGE" and "篡改" in err.message
    assert seconds < FAST


def test_forged_size_cannot_inflate_past_the_declared_size(tmp_path):
    """Why the declared sizes can be trusted as an upper bound (measured, pinned here): both
    readers stop at the declared size, so a forged small size never inflates the whole stream."""
    import python_calamine

    data, _ = mu._padded(64, "sheetData")
    small = mu.Package(SAMPLE.read_bytes()).get(mu.SHEET2)
    p = _write(tmp_path, "forged.xlsx", mu._forge_cd(data, mu.SHEET2, size=len(small), local=True))
    t = time.process_time()  # CPU time: both readers run in this process; wall time varies with load
    with pytest.raises(Exception, match="declared"):
        python_calamine.CalamineWorkbook.from_path(str(p)).get_sheet_by_index(1)
    with zipfile.ZipFile(p) as zf, pytest.raises(zipfile.BadZipFile):
        zf.read(mu.SHEET2)
    assert time.process_time() - t < FAST


def test_row_limit_200k_rows_is_fast(tmp_path):
    err, seconds = _fails(_write(tmp_path, "rows.xlsx", mu._huge_package(200_000)))
    assert err.code == "TOO_LARGE" and "20001" in err.message
    assert seconds < FAST


@pytest.mark.parametrize("limits,words", [({"max_rows": 100}, "行"), ({"max_cols": 5}, "列"), ({"max_text": 100}, "字符"),
                                          ({"max_merged_cells": 10}, "合并单元格")])
def test_each_limit_is_configurable(tmp_path, limits, words):
    err, _ = _fails(_write(tmp_path, "s.xlsx", SAMPLE.read_bytes()), Limits(**limits))
    assert err.code == "TOO_LARGE" and words in err.message


def test_long_text_over_excel_limit(tmp_path):
    pkg = mu.Package(SAMPLE.read_bytes())
    sh = mu.Sheet(pkg.get(mu.SHEET2))
    sh.put(sh.valued()[1], "s", "年" * 40_000)
    pkg.set(mu.SHEET2, sh.to_bytes())
    err, _ = _fails(_write(tmp_path, "long.xlsx", pkg.to_bytes()))
    assert err.code == "TOO_LARGE" and "40000" in err.message


FAR = ["plain", "lower", "quotes", "prefix", "row_only", "wrap", "col", "gt_in_attr"]


@pytest.mark.parametrize("variant", FAR)
def test_far_cell_is_refused_not_a_dead_process(tmp_path, variant):
    """One value at XFD1048576 in a 20 KB file: calamine asks for 512 GiB and aborts (SIGABRT)."""
    xml = mu.Package(SAMPLE.read_bytes()).get(mu.SHEET2).replace(b"</sheetData>", mu._far_row_xml(variant) + b"</sheetData>")
    p = _write(tmp_path, "far.xlsx", _with_sheet(mu.SHEET2, xml))
    out = _read_isolated(p)
    assert out["code"] == "TOO_LARGE", out
    assert out["seconds"] < FAST


@pytest.mark.parametrize("unique", ["2147483647", "4000000000"])
def test_forged_shared_string_count(tmp_path, unique):
    """calamine reserves uniqueCount strings up front: 2**31 of them aborted it (51 GB asked for)."""
    pkg = mu.Package(SAMPLE.read_bytes())
    mu.to_shared_strings(pkg)
    x = pkg.get("xl/sharedStrings.xml")
    pkg.set("xl/sharedStrings.xml", x.replace(b'uniqueCount="', b'uniqueCount="' + unique.encode() + b'" x="', 1))
    out = _read_isolated(_write(tmp_path, "sst.xlsx", pkg.to_bytes()))
    assert out["code"] == "TOO_LARGE", out


def test_shared_strings_workbook_reads_like_the_sample(tmp_path):
    pkg = mu.Package(SAMPLE.read_bytes())
    mu.to_shared_strings(pkg)
    ev = read(_write(tmp_path, "shared.xlsx", pkg.to_bytes()))
    assert len(ev.indicators) == 92 and str(ev.stated_total.number) == "77.38"


def test_empty_far_cells_and_styled_rows_are_not_content(tmp_path):
    """calamine ignores empty cells: a styled row or cell at the bottom is legitimate."""
    extra = b'<row r="1048576" ht="20" customHeight="1"><c r="XFD1048576" s="1"/></row>'
    xml = mu.Package(SAMPLE.read_bytes()).get(mu.SHEET2).replace(b"</sheetData>", extra + b"</sheetData>")
    ev = read(_write(tmp_path, "styled.xlsx", _with_sheet(mu.SHEET2, xml)))
    assert len(ev.indicators) == 92


@pytest.mark.parametrize("ref", ["A1:XFD1048576", "B3:B3000000"])
def test_absurd_merge_is_refused(tmp_path, ref):
    """openpyxl (write-back) creates an object per merged cell: A1:XFD1048576 hung it for hours."""
    pkg = mu.Package(SAMPLE.read_bytes())
    sh = mu.Sheet(pkg.get(mu.SHEET1))
    sh.set_merges(sh.merges() + [ref])
    pkg.set(mu.SHEET1, sh.to_bytes())
    err, seconds = _fails(_write(tmp_path, "merge.xlsx", pkg.to_bytes()))
    assert err.code == "TOO_LARGE" and "合并单元格" in err.message and seconds < FAST


def test_reversed_merge_is_normalised(tmp_path):
    from selfeval_xl.grids import load_grids

    pkg = mu.Package(SAMPLE.read_bytes())
    sh = mu.Sheet(pkg.get(mu.SHEET2))
    sh.set_merges(sh.merges() + ["C20:B19"])
    pkg.set(mu.SHEET2, sh.to_bytes())
    grids = load_grids(_write(tmp_path, "rev.xlsx", pkg.to_bytes()))
    assert all(r1 <= r2 and c1 <= c2 for g in grids for r1, c1, r2, c2 in g.merges)
    assert (19, 2, 20, 3) in grids[1].merges


def _ods_with(row_xml: bytes) -> bytes:
    pkg = mu.Package(mu.BASE_ODS.read_bytes())
    c = pkg.get("content.xml")
    i = c.index(b"<table:table-row")
    pkg.set("content.xml", c[:i] + row_xml + c[i:])
    return pkg.to_bytes()


@pytest.mark.parametrize("rows,cols", [(9000, 10900), (1_000_000, 1), (1, 100_000)])
def test_ods_repeat_bomb(tmp_path, rows, cols):
    """A 41 KB .ods whose one cell repeats 9000 × 10900 times cost calamine 38 s and 6 GB."""
    row = (b'<table:table-row table:number-rows-repeated="%d"><table:table-cell office:value-type="float" '
           b'office:value="1" table:number-columns-repeated="%d"><text:p>1</text:p></table:table-cell></table:table-row>' % (rows, cols))
    out = _read_isolated(_write(tmp_path, "rep.ods", _ods_with(row)), timeout=20)
    assert out["code"] == "TOO_LARGE", out
    assert out["seconds"] < FAST


def test_ods_spanned_cells_are_merges(tmp_path):
    row = (b'<table:table-row><table:table-cell table:number-rows-spanned="1000000" table:number-columns-spanned="3">'
           b'<text:p>x</text:p></table:table-cell></table:table-row>')
    err, _ = _fails(_write(tmp_path, "span.ods", _ods_with(row)))
    assert err.code == "TOO_LARGE" and "合并单元格" in err.message
    err, _ = _fails(_write(tmp_path, "base.ods", mu.BASE_ODS.read_bytes()), Limits(max_merged_cells=10))
    assert err.code == "TOO_LARGE" and "合并单元格" in err.message


def test_ods_trailing_empty_repeats_are_fine(tmp_path):
    """LibreOffice writes a million empty repeated rows at the end of every sheet."""
    assert len(read(_write(tmp_path, "ok.ods", mu.BASE_ODS.read_bytes())).indicators) == 92


def _xls_patched(tmp_path: Path, patch) -> Path:
    import olefile

    data = mu.BASE_XLS.read_bytes()
    ole = olefile.OleFileIO(data)
    stream = bytearray(ole.openstream("Workbook").read())
    ole.close()
    patch(stream, mu._biff_records(bytes(stream)))
    buf = io.BytesIO(data)
    o = olefile.OleFileIO(buf, write_mode=True)
    o.write_stream("Workbook", bytes(stream))
    o.close()
    return _write(tmp_path, "x.xls", buf.getvalue())


def _first(recs, typ):
    return next(pos for pos, t, n in recs if t == typ)


@pytest.mark.parametrize("what", ["cell", "dimensions", "merge"])
def test_xls_absurd_positions(tmp_path, what):
    """A cell record at 0xFFFF/0xFFFF or a DIMENSIONS of 2**32 rows aborted calamine (SIGABRT)."""
    def patch(s, recs):
        if what == "cell":
            struct.pack_into("<HH", s, _first(recs, 0x00FD) + 4, 0xFFFF, 0xFFFF)
        elif what == "dimensions":
            struct.pack_into("<IIHH", s, _first(recs, 0x0200) + 4, 0, 0xFFFFFFFF, 0, 0xFFFF)
        else:
            struct.pack_into("<HHHH", s, _first(recs, 0x00E5) + 6, 0, 0xFFFF, 0, 0xFF)
    out = _read_isolated(_xls_patched(tmp_path, patch))
    assert out["code"] == "TOO_LARGE", out


def test_xls_sheet_offset_past_the_stream_is_corrupt(tmp_path):
    """calamine panics (pyo3 PanicException, a BaseException) on a BoundSheet offset past the end."""
    p = _xls_patched(tmp_path, lambda s, recs: struct.pack_into("<I", s, _first(recs, 0x0085) + 4, 0x7FFFFFFF))
    err, _ = _fails(p)
    assert err.code == "CORRUPT"


def test_rust_panic_inside_calamine_is_a_read_error(tmp_path, monkeypatch):
    """Whatever panics in calamine (PanicException is not an Exception) ends as CORRUPT."""
    import python_calamine

    from selfeval_xl import grids

    def boom(*a, **k):
        calamine_panic = type("PanicException", (BaseException,), {})
        raise calamine_panic("index out of bounds")

    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_path", boom)
    monkeypatch.setattr(python_calamine.CalamineWorkbook, "from_filelike", boom)
    monkeypatch.setattr(grids, "sniff", lambda path, limits=None: "zip")
    err, _ = _fails(_write(tmp_path, "p.xlsx", SAMPLE.read_bytes()))
    assert err.code == "CORRUPT"


@pytest.mark.parametrize("base,suffix", [("xlsx", ".xls"), ("xlsx", ".ods"), ("xls", ".xlsx"), ("ods", ".xlsx"), ("xls", ".et")])
def test_content_not_suffix_decides_the_format(tmp_path, base, suffix):
    """An .xlsx saved or renamed as .xls was CORRUPT: calamine's from_path goes by the suffix."""
    src = {"xlsx": SAMPLE, "xls": mu.BASE_XLS, "ods": mu.BASE_ODS}[base]
    assert len(read(_write(tmp_path, f"改名{suffix}", src.read_bytes())).indicators) == 92


def test_timeout_is_the_batch_default():
    from selfeval_xl.batch import Options

    assert Options().timeout == DEFAULT_LIMITS.timeout_s > 0


# ---------------------------------------------------------------------------- damaged zips

def test_damaged_deflate_data_is_corrupt_not_zlib_error(tmp_path):
    """zipfile raises zlib.error (not BadZipFile) for some damaged streams: it escaped the reader."""
    base = SAMPLE.read_bytes()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        info = zf.getinfo(mu.SHEET1)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 10, start + info.compress_size, 97):
        data = bytearray(base)
        data[offset] ^= 0x55
        try:
            with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
                zf.read(mu.SHEET1)
        except zlib.error:
            break
        except zipfile.BadZipFile:
            continue
    else:
        pytest.skip("no flip gave zlib.error")
    err, _ = _fails(_write(tmp_path, "flip.xlsx", bytes(data)))
    assert err.code == "CORRUPT"


def test_zip_password_flag(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    cd = struct.unpack_from("<I", data, data.rfind(b"PK\x05\x06") + 16)[0]
    data[cd + 8] |= 1  # first central directory entry: "encrypted"
    err, _ = _fails(_write(tmp_path, "zip密码.xlsx", bytes(data)))
    assert err.code == "ENCRYPTED"


def test_xlsb_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
    err, _ = _fails(_write(tmp_path, "b.xlsb", buf.getvalue()))
    assert err.code == "NOT_A_WORKBOOK" and ".xlsb" in err.message


def test_invalid_sheet_xml_is_corrupt(tmp_path):
    """Raw control characters make a part invalid XML (Excel refuses it too; openpyxl failed on it)."""
    sh = mu.Sheet(mu.Package(SAMPLE.read_bytes()).get(mu.SHEET1))
    sh.put(sh.find_text(lambda t: t == "预算执行率")[0], "s", "@@CTL@@")
    xml = sh.to_bytes().replace(b"@@CTL@@", b"\x01\x02" + "预算执行率".encode())
    err, _ = _fails(_write(tmp_path, "ctl.xlsx", _with_sheet(mu.SHEET1, xml)))
    assert err.code == "CORRUPT" and "XML" in err.message


def test_escaped_control_characters_are_dropped(tmp_path):
    """Excel's _x0001_ escapes are valid XML: read, but the control characters are removed."""
    pkg = mu.Package(SAMPLE.read_bytes())
    sh = mu.Sheet(pkg.get(mu.SHEET1))
    c = sh.find_text(lambda t: t == "预算执行率")[0]
    sh.put(c, "s", "_x0001__x0007_预算_x001F_执行率")
    pkg.set(mu.SHEET1, sh.to_bytes())
    ev = read(_write(tmp_path, "esc.xlsx", pkg.to_bytes()))
    assert "预算执行率" in [i.name for i in ev.indicators]


def test_huge_numbers_stay_text_and_json_stays_valid(tmp_path, seed):
    from selfeval_xl.review import review, to_json

    cats = [(label, [(n, t, w, a, s) for n, t, w, a, s in rows]) for label, rows in seed["categories"]]
    label, rows = cats[1]
    n, t, w, a, s = rows[0]
    rows[0] = (n, t, 1e308, a, "9" * 400)
    ev = read(build(tmp_path / "big.xlsx", content(seed, categories=cats)))
    ind = ev.categories[1].indicators[0]
    assert ind.weight.number is None and ind.weight.text
    assert ind.self_score.number is None
    json.dumps(to_json(review(ev)), allow_nan=False)


@pytest.mark.parametrize("target,actual", [("0.0000000000000000000000000001个", "999999999999999个"),
                                           ("≤0.00000000000000000000000000001", "99999999999999999999999999999999999999"),
                                           ("=1e-28", "≥9999999999999999999999999999999%")])
def test_absurd_completion_rates_do_not_overflow(tmp_path, seed, target, actual):
    """A target of 1e-28 gave a completion of 1e44 %: quantize raised InvalidOperation in the basis."""
    from selfeval_xl.review import review, to_json
    from selfeval_xl.printout import review_summary

    cats = [(label, list(rows)) for label, rows in seed["categories"]]
    for label, rows in cats:
        n, t, w, a, s = rows[0]
        rows[0] = (n, target, w, actual, s)
        n, t, w, a, s = rows[1]
        rows[1] = (n, actual, w, target, s)
    r = review(read(build(tmp_path / "rate.xlsx", content(seed, categories=cats))))
    json.dumps(to_json(r), allow_nan=False)
    review_summary(r)
    from selfeval_xl import report

    report.build_context(r)


# ---------------------------------------------------------------------------- XML entities

XXE = b'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PROLOGS = {
    "start": XXE,
    "after_3k_comment": b"<!--" + b"x" * 3000 + b"-->" + XXE,
    "after_70k_whitespace": b" " * 70_000 + XXE,  # also past the first 64 KiB chunk
    "after_pi": b"<?pi " + b"y" * 5000 + b"?>" + XXE,
    "billion_laughs": mu.LAUGHS,
    "parameter_entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://example.invalid/x.dtd"> %p;]>',
    "lowercase": b'<!doctype worksheet [<!entity e "x">]>',
}


@pytest.mark.parametrize("name", sorted(PROLOGS))
def test_dtd_in_sheet_is_refused(tmp_path, name):
    xml = mu._with_prolog(mu.Package(SAMPLE.read_bytes()).get(mu.SHEET1), PROLOGS[name])
    err, _ = _fails(_write(tmp_path, "xxe.xlsx", _with_sheet(mu.SHEET1, xml)))
    assert err.code == "UNSAFE_CONTENT"


@pytest.mark.parametrize("part", ["xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml",
                                  "docProps/core.xml", "xl/styles.xml", mu.SHEET2])
def test_dtd_in_any_part_is_refused(tmp_path, part):
    xml = mu._with_prolog(mu.Package(SAMPLE.read_bytes()).get(part), b"\n" * 4000 + XXE)
    err, _ = _fails(_write(tmp_path, "xxe.xlsx", _with_sheet(part, xml)))
    assert err.code == "UNSAFE_CONTENT"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_dtd_in_utf16_part_is_refused(tmp_path, encoding):
    xml = mu._with_prolog(mu.Package(SAMPLE.read_bytes()).get(mu.SHEET1), XXE)
    xml = xml.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode(encoding)
    if encoding == "utf-16-be":
        xml = b"\xfe\xff" + xml
    err, _ = _fails(_write(tmp_path, "xxe16.xlsx", _with_sheet(mu.SHEET1, xml)))
    assert err.code == "UNSAFE_CONTENT"


def test_dtd_in_ods_content_is_refused(tmp_path):
    pkg = mu.Package(mu.BASE_ODS.read_bytes())
    pkg.set("content.xml", mu._with_prolog(pkg.get("content.xml"), b" " * 5000 + XXE))
    err, _ = _fails(_write(tmp_path, "xxe.ods", pkg.to_bytes()))
    assert err.code == "UNSAFE_CONTENT"


def test_openpyxl_uses_defusedxml(tmp_path):
    """The write-back path parses with openpyxl: it must refuse DTDs on its own too."""
    import openpyxl
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    xml = mu._with_prolog(mu.Package(SAMPLE.read_bytes()).get(mu.SHEET1), XXE)
    p = _write(tmp_path, "xxe.xlsx", _with_sheet(mu.SHEET1, xml))
    with pytest.raises(Exception) as exc:
        openpyxl.load_workbook(p)
    assert "Forbidden" in type(exc.value).__name__ or "Forbidden" in repr(exc.value.__cause__ or exc.value.__context__)


# ---------------------------------------------------------------------------- templates

PAYLOADS = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ ''|attr('__class__') }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{{ 'a' * 10**9 }}",
    "{{ ['x'] * 999999999 }}",
    "{{ 7 ** 9999999 }}",
]


@pytest.fixture(scope="module")
def sample_review():
    from selfeval_xl.review import review_file

    return review_file(SAMPLE)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_template_injection_is_a_template_error(tmp_path, sample_review, payload):
    import docx

    from selfeval_xl import report
    from selfeval_xl.errors import TemplateError

    doc = docx.Document()
    doc.add_paragraph("复核报告")
    doc.add_paragraph(payload)
    tpl = tmp_path / "恶意模板.docx"
    doc.save(tpl)
    target = tmp_path / "out.docx"
    with pytest.raises(TemplateError) as exc:
        report.render_report(sample_review, target, template=tpl)
    assert "恶意模板.docx" in str(exc.value)
    assert not target.exists() and [p.name for p in tmp_path.iterdir()] == ["恶意模板.docx"]


# ---------------------------------------------------------------------------- names

HOSTILE_NAMES = ["../../etc/passwd", "..\\..\\x", "/abs/path", "C:\\Windows\\x", "\\\\server\\share", "CON", "nul",
                 "COM1.txt", "LPT9", "con.xlsx", "..", ".", "...", "", " ", "a/b", "a\\b", "x\x00y", "\u202e\u0645x",
                 "\n\r\t", ".hidden", "名" * 300, "a:b*c?d\"e<f>g|h", "  ../ ", "..\\", "./.", "~/x"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_name_stays_in_the_folder(tmp_path, name):
    from selfeval_xl.fsutil import safe_name

    _assert_safe(tmp_path, safe_name(name))


def _assert_safe(folder: Path, s: str) -> None:
    assert s and s not in (".", "..") and "/" not in s and "\\" not in s and ":" not in s
    assert not any(ord(ch) < 32 for ch in s)
    assert s.upper().split(".")[0] not in {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
    assert (folder / s).resolve().parent == folder.resolve()


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=120))
def test_safe_name_property(name):
    from selfeval_xl.fsutil import safe_name

    _assert_safe(Path("/tmp/out"), safe_name(name))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_mail_draft_names_stay_in_the_folder(tmp_path, name):
    from selfeval_xl import mail
    from types import SimpleNamespace

    p = SimpleNamespace(item=SimpleNamespace(name=name, input=f"{name}/{name}.xlsx"))
    used: set[str] = set()
    for _ in range(3):  # also the de-duplicated variants
        draft = mail.draft_name(p, used)
        _assert_safe(tmp_path, draft)


@pytest.mark.parametrize("payload", PAYLOADS[-3:])
def test_mail_template_arithmetic_bomb_is_a_template_error(tmp_path, payload):
    from selfeval_xl.errors import TemplateError
    from selfeval_xl.mail import MailError

    from selfeval_xl.mail import Templates

    d = tmp_path / "tpl"
    d.mkdir()
    (d / "subject.txt.j2").write_text(payload, encoding="utf-8")
    templates = Templates(d)
    with pytest.raises((TemplateError, MailError)):
        templates.render("subject.txt.j2", {})


# ---------------------------------------------------------------------------- Word documents (issue 14)


@pytest.fixture(scope="module")
def docx_bytes(seed_docx) -> bytes:
    return seed_docx.read_bytes()


def _docx_with(base: bytes, part: str, xml: bytes) -> bytes:
    pkg = mu.Package(base)
    pkg.set(part, xml)
    return pkg.to_bytes()


def _body_with(base: bytes, edit) -> bytes:
    """The docx with its document.xml passed through ``edit(text) -> text``."""
    doc = mu.Package(base).get("word/document.xml").decode("utf-8")
    return _docx_with(base, "word/document.xml", edit(doc).encode("utf-8"))


def test_docx_zip_bomb_is_refused_fast(tmp_path, docx_bytes):
    pkg = mu.Package(docx_bytes)
    pkg.set("word/media/image1.png", b"\0" * (60 * 2**20))
    err, t = _fails(_write(tmp_path, "炸弹.docx", pkg.to_bytes(level=9)))
    assert err.code == "TOO_LARGE" and "压缩比" in err.message and t < FAST


def test_docx_declared_size_limit(tmp_path, docx_bytes):
    err, _ = _fails(_write(tmp_path, "大.docx", docx_bytes), Limits(max_unpacked_bytes=20_000))
    assert err.code == "TOO_LARGE" and "解压后" in err.message


@pytest.mark.parametrize("part", ["word/document.xml", "word/styles.xml", "docProps/core.xml"])
def test_docx_xml_entities_are_refused_in_any_part(tmp_path, docx_bytes, part):
    xml = mu.Package(docx_bytes).get(part)
    decl_end = xml.index(b"?>") + 2
    evil = xml[:decl_end] + b"\n" + b" " * 300_000 + b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>' + xml[decl_end:]
    err, _ = _fails(_write(tmp_path, "实体.docx", _docx_with(docx_bytes, part, evil)))
    assert err.code == "UNSAFE_CONTENT" and part in err.message


def test_encrypted_docx_is_refused(tmp_path, docx_bytes):
    from msoffcrypto.format.ooxml import OOXMLFile

    buf = io.BytesIO()
    OOXMLFile(io.BytesIO(docx_bytes)).encrypt("secret", buf)
    err, _ = _fails(_write(tmp_path, "加密.docx", buf.getvalue()))
    assert err.code == "ENCRYPTED"


def test_truncated_and_malformed_docx_are_corrupt(tmp_path, docx_bytes):
    err, _ = _fails(_write(tmp_path, "截断.docx", docx_bytes[: len(docx_bytes) // 2]))
    assert err.code == "CORRUPT"
    bad = _body_with(docx_bytes, lambda d: d.replace("</w:body>", "<w:p></w:body>"))
    err, _ = _fails(_write(tmp_path, "坏.docx", bad))
    assert err.code == "CORRUPT" and "word/document.xml" in err.message
    deep = _body_with(docx_bytes, lambda d: d.replace("<w:body>", "<w:body>" + "<w:sdt>" * 5000 + "</w:sdt>" * 5000, 1))
    err, t = _fails(_write(tmp_path, "深.docx", deep))
    assert err.code in ("CORRUPT", "TOO_LARGE") and t < 5 * FAST


def test_docx_size_limits(tmp_path, docx_bytes):
    err, _ = _fails(_write(tmp_path, "文件大.docx", docx_bytes), Limits(max_file_bytes=10_000))
    assert err.code == "TOO_LARGE" and "MB" in err.message
    err, _ = _fails(_write(tmp_path, "行多.docx", docx_bytes), Limits(max_rows=50))
    assert err.code == "TOO_LARGE" and "表1" in err.message and "50 行" in err.message
    wide = _body_with(docx_bytes, lambda d: d.replace('<w:gridSpan w:val="3"/>', '<w:gridSpan w:val="99999999"/>', 1))
    assert wide != docx_bytes
    err, t = _fails(_write(tmp_path, "宽.docx", wide))
    assert err.code == "TOO_LARGE" and "列" in err.message and t < FAST
    long = _body_with(docx_bytes, lambda d: d.replace("<w:t>项目名称</w:t>", "<w:t>" + "长" * 40_000 + "</w:t>", 1))
    err, _ = _fails(_write(tmp_path, "字多.docx", long))
    assert err.code == "TOO_LARGE" and "40000" in err.message and err.cell.startswith("表1!")


def test_docx_tables_nested_too_deep_are_refused(tmp_path, docx_bytes):
    nest = "".join("<w:tbl><w:tr><w:tc>" for _ in range(20)) + "<w:p/>" + "".join("</w:tc></w:tr></w:tbl>" for _ in range(20))
    deep = _body_with(docx_bytes, lambda d: d.replace("<w:body>", "<w:body>" + nest, 1))
    err, _ = _fails(_write(tmp_path, "嵌套.docx", deep))
    assert err.code == "TOO_LARGE" and "嵌套" in err.message


def test_hostile_docx_fails_the_job_cleanly(tmp_path, docx_bytes):
    from selfeval_xl.pipeline import JobOptions, review_into

    src = _write(tmp_path, "实体.docx", _body_with(docx_bytes, lambda d: d.replace("?>", '?><!DOCTYPE x [<!ENTITY a "b">]>', 1)))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ReadError) as e:
        review_into(src, out, JobOptions())
    assert e.value.code == "UNSAFE_CONTENT" and list(out.iterdir()) == []
