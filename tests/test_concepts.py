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


def test_output_names_have_one_home():
    from selfeval_xl import naming, report, writeback, finalize, docx_review

    assert naming.reviewed_name("in/a.b.xls") == "a.b.复核.xlsx" and naming.reviewed_name("a.复核.xlsm") == "a.复核.xlsm"
    assert naming.reviewed_docx_name("x.复核.doc") == "x.复核.docx"
    assert naming.report_names("d/p.xlsx", ["表1", "表1", ""]) == ["p.自评价报告.docx", "p.表1.自评价报告.docx",
                                                                  "p.项目3.自评价报告.docx"]
    assert naming.letter_name("p.复核.xlsx") == "p.复核意见书.docx" and naming.letter_name("p.复核.xlsx", "二") == "p.二.复核意见书.docx"
    assert naming.is_own_output("a.复核.xlsx") and not naming.is_own_output("复核.xlsx") and naming.is_reviewed("a.复核.docx")
    # the old import paths are the same objects, not copies
    assert writeback.reviewed_name is naming.reviewed_name and report.report_name is naming.report_name
    assert finalize.letter_name is naming.letter_name and docx_review.reviewed_docx_name is naming.reviewed_docx_name
    assert writeback.COMMENT_MARK == docx_review.COMMENT_MARK == naming.COMMENT_MARK == "【复核】"


def test_fmt_is_the_one_formatter():
    from decimal import Decimal as D

    from selfeval_xl import fmt

    assert fmt.percent(D("96.505")) == "96.51%" and fmt.percent(D("100.00")) == "100%" and fmt.percent(None) == ""
    assert fmt.percent(D("96.45"), "0.1") == "96.5%"  # half up, the basis' one decimal
    assert fmt.share(1, 2) == "50.0%" and fmt.share(1, 0) == ""
    assert fmt.json_number(D("3.00")) == 3 and isinstance(fmt.json_number(D("3.00")), int) and fmt.json_number(D("0.5")) == 0.5
    assert fmt.to_decimal(0.1) == D("0.1")
    # East Asian Wide/Fullwidth = 2: U+2E80 (first CJK radical) counts 2, ℃, half-width katakana and “ count 1
    assert fmt.columns("\u2e80") == 2 and fmt.columns("\u2103") == 1 and fmt.columns("ｱ") == 1
    assert fmt.columns("复核，ab【】") == 2 * 2 + 2 + 2 + 2 * 2 and fmt.columns("“x”") == 3 and fmt.columns(None) == 0


def test_template_line_is_the_failing_template_line():
    import jinja2

    from selfeval_xl.errors import template_line

    tmpl = jinja2.Environment().from_string("a\nb\n{{ 1 // x }}\n")
    try:
        tmpl.render(x=0)
    except ZeroDivisionError as exc:
        assert template_line(exc) == 3 and template_line(exc, "other.j2") is None
    else:
        raise AssertionError("no error")


def test_batch_only_error_codes_live_in_errors():
    from selfeval_xl import batch, errors

    assert batch.EXTRA_CODES is errors.EXTRA_CODES and batch.error_dict is errors.error_dict
    assert errors.error_dict("PDF_FAILED", "x", "a.xlsx") == {"code": "PDF_FAILED", "message": "[PDF_FAILED] a.xlsx：PDF 转换失败：x"}
    assert not set(errors.EXTRA_CODES) & set(errors.CODES)
