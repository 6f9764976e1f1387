"""Charts of results, laid out once as shapes and drawn as SVG (in the page, and as a download)
or as PNG (for a newsletter or a slide), so both show the same bars at the same places.

Colours are SVG presentation attributes, which the Content-Security-Policy allows (unlike
`style=`), and each shape also has a class so the stylesheet can restyle it in the page.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from markupsafe import Markup, escape

from surveys.statistics import Share

WIDTH = 640
TONES = {
    "bar": "#1f5f8b",
    "track": "#e6edf2",
    "whisker": "#111111",
    "baseline": "#555555",
    "grid": "#d9d9d9",
    "text": "#111111",
    "muted": "#555555",
    "inverse": "#ffffff",
}
# Stacked segments: distinguishable in colour and in lightness (for grey print).
# Dark enough for white text on them.
SEGMENTS = ["#1f5f8b", "#a3500b", "#2e6b30", "#8e2444", "#5b4a8a", "#6d5520", "#1d6570", "#6e5d00", "#555555"]
FONT_SIZE = 13


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    tone: str


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    tone: str


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    tone: str = "text"
    anchor: str = "start"  # start | middle | end


@dataclass
class Chart:
    title: str
    height: float
    shapes: list = field(default_factory=list)
    width: float = WIDTH


def _colour(tone: str) -> str:
    if tone.startswith("segment-"):
        return SEGMENTS[int(tone.removeprefix("segment-")) % len(SEGMENTS)]
    return TONES[tone]


def _fit(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: characters - 1] + "…"


def _percent(value: float) -> str:
    return f"{value:.0f}%"


# --- layouts -------------------------------------------------------------------------------------


def share_bars(title: str, bars: Sequence[tuple[str, Share]]) -> Chart:
    """One horizontal bar per answer: its share of those who answered, a line across its 95 %
    interval, and "count · percent ±margin" beside it."""
    row, left, span = 42, 0, 420
    chart = Chart(title, len(bars) * row + 8)
    for i, (label, share) in enumerate(bars):
        y = i * row
        chart.shapes.append(Text(left, y + 14, _fit(label, 70)))
        chart.shapes.append(Rect(left, y + 20, span, 14, "track"))
        chart.shapes.append(Rect(left, y + 20, round(share.percent / 100 * span, 1), 14, "bar"))
        if share.base:
            low, high = (round(v / 100 * span, 1) for v in share.interval)
            chart.shapes += [
                Line(low, y + 27, high, y + 27, "whisker"),
                Line(low, y + 22, low, y + 32, "whisker"),
                Line(high, y + 22, high, y + 32, "whisker"),
            ]
        figure = f"{share.count:,} · {_percent(share.percent)} ±{share.margin:.0f}" if share.base else "no answers"
        chart.shapes.append(Text(span + 8, y + 32, figure, "muted"))
    return chart


def stacked_bars(title: str, rows: Sequence[tuple[str, int, Sequence[Share]]], legend: Sequence[str]) -> Chart:
    """One bar per row, 100 % wide, split by the row percentages of each column; a legend below."""
    row, label_width, span = 40, 0, WIDTH - 70
    legend_rows = (len(legend) + 2) // 3
    chart = Chart(title, len(rows) * row + legend_rows * 22 + 16)
    for i, (label, base, shares) in enumerate(rows):
        y = i * row
        chart.shapes.append(Text(label_width, y + 14, f"{_fit(label, 60)} (n = {base:,})"))
        x = float(label_width)
        for j, share in enumerate(shares):
            width = round(share.percent / 100 * span, 1)
            if width > 0:
                chart.shapes.append(Rect(x, y + 20, width, 16, f"segment-{j}"))
                if width >= 30:
                    chart.shapes.append(Text(x + width / 2, y + 32, _percent(share.percent), "inverse", "middle"))
            x += width
    top = len(rows) * row + 8
    for j, name in enumerate(legend):
        x, y = (j % 3) * (WIDTH // 3), top + (j // 3) * 22
        chart.shapes += [Rect(x, y, 14, 14, f"segment-{j}"), Text(x + 20, y + 12, _fit(name, 28))]
    return chart


def day_columns(title: str, days: Sequence[tuple[date, int]]) -> Chart:
    """Responses per day as columns over a dated axis, with a scale on the left and each
    day's count on its column while they fit."""
    top, plot_height, left = 20, 180, 44
    busiest = max((count for _, count in days), default=0)
    scale_max = max(busiest, 1)
    span = WIDTH - left - 8
    step = span / max(len(days), 1)
    chart = Chart(title, top + plot_height + 44)
    base_y = top + plot_height
    for tick in sorted({0, scale_max // 2, scale_max}):
        y = base_y - tick / scale_max * plot_height
        chart.shapes += [Line(left, y, WIDTH - 8, y, "grid"), Text(left - 6, y + 4, f"{tick:,}", "muted", "end")]
    chart.shapes.append(Line(left, base_y, WIDTH - 8, base_y, "baseline"))
    show_values = step >= 22
    every = max(1, round(len(days) / 6))
    for i, (day, count) in enumerate(days):
        height = count / scale_max * plot_height
        x = left + i * step
        chart.shapes.append(Rect(round(x + step * 0.15, 1), round(base_y - height, 1), round(step * 0.7, 1), round(height, 1), "bar"))
        if show_values and count:
            chart.shapes.append(Text(x + step / 2, base_y - height - 4, f"{count:,}", "text", "middle"))
        if i % every == 0 or i == len(days) - 1:
            chart.shapes += [
                Line(x + step / 2, base_y, x + step / 2, base_y + 4, "baseline"),
                Text(x + step / 2, base_y + 18, day.strftime("%-d %b"), "muted", "middle"),
            ]
    if days:
        chart.shapes.append(Text(left, base_y + 36, f"{days[0][0]:%-d %B %Y} to {days[-1][0]:%-d %B %Y}", "muted"))
    return chart


def with_title(chart: Chart) -> Chart:
    """The chart with its title written above it, for a file that leaves the page."""
    shift = 30
    moved: list = [Text(0, 16, chart.title, "text")]
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            moved.append(Rect(shape.x, shape.y + shift, shape.w, shape.h, shape.tone))
        elif isinstance(shape, Line):
            moved.append(Line(shape.x1, shape.y1 + shift, shape.x2, shape.y2 + shift, shape.tone))
        else:
            moved.append(Text(shape.x, shape.y + shift, shape.text, shape.tone, shape.anchor))
    return Chart(chart.title, chart.height + shift, moved, chart.width)


# --- drawing --------------------------------------------------------------------------------------


def to_svg(chart: Chart, *, in_page: bool = False) -> Markup:
    """The chart as SVG: in the page it is hidden from screen readers (a table beside it says
    the same); as a file it is a titled image that stands on its own."""
    opening = '<svg class="chart" aria-hidden="true" focusable="false"' if in_page else '<svg role="img"'
    parts = [
        f'{opening} xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart.width:g} {chart.height:g}" '
        f'width="{chart.width:g}" height="{chart.height:g}" font-family="sans-serif" font-size="{FONT_SIZE}">',
        f"<title>{escape(chart.title)}</title>",
    ]
    if not in_page:
        parts.append('<rect width="100%" height="100%" fill="#ffffff"/>')
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            parts.append(
                f'<rect class="chart-{shape.tone}" x="{shape.x:g}" y="{shape.y:g}" width="{shape.w:g}" '
                f'height="{shape.h:g}" fill="{_colour(shape.tone)}"/>'
            )
        elif isinstance(shape, Line):
            parts.append(
                f'<line class="chart-{shape.tone}" x1="{shape.x1:g}" y1="{shape.y1:g}" x2="{shape.x2:g}" '
                f'y2="{shape.y2:g}" stroke="{_colour(shape.tone)}" stroke-width="1.5"/>'
            )
        else:
            parts.append(
                f'<text class="chart-{shape.tone}" x="{shape.x:g}" y="{shape.y:g}" text-anchor="{shape.anchor}" '
                f'fill="{_colour(shape.tone)}">{escape(shape.text)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def to_png(chart: Chart, scale: int = 2) -> bytes:
    """The same shapes drawn by Pillow, `scale` times larger for sharp text on a slide."""
    # Imported here: every `flask` command would load Pillow at start for the slides alone.
    from PIL import Image, ImageDraw, ImageFont

    margin = 12
    image = Image.new("RGB", (int((chart.width + 2 * margin) * scale), int((chart.height + 2 * margin) * scale)), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=FONT_SIZE * scale)

    def at(value: float) -> float:
        return (value + margin) * scale

    for shape in chart.shapes:
        if isinstance(shape, Rect):
            if shape.w > 0 and shape.h > 0:
                draw.rectangle([at(shape.x), at(shape.y), at(shape.x + shape.w) - 1, at(shape.y + shape.h) - 1], fill=_colour(shape.tone))
        elif isinstance(shape, Line):
            draw.line([at(shape.x1), at(shape.y1), at(shape.x2), at(shape.y2)], fill=_colour(shape.tone), width=max(1, scale))
        else:
            # SVG places text by its baseline; Pillow's "ls" anchor does the same.
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
            draw.text((at(shape.x), at(shape.y)), shape.text, fill=_colour(shape.tone), font=font, anchor=anchor)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
