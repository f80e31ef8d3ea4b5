"""A hostile .ods (issue 16): its external links are taken out before LibreOffice converts it,
so the conversion fetches nothing and embeds no local file named by the author."""
from __future__ import annotations

import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import convert
from selfeval_xl.odf import is_external, without_external_links
from selfeval_xl.review import review_file
from selfeval_xl.writeback import REVIEW_SHEET, reviewed_name, write_reviewed

SECRET_TEXT = "机密内容-不应出现在复核版中"


def _png(path: Path, colour=(1, 2, 3)) -> Path:
    from PIL import Image

    Image.new("RGB", (16, 16), colour).save(path)
    return path


def _hostile_ods(sample: Path, tmp_path: Path, url: str) -> tuple[Path, bytes]:
    """The sample as .ods pointing at an http URL (a linked image), a local image file and a
    local spreadsheet (a linked sheet, table:table-source)."""
    ods = convert(sample, "ods", tmp_path / "ods")
    secret_png = _png(tmp_path / "secret.png", (201, 7, 99)).read_bytes()
    secret_book = tmp_path / "secret.csv"
    secret_book.write_text(f"{SECRET_TEXT}\n", encoding="utf-8")
    frame = ('<draw:frame draw:z-index="0" draw:name="x" svg:width="1cm" svg:height="1cm" svg:x="0cm" svg:y="0cm">'
             f'<draw:image xlink:href="{url}/evil.png" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame>'
             '<draw:frame draw:z-index="1" draw:name="y" svg:width="1cm" svg:height="1cm" svg:x="2cm" svg:y="0cm">'
             f'<draw:image xlink:href="{(tmp_path / "secret.png").as_uri()}" xlink:type="simple" xlink:show="embed" '
             'xlink:actuate="onLoad"/></draw:frame>')
    source = (f'<table:table-source xlink:type="simple" xlink:href="{secret_book.as_uri()}" '
              'table:filter-name="Text - txt - csv (StarCalc)" table:table-name="" table:mode="copy-results-only"/>')
    head = '<table:table table:name="项目基本情况" table:style-name="ta2">'

    def edit(text: str) -> str:
        assert head in text
        return text.replace(head, head + source + f"<table:shapes>{frame}</table:shapes>", 1)

    return edit_content(ods, tmp_path / "hostile.ods", edit), secret_png


def edit_content(ods: Path, target: Path, edit) -> Path:
    """A copy of ``ods`` with its content.xml passed through ``edit`` (mimetype first and stored)."""
    with zipfile.ZipFile(ods) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "content.xml":
                data = edit(data.decode("utf-8")).encode("utf-8")
            method = zipfile.ZIP_STORED if item.filename == "mimetype" else zipfile.ZIP_DEFLATED
            zout.writestr(item, data, compress_type=method)
    return target


@pytest.fixture
def server():
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


@pytest.mark.office
def test_hostile_ods_fetches_nothing_and_embeds_nothing(sample, tmp_path, server):
    url, hits = server
    hostile, secret_png = _hostile_ods(sample, tmp_path, url)
    out = write_reviewed(review_file(hostile), hostile, tmp_path / "out" / reviewed_name(hostile))
    assert hits == []
    with zipfile.ZipFile(out) as zf:
        everything = b"".join(zf.read(n) for n in zf.namelist())
        names = zf.namelist()
    assert SECRET_TEXT.encode("utf-8") not in everything
    assert not any(n.startswith("xl/media/") for n in names)  # neither image came in
    assert secret_png not in everything
    from openpyxl import load_workbook

    wb = load_workbook(out)
    assert REVIEW_SHEET in wb.sheetnames and wb["自评表"]["H70"].value == "目标值（解析）"


def test_links_inside_the_package_are_kept(sample, tmp_path):
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
               'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:xlink="http://www.w3.org/1999/xlink">'
               '<office:body><office:spreadsheet><table:table table:name="a">'
               '<table:table-source xlink:href="../other.ods" table:table-name="b"/>'
               '<draw:frame><draw:image xlink:href="Pictures/1.png"/></draw:frame>'
               '<draw:frame><draw:image xlink:href="\\\\server\\share\\x.png"/></draw:frame>'
               '<text:p><text:a xlink:href="https://example.com/">link</text:a></text:p>'
               "</table:table></office:spreadsheet></office:body></office:document-content>")
    src = tmp_path / "a.ods"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
    out = without_external_links(src.read_bytes())
    with zipfile.ZipFile(__import__("io").BytesIO(out)) as zf:
        assert zf.infolist()[0].filename == "mimetype" and zf.infolist()[0].compress_type == zipfile.ZIP_STORED
        xml = zf.read("content.xml").decode("utf-8")
    assert "Pictures/1.png" in xml and "https://example.com/" in xml  # in the package / a click-only link
    assert "other.ods" not in xml and "table-source" not in xml and "share" not in xml
    assert without_external_links(out) is out or without_external_links(out) == out  # nothing left to strip


@pytest.mark.parametrize("href, external", [
    ("Pictures/1.png", False), ("./Object 1", False), ("Object 2/content.xml", False),
    ("http://x/y.png", True), ("file:///etc/passwd", True), ("/etc/passwd", True), ("../a.ods", True),
    ("\\\\server\\share", True), ("//host/x", True), ("C:\\a.png", True), ("vnd.sun.star.GraphicObject:1", True),
])
def test_is_external(href, external):
    assert is_external(href) is external
