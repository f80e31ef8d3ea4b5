"""numfmt: Excel number formats rendered as Excel shows them (the ones that give a meaning)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfeval_xl.numfmt import meaningful, render


@pytest.mark.parametrize("value, code, shown", [
    (0.972, "0.0%", "97.2%"), (0.93, "0%", "93%"), (0.9999, "0%", "100%"), (1, "0.00%", "100.00%"),
    (12, '0"亩"', "12亩"), (50660, '#,##0.00"万元"', "50,660.00万元"), (12.5, '0.0"万元"', "12.5万元"),
    (0.5, "0.00%;[Red]-0.00%", "50.00%"), (-0.5, "0.00%;[Red]-0.00%", "-50.00%"), (-3, '0"个";"减少"0"个"', "减少3个"),
    (12, 'General"个"', "12个"), (3, "[$¥-804]#,##0", "¥3"), (0.95, '"≥"0%', "≥95%"), (7, '0\\人', "7人"),
])
def test_render(value, code, shown):
    assert render(value, code) == shown
    assert meaningful(code)


@pytest.mark.parametrize("code", ["General", "0", "0.00", "#,##0.00", "0.00_ ", "@", "yyyy-mm-dd"])
def test_plain_number_formats_are_not_meaningful(code):
    assert not meaningful(code)


@pytest.mark.parametrize("code", ["# ?/?", "0.0E+00", "#,##0,", "[>100]0;0", 'yyyy"年"m"月"'])
def test_unmodelled_formats_give_none(code):
    assert render(1234.5, code) is None


@settings(max_examples=300)
@given(st.decimals(min_value=0, max_value=10000, places=2, allow_nan=False, allow_infinity=False))
def test_percent_shows_the_typed_percent(d):
    assert render(float(d) / 100, "0.00%") == f"{d:.2f}%"
    assert render(float(d) / 100, "0.0%") == f"{d.quantize(Decimal('0.1'), rounding='ROUND_HALF_UP'):.1f}%" or \
        abs(Decimal(render(float(d) / 100, "0.0%")[:-1]) - d) <= Decimal("0.05")


@settings(max_examples=300)
@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_money_with_unit(d):
    assert render(float(d), '#,##0.00"万元"') == f"{d:,.2f}万元"
