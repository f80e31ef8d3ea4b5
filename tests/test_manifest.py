"""run.json contract (issue 15): one typed owner (manifest.py), keys only ever added, older files
and unknown keys survive a read-write round trip, and a real run fills projects[] and output hashes."""
from __future__ import annotations

import hashlib
import json
import shutil

from conftest import SAMPLE
from selfeval_xl import cli
from selfeval_xl.manifest import FileEntry, ProjectEntry, RunManifest, load

# The keys of every released run.json: a key here may never disappear (new keys may be added).
TOP_KEYS = {"tool", "version", "inbox", "outbox", "started", "finished", "options", "counts", "files"}
FILE_KEYS = {"input", "status", "error", "outputs", "totals", "findings", "sha256", "project", "finding_items"}
OK_FILE_KEYS = FILE_KEYS | {"profile", "projects", "output_sha256", "size", "seconds"}
PROJECT_KEYS = {"sheet", "profile", "totals", "findings", "project", "finding_items", "outputs"}
OPTION_KEYS = {"profile", "report_template", "report", "findings", "pdf", "skip_unchanged", "jobs", "timeout",
               "max_memory_mb", "watch", "poll_interval", "settle", "version", "report_template_sha256",
               "profile_sha256", "fonts"}


def test_a_real_run_keeps_every_released_key_and_fills_projects(tmp_path, capsys):
    box = tmp_path / "in"
    box.mkdir()
    shutil.copy2(SAMPLE, box / "a.xlsx")
    (box / "说明.txt").write_text("x", encoding="utf-8")
    out = tmp_path / "out"
    assert cli.main(["run", str(box), "-o", str(out), "-j", "1", "-q", "--no-report"]) == 0
    data = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert TOP_KEYS <= set(data) and OPTION_KEYS <= set(data["options"])
    files = {f["input"]: f for f in data["files"]}
    ok = files["a.xlsx"]
    assert OK_FILE_KEYS <= set(ok) and FILE_KEYS <= set(files["说明.txt"])
    (proj,) = ok["projects"]
    assert PROJECT_KEYS <= set(proj)
    assert proj["sheet"] == "自评表" and proj["outputs"] == ["a.复核.xlsx"] == ok["outputs"]
    for k in ("totals", "findings", "project", "finding_items", "profile"):
        assert ok[k] == proj[k]  # the top-level keys repeat the first project
    assert ok["totals"] == {"stated": 77.38, "self": 77.38, "computed": 77.51}
    assert ok["output_sha256"] == {"a.复核.xlsx": hashlib.sha256((out / "a.复核.xlsx").read_bytes()).hexdigest()}
    assert ok["size"] == SAMPLE.stat().st_size
    # the typed reader gives the same back
    m = load(out / "run.json")
    assert m.to_json()["files"] == data["files"]


def test_old_entries_and_unknown_keys_survive_a_round_trip():
    old = {"input": "x.xlsx", "status": "ok", "error": None, "outputs": ["x.复核.xlsx"], "sha256": "0" * 64,
           "totals": {"stated": 1, "self": 2, "computed": 3}, "findings": {"error": 0, "warning": 1, "info": 0},
           "project": {"name": "某项目", "department": "某局", "year": 2020}, "finding_items": [],
           "from_a_newer_tool": {"x": 1}}
    e = FileEntry.from_json(old)
    assert e.projects[0].totals == old["totals"] and e.projects[0].outputs == ["x.复核.xlsx"]
    back = e.to_json()
    for k, v in old.items():
        assert back[k] == v, k
    p = ProjectEntry.from_json({"sheet": "表2", "grade": "良", "outputs": []})
    assert p.to_json()["grade"] == "良"
    m = RunManifest.from_json({"files": [old], "future_top": 5, "options": {}})
    assert m.to_json()["future_top"] == 5 and m.to_json()["counts"] == {"ok": 1, "failed": 0, "skipped": 0}


def test_unreadable_run_json_is_none(tmp_path):
    (tmp_path / "run.json").write_text("{broken", encoding="utf-8")
    assert load(tmp_path / "run.json") is None and load(tmp_path / "missing.json") is None
