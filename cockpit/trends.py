"""The dashboard's trend charts (issue #14 §5): devices by status, enrollment health and Fleet sync duration over
the last 30 or 90 days, drawn from the organization's daily snapshots (``mdm_sync.snapshots``)."""

from dataclasses import dataclass
from datetime import UTC, date, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from cockpit.charts import Chart, Series, line_chart
from devices.models import EnrollmentStatus
from mdm_sync.selectors import daily_snapshots

RANGES = (30, 90)  # ?days= on the dashboard; anything else is the first


@dataclass(frozen=True)
class Trends:
    days: int
    since: date  # the first day with figures, or today when there is none yet
    charts: list[Chart]

    @property
    def collecting(self) -> bool:
        """Fewer than two days of figures: no line to draw yet."""
        return not self.charts

    @property
    def partial(self) -> bool:
        """History started within the range (the charts say since when)."""
        return bool(self.charts) and self.since > self.charts[0].days[0]


def days_param(value) -> int:
    return int(value) if value in {str(days) for days in RANGES} else RANGES[0]


def dashboard_trends(*, organization, days: int, today: date | None = None) -> Trends:
    """The charts of the ``days`` days ending ``today`` (UTC); one query."""
    today = today or timezone.now().astimezone(UTC).date()
    snapshots = daily_snapshots(organization=organization, days=days, today=today)
    since = snapshots[0].day if snapshots else today
    if len(snapshots) < 2:
        return Trends(days=days, since=since, charts=[])
    by_day = {snapshot.day: snapshot for snapshot in snapshots}
    calendar = [today - timedelta(days=days - 1 - n) for n in range(days)]

    def values(attribute):
        return [getattr(by_day[day], attribute) if day in by_day else None for day in calendar]

    def label(choices, value):
        return str(choices(value).label)

    status = line_chart(
        chart_id="trend-status", days=calendar,
        title=_("Devices by status, last %(days)s days") % {"days": days},
        description=_("Devices in use or in stock each day, by availability and assignment; archived devices "
                      "are not counted."),
        series=[
            Series(_("In use · assigned"), "ok", values("in_use_assigned")),
            Series(_("In stock · to assign"), "accent", values("in_stock")),
            Series(_("In use · to assign"), "warn", values("in_use_to_assign")),
        ],
    )
    enrollment = line_chart(
        chart_id="trend-enrollment", days=calendar,
        title=_("Enrollment health, last %(days)s days") % {"days": days},
        description=_("Devices in use or in stock each day, by enrollment status."),
        series=[
            Series(label(EnrollmentStatus, EnrollmentStatus.ENROLLED), "ok", values("enrolled")),
            Series(label(EnrollmentStatus, EnrollmentStatus.AWAITING_ACTIVATION), "info",
                   values("awaiting_activation")),
            Series(label(EnrollmentStatus, EnrollmentStatus.AWAITING_USER_ASSIGNMENT), "warn",
                   values("awaiting_user_assignment")),
            Series(label(EnrollmentStatus, EnrollmentStatus.PARTIALLY_ENROLLED), "danger",
                   values("partially_enrolled")),
            Series(label(EnrollmentStatus, EnrollmentStatus.UNENROLLED), "muted", values("unenrolled")),
        ],
    )
    sync = line_chart(
        chart_id="trend-sync", days=calendar, unit=_(" s"),
        title=_("Fleet sync duration, last %(days)s days") % {"days": days},
        description=_("Mean duration in seconds of each day's successful Fleet syncs; a red dot marks a day with "
                      "a failed sync."),
        series=[Series(_("Mean sync duration (seconds)"), "accent", values("sync_seconds"))],
        marks=[by_day[day].sync_failures if day in by_day else None for day in calendar],
        marks_label=_("Failed syncs"),
    )
    return Trends(days=days, since=since, charts=[status, enrollment, sync])

