"""The reading modules stay cheap to import, and the helpers writeback shares are public."""
from __future__ import annotations

import subprocess
import sys

from selfeval_xl.safety import short_error


def test_reading_modules_import_neither_lxml_nor_openpyxl():
    """The check CLI and every batch worker import safety/grids/reader: lxml is loaded only when a
    sheet is scanned, openpyxl (~250 ms to import) never by reading."""
    probe = ("import sys, selfeval_xl.safety, selfeval_xl.grids, selfeval_xl.reader, selfeval_xl.printout; "
             "print(sorted(m for m in ('lxml', 'openpyxl') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_short_error_is_the_first_line_capped_at_200_characters():
    assert short_error(ValueError("bad zip\nsecond line")) == "bad zip"
    assert short_error(KeyError()) == "KeyError"
    assert short_error(OSError("x" * 300)) == "x" * 200
