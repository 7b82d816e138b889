"""Server-rendered line charts for the dashboard (issue #14 §5): inline SVG, no JavaScript.

:func:`line_chart` lays out one value per day over a fixed range of days (a day without figures is a gap in the
line, never a made-up zero) and returns a :class:`Chart`: its ``svg`` (escaped text throughout, a ``<title>`` and a
``<desc>``), and the same values as ``rows`` for the visually-hidden table beside it. Colors are CSS classes
(``tone-ok``…) that ``cockpit.css`` maps to the theme's custom properties, so dark mode needs nothing here."""

from dataclasses import dataclass, field
from datetime import date

from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 26  # room for the y labels at the left, the dates below
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TONES = ("accent", "ok", "warn", "danger", "muted", "info")


@dataclass(frozen=True)
class Series:
    label: str
    tone: str  # one of TONES
    values: list  # one number (or None: no figures that day) per day of the chart


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str
    days: list[date]
    series: list[Series]
    unit: str = ""
    marks: list = field(default_factory=list)  # per day: a count (failed syncs) drawn as a dot on the axis when > 0
    marks_label: str = ""

    @property
    def top(self) -> float:
        """The value at the top of the plot: the largest value rounded up to a readable number (at least 1)."""
        largest = max((v for s in self.series for v in s.values if v is not None), default=0)
        return nice_ceiling(largest)

    def x(self, index: int) -> float:
        return round(LEFT + (PLOT_WIDTH * index / (len(self.days) - 1) if len(self.days) > 1 else PLOT_WIDTH / 2), 2)

    def y(self, value: float) -> float:
        return round(TOP + PLOT_HEIGHT - PLOT_HEIGHT * value / self.top, 2)

    def path(self, series: Series) -> str:
        """SVG path data: one ``M x,y L x,y…`` run per stretch of days with figures."""
        commands, previous = [], None
        for index, value in enumerate(series.values):
            if value is not None:
                commands.append(f"{'L' if previous is not None else 'M'}{self.x(index)},{self.y(value)}")
            previous = value
        return " ".join(commands)

    @property
    def rows(self) -> list[dict]:
        """The days with figures, each with its values in series order (the hidden table)."""
        return [
            {"day": day, "values": [s.values[i] for s in self.series], "mark": self.marks[i] if self.marks else None}
            for i, day in enumerate(self.days)
            if any(s.values[i] is not None for s in self.series)
        ]

    @property
    def svg(self) -> SafeString:
        title_id, desc_id = f"{self.chart_id}-title", f"{self.chart_id}-desc"
        parts = [format_html(
            '<svg class="chart-svg" viewBox="0 0 {} {}" role="img" aria-labelledby="{}" aria-describedby="{}" '
            'focusable="false">'
            '<title id="{}">{}</title><desc id="{}">{}</desc>',
            WIDTH, HEIGHT, title_id, desc_id, title_id, self.title, desc_id, self.description)]
        for value in (0, self.top / 2, self.top):
            y = self.y(value)
            parts.append(format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"></line>'
                '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
                LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y, format_value(value, self.unit)))
        for index in sorted({0, (len(self.days) - 1) // 2, len(self.days) - 1}):
            anchor = "start" if index == 0 else ("end" if index == len(self.days) - 1 else "middle")
            parts.append(format_html('<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>', self.x(index),
                                     HEIGHT - 6, anchor, formats.date_format(self.days[index], "SHORT_DATE_FORMAT")))
        for series in self.series:
            parts.append(format_html('<path class="line tone-{}" d="{}"><title>{}</title></path>',
                                     series.tone, self.path(series), series.label))
            lonely = [i for i, v in enumerate(series.values) if v is not None and _alone(series.values, i)]
            parts.append(format_html_join("", '<circle class="dot tone-{}" cx="{}" cy="{}" r="2.5"></circle>',
                                          ((series.tone, self.x(i), self.y(series.values[i])) for i in lonely)))
        if self.marks:
            parts.append(format_html_join(
                "", '<circle class="mark tone-danger" cx="{}" cy="{}" r="3.5"><title>{}: {}</title></circle>',
                ((self.x(i), TOP + PLOT_HEIGHT, self.marks_label, mark) for i, mark in enumerate(self.marks) if mark)))
        parts.append(mark_safe("</svg>"))
        return mark_safe("".join(parts))  # noqa: S308 (every piece above is format_html's, which escapes)


def _alone(values: list, index: int) -> bool:
    """A value with no neighbour draws no line: it gets a dot."""
    before = values[index - 1] if index > 0 else None
    after = values[index + 1] if index + 1 < len(values) else None
    return before is None and after is None


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × a power of ten that is at least ``value`` (1 for nothing)."""
    if value <= 1:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def format_value(value: float, unit: str = "") -> str:
    number = formats.number_format(value, decimal_pos=0 if float(value).is_integer() else 1)
    return f"{number}{unit}"


def line_chart(*, chart_id: str, title: str, description: str, days: list[date], series: list[Series],
               unit: str = "", marks: list | None = None, marks_label: str = "") -> Chart:
    return Chart(chart_id=chart_id, title=title, description=description, days=days, series=series, unit=unit,
                 marks=marks or [], marks_label=marks_label)
