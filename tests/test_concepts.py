"""One home per concept: severity, output names, formatters (issue 19)."""
import json

from selfeval_xl.model import SEVERITIES, Severity, severity_label, severity_rank


def test_severity_is_the_plain_string_with_label_and_rank():
    assert Severity.ERROR == "error" and json.dumps({"s": Severity.WARNING}) == '{"s": "warning"}'
    assert [s.label for s in SEVERITIES] == ["错误", "警告", "提示"]
    assert [s.rank for s in SEVERITIES] == [0, 1, 2]
    assert sorted(["info", "bogus", "error", "warning"], key=severity_rank) == ["error", "warning", "info", "bogus"]
    assert severity_label("warning") == "警告" and severity_label("bogus") == "bogus"
    assert severity_label("bogus", "问题") == "问题"
