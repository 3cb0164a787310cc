"""The opens-per-day chart, drawn on the server as SVG: axes, gridlines, day labels and counts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from read_receipts.insights.display import LOCALE

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 26, 44  # room for the axis labels
SERIES = ("people", "machines")
# A day over this many times the next busiest is drawn cut (with its count), so the other days stay readable.
OUTLIER = 3


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    series: str
    count: int
    title: str
    cut: bool  # taller than the scale: drawn to the top, with a break mark


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in the SVG
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    top: int  # the count at the top of the scale
    cut: bool  # one day or more is taller than the scale
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    baseline: int = HEIGHT - BOTTOM
    right_edge: int = WIDTH - RIGHT


def nice_step(value: float) -> int:
    """The round number (1, 2 or 5 times a power of ten) at or above a value."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return int(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def scale_top(counts: list[int]) -> tuple[int, bool]:
    """The top of the scale (four round steps), and whether the busiest day is cut to keep the others readable."""
    ordered = sorted(counts, reverse=True) + [0, 0]
    busiest, next_busiest = ordered[0], ordered[1]
    cut = bool(next_busiest) and busiest > OUTLIER * next_busiest
    shown = next_busiest * 1.25 if cut else busiest
    top = 4 * nice_step(math.ceil(shown) / 4)
    return top, cut and busiest > top


def draw(per_day: dict[str, dict[str, int]]) -> Chart:
    """Lay out the bars, the count axis and the day labels for the opens per day."""
    days = list(per_day)
    top, cut = scale_top([per_day[day][series] for day in days for series in SERIES])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bars = []
    for index, day in enumerate(days):
        named = _day_label(day, "EEE d MMM yyyy")  # once a day: formatting is the costly part of a year's chart
        for offset, series in ((0.12, "people"), (0.5, "machines")):
            count = per_day[day][series]
            height = plot_h * min(count, top) / top
            bars.append(
                Bar(
                    x=LEFT + index * slot + slot * offset,
                    y=TOP + plot_h - height,
                    w=slot * 0.38,
                    h=height,
                    series=series,
                    count=count,
                    title=f"{named}: {count} {_series_words(series, count)}",
                    cut=count > top,
                )
            )
    y_ticks = [Tick(TOP + plot_h - plot_h * n / 4, f"{top * n // 4:,}") for n in range(5)]  # top is 4 steps
    every = max(1, math.ceil(len(days) / 10))
    x_ticks = [
        Tick(LEFT + index * slot + slot / 2, _day_label(day, "d MMM"))
        for index, day in enumerate(days)
        if index % every == 0
    ]
    return Chart(bars, y_ticks, x_ticks, top, cut)


def _day_label(day: str, pattern: str) -> str:
    return format_date(date.fromisoformat(day), pattern, locale=LOCALE)


def _series_words(series: str, count: int) -> str:
    if series == "people":
        return "read by a person" if count == 1 else "reads by people"
    return "machine load" if count == 1 else "machine loads"
