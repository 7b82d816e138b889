"""Cells the product writes to CSV never start a spreadsheet formula."""

import pytest

from core.exports import formula_safe


@pytest.mark.parametrize("value, written", [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("C02ABC", "C02ABC"), ("", ""), (None, ""), (42, "42"),
])
def test_formula_cells_are_written_as_text(value, written):
    assert formula_safe(value) == written
