"""Charts of the centre's console as plain shapes (bars, labels, lines) for an inline SVG.

Drawn on the server, no JavaScript: a chart is geometry computed here and written by
the template centre_chart.html, where Jinja escapes every label (a unit's name is
text, never markup).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

WIDTH = 960  # the viewBox width; the SVG scales to its box (laptop or tablet)
BAR_HEIGHT = 220  # plotting height of a bar chart
MARGIN_LEFT, MARGIN_TOP, MARGIN_BOTTOM = 48, 16, 64
ROW_HEIGHT = 22  # one unit's row in the heat map
LABEL_WIDTH = 230  # unit names beside the heat map
MAX_LABEL_CHARS = 32  # longer unit names are cut with an ellipsis (the full name is the tooltip)
HEAT_LEVELS = 5  # css classes heat-0 (nothing) .. heat-4 (the busiest cells)
MAX_AXIS_LABELS = 16  # day labels under a chart: every n-th day beyond this
MAX_TICKS = 5  # steps of a y axis
MAX_UPRIGHT_LABELS = 12  # more bars than this: their labels are slanted


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str  # tooltip: what the bar or cell stands for


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # SVG text-anchor
    css: str = ""
    rotate: bool = False  # -45 degrees, for day labels under many columns


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "grid"


@dataclass(frozen=True)
class Chart:
    title: str
    width: float
    height: float
    bars: list[Bar] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    empty: bool = False  # nothing to draw: the template says so instead


def axis(largest: int) -> tuple[int, int]:
    """(top, step) of a y axis from 0: a step of 1, 2 or 5 times a power of ten, at most
    MAX_TICKS steps, and a top that is a whole number of steps (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            size = step * factor
            if -(-largest // size) <= MAX_TICKS:
                return max(1, -(-largest // size)) * size, size
        step *= 10


def _r(value: float) -> float:
    return round(value, 1)


def _every(count: int) -> int:
    return max(1, -(-count // MAX_AXIS_LABELS))


def bar_chart(title: str, points: Sequence[tuple[str, int, str]], *, css: str = "bar") -> Chart:
    """Vertical bars: (axis label, value, tooltip) per bar, with a y axis from 0."""
    top, step = axis(max((v for _, v, _ in points), default=0))
    plot_width = WIDTH - MARGIN_LEFT - 8
    height = MARGIN_TOP + BAR_HEIGHT + MARGIN_BOTTOM
    base = MARGIN_TOP + BAR_HEIGHT
    chart = Chart(title, WIDTH, height, empty=not any(v for _, v, _ in points))
    for value in range(0, top + 1, step):
        y = _r(base - BAR_HEIGHT * value / top)
        chart.lines.append(Line(MARGIN_LEFT, y, WIDTH - 8, y, "grid" if value else "axis"))
        chart.labels.append(Label(MARGIN_LEFT - 6, _r(y + 4), str(value), "end", "tick"))
    if not points:
        return chart
    slot = plot_width / len(points)
    rotate = len(points) > MAX_UPRIGHT_LABELS
    every = _every(len(points))
    for i, (label, value, tooltip) in enumerate(points):
        h = BAR_HEIGHT * value / top
        x = MARGIN_LEFT + slot * i
        chart.bars.append(
            Bar(_r(x + slot * 0.15), _r(base - h), _r(slot * 0.7), _r(h), css, tooltip)
        )
        if i % every == 0:
            cx = _r(x + slot / 2)
            chart.labels.append(
                Label(cx, base + 16, label, "end" if rotate else "middle", "tick", rotate)
            )
    return chart


def heatmap(
    title: str,
    rows: Sequence[tuple[str, str]],
    columns: Sequence[str],
    cells: dict[tuple[str, str], int],
    *,
    tooltip: str = "{row} ({key}) {column}: {value}",
) -> Chart:
    """A grid of `rows` (key, label) by `columns`, each cell shaded by its value.

    The shade is the value's share of the largest, in HEAT_LEVELS steps; the number is
    written in the cell when the cell is wide enough to hold it.
    """
    top = max(cells.values(), default=0)
    columns_width = WIDTH - LABEL_WIDTH - 8
    cell = columns_width / max(1, len(columns))
    height = MARGIN_TOP + ROW_HEIGHT * len(rows) + MARGIN_BOTTOM
    chart = Chart(title, WIDTH, height, empty=top == 0)
    every = _every(len(columns))
    for j, column in enumerate(columns):
        if j % every == 0:
            x = _r(LABEL_WIDTH + cell * (j + 0.5))
            y = MARGIN_TOP + ROW_HEIGHT * len(rows) + 16
            chart.labels.append(Label(x, y, column, "end", "tick", rotate=True))
    for i, (key, label) in enumerate(rows):
        y = MARGIN_TOP + ROW_HEIGHT * i
        short = label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"
        chart.labels.append(Label(LABEL_WIDTH - 8, _r(y + ROW_HEIGHT * 0.7), short, "end", "row"))
        for j, column in enumerate(columns):
            value = cells.get((key, column), 0)
            level = 0 if not value else 1 + (HEAT_LEVELS - 2) * value // top
            x = LABEL_WIDTH + cell * j
            text = tooltip.format(row=label, key=key, column=column, value=value)
            chart.bars.append(
                Bar(_r(x + 1), y + 1, _r(cell - 2), ROW_HEIGHT - 2, f"heat heat-{level}", text)
            )
            if value and cell >= 18:
                css = "cell dark" if level >= HEAT_LEVELS - 2 else "cell"
                chart.labels.append(
                    Label(_r(x + cell / 2), _r(y + ROW_HEIGHT * 0.7), str(value), css=css)
                )
    return chart
