"""tables.Table (rows kept as column lists) behaves as the list of row dicts it replaces, and
to_frame gives the same DataFrame from either."""
from __future__ import annotations

import pandas as pd
import pytest

from batchdata import current_run

from selfeval_xl.tables import FINDING_COLUMNS, INDICATOR_COLUMNS, Table, frames, load_run, records, to_frame


def _table(rows: list[dict]) -> Table:
    t = Table(rows[0])
    for r in rows:
        t.append(r)
    return t


def test_table_is_a_list_of_row_dicts():
    rows = [{"a": 1, "b": "x"}, {"a": None, "b": "y"}, {"a": 3, "b": ""}]
    t = _table(rows)
    assert len(t) == 3 and list(t) == rows and t == rows and t[1] == {"a": None, "b": "y"}
    assert t == _table(rows) and t != rows[:2] and t != "x"
    t.reorder([2, 0, 1])
    assert list(t) == [rows[2], rows[0], rows[1]] and t.columns == {"a": [3, 1, None], "b": ["", "x", "y"]}
    with pytest.raises(KeyError):
        t.append({"a": 1})  # a row must have every column
    assert len(Table(["a"])) == 0 and list(Table(["a"])) == []


def test_to_frame_same_from_rows_and_columns(tmp_path):
    outbox = current_run(tmp_path / "本次")
    rec = records(load_run(outbox), outbox, indicators=True)
    for table, cols in ((rec.findings, FINDING_COLUMNS), (rec.indicators, INDICATOR_COLUMNS)):
        assert isinstance(table, Table) and len(table) > 0
        pd.testing.assert_frame_equal(to_frame(table, cols), to_frame(list(table), cols))
    before = list(rec.findings)
    consumed = to_frame(rec.findings, FINDING_COLUMNS, consume=True)
    assert rec.findings.columns == {}  # consume=True frees the rows as they are converted
    pd.testing.assert_frame_equal(consumed, to_frame(before, FINDING_COLUMNS))
    assert to_frame([], FINDING_COLUMNS).dtypes.astype(str).to_dict() == to_frame(Table(FINDING_COLUMNS), FINDING_COLUMNS).dtypes.astype(str).to_dict()
    f = frames(outbox)
    pd.testing.assert_frame_equal(f.findings, to_frame(before, FINDING_COLUMNS))


def test_findings_sorted_errors_first_then_input():
    entries = [{"input": name, "status": "ok", "outputs": [], "totals": {"stated": 1, "self": 1, "computed": 1},
                "findings": {}, "project": {"name": name, "department": "部门", "year": 2021},
                "finding_items": [{"cell": "自评表!A1", "code": "X", "severity": sev, "message": f"{name}{sev}"}
                                  for sev in ("info", "error", "warning")]}
               for name in ("b.xlsx", "a.xlsx")]
    rec = records({"files": entries})
    assert [f["message"] for f in rec.findings] == [
        "a.xlsxerror", "b.xlsxerror", "a.xlsxwarning", "b.xlsxwarning", "a.xlsxinfo", "b.xlsxinfo"]
