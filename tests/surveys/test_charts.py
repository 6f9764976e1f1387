"""Charts read back: the SVG's bars and the PNG's pixels against shares worked out in the test."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from PIL import Image

from surveys.charts import TONES, day_columns, share_bars, stacked_bars, to_png, to_svg
from surveys.statistics import Share

SVG = "{http://www.w3.org/2000/svg}"
ANSWERS = ["Every day"] * 7 + ["Every week"] * 2 + ["Hardly ever"]


def bars_of(svg: str, tone: str) -> list[ET.Element]:
    return [e for e in ET.fromstring(svg).iter(f"{SVG}rect") if e.get("class") == f"chart-{tone}"]


def test_share_bars_are_as_long_as_their_share_and_say_count_percent_and_margin():
    labels = ["Every day", "Every week", "Hardly ever"]
    shares = [(label, Share(ANSWERS.count(label), len(ANSWERS))) for label in labels]
    svg = str(to_svg(share_bars("How often", shares)))
    tracks, bars = bars_of(svg, "track"), bars_of(svg, "bar")
    for bar, track, label in zip(bars, tracks, labels, strict=True):
        assert float(bar.get("width")) / float(track.get("width")) == pytest.approx(ANSWERS.count(label) / len(ANSWERS), abs=0.001)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "7 · 70% ±" in " ".join(texts)
    assert ET.fromstring(svg).find(f"{SVG}title").text == "How often"


def test_text_in_a_chart_is_escaped():
    svg = str(to_svg(share_bars("<script>", [("<b>&", Share(1, 1))])))
    assert "<script>" not in svg and "&lt;b&gt;&amp;" in svg
    ET.fromstring(svg)  # still well-formed


def test_stacked_bars_split_each_row_by_its_percentages():
    rows = [("Sight+", 10, [Share(6, 10), Share(4, 10)]), ("Others", 4, [Share(1, 4), Share(3, 4)])]
    svg = str(to_svg(stacked_bars("By Sight+", rows, ["Yes", "No"])))
    first = bars_of(svg, "segment-0")[:2]
    second = bars_of(svg, "segment-1")[:2]
    assert float(first[0].get("width")) / (float(first[0].get("width")) + float(second[0].get("width"))) == pytest.approx(0.6, abs=0.001)
    assert float(first[1].get("width")) / (float(first[1].get("width")) + float(second[1].get("width"))) == pytest.approx(0.25, abs=0.001)


def test_days_have_an_axis_with_dates_and_values():
    start = date(2026, 11, 1)
    counts = [3, 0, 5, 2, 9, 1, 4]
    days = [(start + timedelta(days=i), n) for i, n in enumerate(counts)]
    svg = str(to_svg(day_columns("Per day", days)))
    heights = [float(b.get("height")) for b in bars_of(svg, "bar")]
    assert [h / max(heights) for h in heights] == pytest.approx([n / max(counts) for n in counts], abs=0.01)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "1 Nov" in texts and "7 Nov" in texts and "9" in texts and "0" in texts


def test_the_png_draws_the_same_bars():
    shares = [("Yes", Share(3, 4)), ("No", Share(1, 4))]
    chart = share_bars("Yes or no", shares)
    image = Image.open(io.BytesIO(to_png(chart, scale=1))).convert("RGB")
    margin = 12
    bar_colour = tuple(int(TONES["bar"][i : i + 2], 16) for i in (1, 3, 5))
    track_colour = tuple(int(TONES["track"][i : i + 2], 16) for i in (1, 3, 5))
    y = margin + 20 + 4  # inside the first bar, above its whisker
    # The first bar is 75 % of 420 px long: blue up to there, the track after it.
    assert image.getpixel((margin + 300, y)) == bar_colour
    assert image.getpixel((margin + 320, y)) == track_colour
    assert image.size == (640 + 2 * margin, int(chart.height) + 2 * margin)
