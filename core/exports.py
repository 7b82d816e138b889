"""What every CSV the product writes shares (the device export, the rejected rows of an import, templates)."""

# A spreadsheet starts a formula on a cell that begins with one of these; imported text is stored as it is, and
# neutralised only where the product writes it out.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR would start a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
