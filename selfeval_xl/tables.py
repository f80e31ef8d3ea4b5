"""A batch's results as tables: the adapter from run.json to rows, and ``frames(outbox)``.

``records(run, outbox)`` is pure Python (no pandas): it turns one run.json (either shape: a
file entry with a ``projects[]`` list, one per form, or the older entry that carries one
project's keys at its top level) plus the kept review JSON (``store.py``) into plain rows.
Everything that shows a batch (汇总.xlsx, the 复核汇总报告, ``compare``) starts from these rows,
so a new run.json shape needs one change here.

``frames(outbox)`` (also ``selfeval_xl.frames``) returns the same rows as pandas DataFrames with the stable columns listed
in ``PROJECT_COLUMNS``, ``INDICATOR_COLUMNS``, ``FINDING_COLUMNS`` and ``FILE_COLUMNS`` (keys
are only ever added). pandas is imported here, lazily, and only ever in the parent process:
the batch workers never import this module's pandas half.

Definitions (where the form leaves a choice):
- ``self_score`` 自评分 = the stated total (合计/总分 as printed), or the sum of self-scores when
  the total is blank; ``review_score`` 复核得分 = ``final`` (最终得分, once finalized) if present,
  else ``computed`` (the rule total); ``difference`` 差异 = review_score − self_score (negative:
  the department scored itself higher than the rules give).
- ``budget`` / ``paid`` (万元): the national form's 全年预算数 / 全年执行数 of 年度资金总额; on the
  Suzhou form 财政拨款数 / 实际支付数 (its budget block has no 执行数). ``execution_rate`` (%) =
  paid ÷ budget × 100, or the rate printed on the form when an amount is missing.
- ``duplicate_of``: other inputs holding a project with the same 主管部门, 项目名称 and 年度
  (after NFKC and whitespace normalisation), or a ``DUPLICATE_PROJECT`` finding.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .labels import finding_label, profile_title
from .naming import REPORT_SUFFIX, REVIEWED_SUFFIXES
from .model import severity_label, severity_rank
from .store import load_facts, load_reviews

RUN_JSON = "run.json"

PROJECT_COLUMNS: dict[str, str] = {
    "input": "str", "sheet": "str", "project_index": "Int64", "department": "str", "project": "str", "year": "Int64",
    "profile": "str", "form_title": "str", "self_score": "Float64", "stated": "Float64", "self_sum": "Float64",
    "computed": "Float64", "final": "Float64", "review_score": "Float64", "difference": "Float64", "grade": "str",
    "budget": "Float64", "paid": "Float64", "execution_rate": "Float64", "errors": "Int64", "warnings": "Int64",
    "infos": "Int64", "duplicate": "bool", "duplicate_of": "str", "workbook": "str", "report": "str",
    "unchanged": "bool",
}
INDICATOR_COLUMNS: dict[str, str] = {
    "input": "str", "sheet": "str", "project_index": "Int64", "department": "str", "project": "str", "year": "Int64",
    "category": "str", "name": "str", "cell": "str", "target": "str", "actual": "str", "weight": "Float64",
    "self_score": "Float64", "computed_score": "Float64", "difference": "Float64", "completion": "Float64",
    "basis": "str", "findings": "str",
}
FINDING_COLUMNS: dict[str, str] = {
    "input": "str", "sheet": "str", "project_index": "Int64", "department": "str", "project": "str", "year": "Int64",
    "severity": "str", "severity_text": "str", "code": "str", "label": "str", "cell": "str", "indicator": "str",
    "message": "str", "workbook": "str",
}
FILE_COLUMNS: dict[str, str] = {
    "input": "str", "status": "str", "error_code": "str", "message": "str", "projects": "Int64", "unchanged": "bool",
}


# ---- plain values -----------------------------------------------------------------------

def _num(x) -> float | None:
    if isinstance(x, bool) or x is None:
        return None
    if isinstance(x, (int, float)):
        return float(x)
    try:
        return float(str(x).replace(",", "").strip())
    except ValueError:
        return None


def _year(x) -> int | None:
    n = _num(x)
    if n is not None and n == int(n):
        return int(n)
    m = re.search(r"(19|20)\d\d", str(x or ""))
    return int(m.group(0)) if m else None


def _text(x) -> str:
    return "" if x is None else str(x).strip()


def norm_name(text: str) -> str:
    """A name as compared across files and years: NFKC, no whitespace, no brackets' width."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


_CELL = re.compile(r"^(?P<sheet>.*)!\$?[A-Z]{1,3}\$?(?P<row>\d+)$")


@lru_cache(maxsize=65536)  # the same few thousand cells recur in every project of a batch
def cell_row(cell: str | None) -> tuple[str, int] | None:
    """``自评表!G14`` → ("自评表", 14)."""
    m = _CELL.match(cell or "")
    return (m.group("sheet").strip("'"), int(m.group("row"))) if m else None


@lru_cache(maxsize=64)
def form_title(profile: str | None) -> str:
    """表式: the profile's Chinese title (labels.profile_title), once per profile."""
    return profile_title(profile) if profile else ""


def _execution(review: dict, project: dict) -> tuple[float | None, float | None, float | None]:
    """(budget, paid, rate %) of one project, by the definitions in the module docstring."""
    budget = paid = rate = None
    ex = review.get("execution")
    if isinstance(ex, dict):
        total = ex.get("total") if isinstance(ex.get("total"), dict) else (ex.get("rows") or {}).get("total", ex)
        total = total if isinstance(total, dict) else {}
        scale = 1 / 10000 if str(ex.get("unit", "")).startswith("元") else 1
        budget, paid = _num(total.get("annual")), _num(total.get("executed"))
        budget = budget * scale if budget is not None else None
        paid = paid * scale if paid is not None else None
        rate = _num(total.get("rate"))
    else:
        funds, plan = review.get("funds") or {}, review.get("budget") or {}
        budget = _num(funds.get("allocated"))
        if budget is None:
            budget = _num(plan.get("allocated"))
        paid = _num(funds.get("paid"))
    if budget and paid is not None:
        rate = round(paid / budget * 100, 2)
    elif rate is not None and rate <= 1.5:  # printed as a fraction (0.985)
        rate = round(rate * 100, 2)
    if project.get("execution_rate") is not None:
        rate = _num(project.get("execution_rate"))
    return budget, paid, rate


def _output(outputs: list[str], suffix: str) -> str:
    return next((o for o in outputs or () if str(o).endswith(suffix)), "")


# ---- the adapter ------------------------------------------------------------------------

class Table:
    """Rows kept as one list per column: 100,000 findings or indicators as a dict each cost ≈ 1 KB
    a row, as columns ≈ 8 bytes a value (the values themselves are shared with run.json and
    the review JSON). Iterating, indexing and ``==`` give a dict per row, so a caller may treat
    it as the list of row dicts it replaces; ``to_frame`` takes the columns as they are."""

    __slots__ = ("columns",)

    def __init__(self, names) -> None:
        self.columns: dict[str, list] = {n: [] for n in names}

    def append(self, row: dict) -> None:
        for name, col in self.columns.items():
            col.append(row[name])

    def reorder(self, order: list[int]) -> None:
        """Put the rows in ``order`` (a permutation of the row positions)."""
        for name, col in self.columns.items():
            self.columns[name] = [col[i] for i in order]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), ()))

    def __iter__(self):
        names = list(self.columns)
        for values in zip(*self.columns.values()):
            yield dict(zip(names, values))

    def __getitem__(self, i: int) -> dict:
        return {name: col[i] for name, col in self.columns.items()}

    def __eq__(self, other) -> bool:
        if isinstance(other, Table):
            return self.columns == other.columns
        return isinstance(other, list) and list(self) == other

    __hash__ = None


@dataclass
class Records:
    """The rows of one run: projects, findings, files (and indicators when asked for).
    ``findings`` and ``indicators`` are ``Table``s (the many rows), the others lists of dicts."""

    projects: list[dict]
    findings: Table
    files: list[dict]
    indicators: Table
    run: dict


def load_run(outbox: Path) -> dict:
    """OUTBOX/run.json; raises ValueError with a Chinese message when missing or broken."""
    path = Path(outbox) / RUN_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # as manifest.load: a BOM is allowed
    except OSError:
        raise ValueError(f"找不到 {path}：请指定 selfeval-xl run 的输出文件夹") from None
    except ValueError as exc:
        raise ValueError(f"{path} 不是有效的 JSON：{exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ValueError(f"{path} 不是 selfeval-xl 的 run.json（没有 files 列表）")
    return data


def entry_projects(entry: dict) -> list[dict]:
    """The projects of one run.json file entry, whichever shape (``projects[]`` or top level)."""
    if entry.get("status") != "ok":
        return []
    projects = entry.get("projects")
    if isinstance(projects, list) and projects:
        return [p for p in projects if isinstance(p, dict)]
    keys = ("sheet", "profile", "totals", "findings", "project", "finding_items", "grade", "execution_rate")
    return [{**{k: entry.get(k) for k in keys}, "outputs": entry.get("outputs") or []}]


def records(run: dict, outbox: Path | None = None, indicators: bool = False) -> Records:
    """All rows of ``run`` (run.json as a dict); ``outbox`` locates the kept review JSON.

    ``indicators=False`` (the overview, the report, compare) reads only the small facts files
    (store.load_facts); ``indicators=True`` reads the full reviews and fills ``indicators``."""
    projects: list[dict] = []
    findings = Table(FINDING_COLUMNS)
    files: list[dict] = []
    inds = Table(INDICATOR_COLUMNS)
    # one object per distinct text in the columns a form repeats in every project (its indicator
    # categories, cells and mostly its names): each file's JSON would otherwise give its own copy
    pool: dict[str, str] = {}

    def pooled(text: str) -> str:
        return pool.setdefault(text, text)
    for entry in run.get("files") or ():
        if not isinstance(entry, dict):
            continue
        rel = _text(entry.get("input"))
        plist = entry_projects(entry)
        error = entry.get("error") or {}
        note = error.get("message") or entry.get("reason") or ""
        files.append({"input": rel, "status": _text(entry.get("status")), "error_code": _text(error.get("code")),
                      "message": note, "projects": len(plist), "unchanged": bool(entry.get("unchanged"))})
        if not plist:
            continue
        reviews = [] if outbox is None else (load_reviews(outbox, rel) if indicators else load_facts(outbox, rel))
        for i, p in enumerate(plist):
            review = reviews[i] if i < len(reviews) else {}
            info = p.get("project") or review.get("project") or {}
            totals = {**(review.get("totals") or {}), **(p.get("totals") or {})}
            counts = p.get("findings") or {}
            outputs = p.get("outputs") or entry.get("outputs") or []
            stated, self_sum = _num(totals.get("stated")), _num(totals.get("self"))
            computed, final = _num(totals.get("computed")), _num(totals.get("final"))
            self_score = stated if stated is not None else self_sum
            review_score = final if final is not None else computed
            budget, paid, rate = _execution(review, p)
            profile = _text(p.get("profile") or review.get("profile"))
            base = {"input": rel, "sheet": _text(p.get("sheet") or review.get("sheet")), "project_index": i,
                    "department": _text(info.get("department")), "project": _text(info.get("name")),
                    "year": _year(info.get("year"))}
            workbook = _output(outputs, REVIEWED_SUFFIXES[0])
            items = p.get("finding_items") or review.get("findings") or []
            row = {**base, "profile": profile, "form_title": form_title(profile) if profile else "",
                   "self_score": self_score, "stated": stated, "self_sum": self_sum, "computed": computed, "final": final,
                   "review_score": review_score,
                   "difference": round(review_score - self_score, 2) if None not in (review_score, self_score) else None,
                   "grade": _text(p.get("grade") or review.get("grade")) or None,
                   "budget": budget, "paid": paid, "execution_rate": rate,
                   "errors": int(counts.get("error") or 0), "warnings": int(counts.get("warning") or 0),
                   "infos": int(counts.get("info") or 0), "duplicate": False, "duplicate_of": "",
                   "workbook": workbook, "report": _output(outputs, REPORT_SUFFIX), "unchanged": bool(entry.get("unchanged")),
                   "_dup_finding": any(f.get("code") == "DUPLICATE_PROJECT" for f in items),
                   # the batch's own verdict (batch.mark_duplicates: also 副本 names), which mail follows
                   "_dup_of": p.get("duplicate_of") or entry.get("duplicate_of") or ""}
            projects.append(row)
            by_row = {}
            pairs = review.get("rows") if "rows" in review else [[i.get("cell"), i.get("name")]
                                                                  for i in review.get("indicators") or ()]
            for cell, name in pairs:
                key = cell_row(cell)
                if key:
                    by_row[key] = name or ""
            for f in items:
                key = cell_row(f.get("cell"))
                findings.append({**base, "severity": _text(f.get("severity")),
                                 "severity_text": severity_label(f.get("severity"), _text(f.get("severity"))),
                                 "code": _text(f.get("code")), "label": finding_label(_text(f.get("code")), _text(f.get("severity"))), "cell": _text(f.get("cell")),
                                 "indicator": by_row.get(key, "") if key else "", "message": _text(f.get("message")),
                                 "workbook": workbook})
            if indicators:
                codes: dict[tuple, list[str]] = {}
                for f in items:
                    key = cell_row(f.get("cell"))
                    if key:
                        codes.setdefault(key, []).append(_text(f.get("code")))
                ilist = list(review.get("indicators") or ())
                ic = inds.columns  # filled column by column: a dict per indicator costs 3x the time
                for k, v in base.items():
                    ic[k].extend([v] * len(ilist))
                for k in ("category", "name", "cell"):
                    ic[k].extend([pooled(_text(i.get(k))) for i in ilist])
                for k in ("target", "actual", "basis"):
                    ic[k].extend([_text(i.get(k)) for i in ilist])
                for k in ("weight", "self_score", "computed_score", "completion"):
                    ic[k].extend([_num(i.get(k)) for i in ilist])
                own, rule = ic["self_score"][-len(ilist):] if ilist else [], ic["computed_score"][-len(ilist):] if ilist else []
                ic["difference"].extend([round(c - s, 2) if None not in (c, s) else None for s, c in zip(own, rule)])
                ic["findings"].extend([",".join(dict.fromkeys(codes.get(cell_row(i.get("cell")), []))) for i in ilist])
    _mark_duplicates(projects)
    col = findings.columns
    sev, inp, idx = col["severity"], col["input"], col["project_index"]
    findings.reorder(sorted(range(len(sev)), key=lambda i: (severity_rank(sev[i]), inp[i], idx[i])))
    return Records(projects, findings, files, inds, run)


def _mark_duplicates(projects: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = {}
    for p in projects:
        if p["project"]:
            groups.setdefault((norm_name(p["department"]), norm_name(p["project"]), p["year"]), []).append(p)
    for p in projects:
        same = groups.get((norm_name(p["department"]), norm_name(p["project"]), p["year"]), []) if p["project"] else []
        others = list(dict.fromkeys(o["input"] + (f"（{o['sheet']}）" if o["input"] == p["input"] else "")
                                    for o in same if o is not p))
        batch_says = p.pop("_dup_of")
        if batch_says and batch_says not in others:
            others.append(batch_says)
        p["duplicate"] = bool(others) or p.pop("_dup_finding")
        p.pop("_dup_finding", None)
        p["duplicate_of"] = "、".join(others)


# ---- pandas -----------------------------------------------------------------------------

@dataclass
class Frames:
    """``projects``, ``indicators``, ``findings`` and ``files`` of one run, as DataFrames."""

    projects: Any
    indicators: Any
    findings: Any
    files: Any


def to_frame(rows: "list[dict] | Table", columns: dict[str, str], consume: bool = False):
    """A DataFrame with exactly ``columns`` in order and their dtypes (also when empty).
    ``consume=True`` empties the Table ``rows`` column by column as they are converted, so that
    the rows are not held twice (``frames``: 184,000 indicators at 2,000 projects)."""
    import numpy as np
    import pandas as pd

    if isinstance(rows, Table):
        data = rows.columns
        n = len(rows)
    else:
        data = {name: [r.get(name) for r in rows] for name in columns}
        n = len(rows)
    out = {}
    for name, dtype in columns.items():
        values = (data.pop(name, None) if consume and isinstance(rows, Table) else data.get(name)) or [None] * n
        if dtype == "str":  # a list comprehension: Series.map's per-value overhead is ~3x this
            out[name] = pd.array(["" if v is None or v != v else v if type(v) is str else str(v)
                                  for v in values], dtype="string")
        elif dtype == "bool":
            out[name] = np.array([bool(v) and v == v for v in values], dtype=bool)
        else:
            out[name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(out, index=pd.RangeIndex(n), columns=list(columns))


def frames(outbox: str | Path, indicators: bool = True) -> Frames:
    """The batch in ``outbox`` (a ``selfeval-xl run`` output folder) as DataFrames.

    Columns: see PROJECT_COLUMNS, INDICATOR_COLUMNS, FINDING_COLUMNS, FILE_COLUMNS (text
    columns are pandas "string" holding "" for missing, numbers are nullable Int64/Float64). ``indicators=False``
    skips reading the per-project review JSON's indicators (faster for big batches).
    """
    outbox = Path(outbox)
    rec = records(load_run(outbox), outbox, indicators=indicators)
    return Frames(to_frame(rec.projects, PROJECT_COLUMNS), to_frame(rec.indicators, INDICATOR_COLUMNS, consume=True),
                  to_frame(rec.findings, FINDING_COLUMNS, consume=True), to_frame(rec.files, FILE_COLUMNS))
