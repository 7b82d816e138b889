"""The dashboard's trend charts: the SVG (points where the values are, text escaped, gaps for missing days), the
"collecting since" message, the 30/90-day toggle, and a query count that does not grow with the history."""

import re
from datetime import UTC, date, timedelta

import pytest
from django.utils import timezone

from cockpit.charts import HEIGHT, LEFT, PLOT_HEIGHT, PLOT_WIDTH, TOP, Series, line_chart, nice_ceiling
from cockpit.trends import dashboard_trends, days_param
from mdm_sync.models import DailySnapshot
from tests.cockpit.pages import url

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]


def points(path: str) -> list[list[tuple[float, float]]]:
    """The runs of an SVG path's points: ``M x,y L x,y M …``."""
    runs = []
    for command, x, y in re.findall(r"([ML])([\d.]+),([\d.]+)", path):
        if command == "M":
            runs.append([])
        runs[-1].append((float(x), float(y)))
    return runs


def test_points_sit_where_the_values_are_and_missing_days_are_gaps():
    chart = line_chart(chart_id="c", title="Devices", description="d", days=DAYS,
                       series=[Series("In use", "ok", [0, 10, None, 40, 30])])
    assert chart.top == 50  # 40 rounded up to a readable number
    runs = points(chart.path(chart.series[0]))
    assert len(runs) == 2  # the day without figures breaks the line, it is not drawn as zero
    (first, second), (fourth, fifth) = runs
    step = PLOT_WIDTH / 4
    assert [x for x, _ in (first, second, fourth, fifth)] == pytest.approx([LEFT, LEFT + step, LEFT + 3 * step,
                                                                            LEFT + 4 * step])
    bottom = TOP + PLOT_HEIGHT
    values = [round((bottom - y) / PLOT_HEIGHT * chart.top, 6) for _, y in (first, second, fourth, fifth)]
    assert values == [0, 10, 40, 30]
    assert bottom < HEIGHT  # room for the dates


def test_a_lonely_day_is_a_dot_and_failures_are_marked():
    chart = line_chart(chart_id="c", title="Sync", description="d", days=DAYS, unit=" s",
                       series=[Series("Duration", "accent", [None, 12.5, None, None, None])],
                       marks=[None, 0, 2, None, None], marks_label="Failed syncs")
    svg = str(chart.svg)
    assert len(re.findall(r'<circle class="dot tone-accent"', svg)) == 1
    assert re.findall(r"<title>Failed syncs: (\d+)</title>", svg) == ["2"]
    assert chart.rows == [{"day": DAYS[1], "values": [12.5], "mark": 0}]  # the hidden table: days with figures


def test_every_text_of_the_svg_is_escaped():
    chart = line_chart(chart_id="x\"><script>", title="<script>alert(1)</script>", description="a & b",
                       days=DAYS, series=[Series("<b>bold</b>", "ok", [1, 2, 3, 4, 5])])
    svg = str(chart.svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "a &amp; b" in svg and "&lt;b&gt;bold" in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>") and 'role="img"' in svg


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (0.4, 1), (3, 5), (10, 10), (11, 20), (240, 250),
                                                 (251, 500), (9001, 10000)])
def test_the_scale_ends_on_a_readable_number(value, ceiling):
    assert nice_ceiling(value) == ceiling


def test_days_param_takes_30_or_90_only():
    assert [days_param(v) for v in ("30", "90", "7", "", None, "90; drop")] == [30, 90, 30, 30, 30, 30]


def snapshot(org, day, **figures):
    defaults = {"taken_at": timezone.now(), "devices": 10, "in_use_assigned": 6, "in_stock": 3, "in_use_to_assign": 1,
                "enrolled": 8, "partially_enrolled": 2, "sync_runs": 48, "sync_seconds": 42.0}
    return DailySnapshot.objects.create(organization=org, day=day, **(defaults | figures))


def today():
    return timezone.now().astimezone(UTC).date()


def test_a_fresh_install_says_since_when_it_collects(cockpit_client, org):
    html = cockpit_client.get(url("dashboard", org)).content.decode()
    assert 'id="trends-collecting"' in html and "Collecting since" in html and '<svg class="chart-svg"' not in html
    snapshot(org, today())  # one day: still no line to draw
    trends = dashboard_trends(organization=org, days=30)
    assert trends.collecting and trends.since == today()


def test_the_dashboard_draws_three_charts_of_the_organizations_own_history(cockpit_client, org, other_org):
    for n in range(5):
        snapshot(org, today() - timedelta(days=n + 1), in_use_assigned=n, sync_failures=1 if n == 2 else 0)
    snapshot(other_org, today() - timedelta(days=1), in_use_assigned=777_777)
    response = cockpit_client.get(url("dashboard", org))
    html = response.content.decode()
    assert html.count('<svg class="chart-svg"') == 3
    for chart_id in ("trend-status", "trend-enrollment", "trend-sync"):
        assert f'id="{chart_id}"' in html
    assert "777" not in html.split('id="trends"')[1].split("</section>")[0]
    assert "Collecting since" in html  # five days of thirty: it says since when
    trends = response.context["trends"]
    assert trends.days == 30 and len(trends.charts[0].days) == 30
    assert [row["values"][0] for row in trends.charts[0].rows] == [4, 3, 2, 1, 0]  # oldest first
    assert 'class="visually-hidden"' in html and "<caption>Devices by status, last 30 days</caption>" in html
    assert 'href="?days=30#trends" aria-current="page"' in html and 'href="?days=90#trends"' in html
    ninety = cockpit_client.get(url("dashboard", org, days="90")).context["trends"]
    assert ninety.days == 90 and len(ninety.charts[2].days) == 90


def test_the_dashboards_queries_do_not_grow_with_the_history(cockpit_client, org, django_assert_max_num_queries):
    snapshot(org, today() - timedelta(days=1))
    snapshot(org, today() - timedelta(days=2))
    cockpit_client.get(url("dashboard", org, days="90"))  # warm the session and membership caches
    with django_assert_max_num_queries(20) as few:
        cockpit_client.get(url("dashboard", org, days="90"))
    for n in range(3, 90):
        snapshot(org, today() - timedelta(days=n))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = cockpit_client.get(url("dashboard", org, days="90"))
    assert len(response.context["trends"].charts[0].rows) == 89
