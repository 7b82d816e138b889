"""English dates in the cockpit stay ISO-like (2026-12-04 20:30), as admins read them in logs and CSV exports.

Only what differs from Django's own ``en`` formats is here; French uses Django's ``fr`` formats (04/12/2026 20:30).
Templates ask for ``SHORT_DATE_FORMAT`` / ``SHORT_DATETIME_FORMAT``, never a literal pattern."""

SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
