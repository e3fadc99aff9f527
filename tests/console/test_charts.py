"""The overview's SVG charts: scales people can read, bars in proportion, empty data still
drawn, and every label escaped (the page marks the chart's markup safe)."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET

import pytest

from gateway.http.console.charts import (
    BAR_CHART_HEIGHT,
    BOTTOM,
    TOP,
    Series,
    horizontal_bars,
    legend,
    nice_ceiling,
    stacked_bars,
    ticks,
)

SVG = "{http://www.w3.org/2000/svg}"
PLOT_HEIGHT = BAR_CHART_HEIGHT - TOP - BOTTOM


def parsed(svg: str) -> ET.Element:
    """The chart as XML: it must be well-formed, whatever the labels held."""
    return ET.fromstring(svg)


def bar_heights(svg: str) -> list[float]:
    return [float(r.attrib["height"]) for r in parsed(svg).iter(f"{SVG}rect")]


@pytest.mark.parametrize(
    ("value", "top"),
    [
        (0, 1),
        (1, 1),
        (2, 2),
        (3, 3),
        (5, 5),
        (7, 8),
        (9, 10),
        (11, 20),
        (21, 30),
        (23, 30),
        (61, 80),
        (81, 100),
        (99, 100),
        (101, 200),
        (4999, 5000),
    ],
    ids=lambda v: str(v),
)
def test_axis_top_is_the_next_one_two_or_five(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


@pytest.mark.parametrize("top", [1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 40, 60, 80, 100, 1000])
def test_ticks_start_at_zero_end_at_the_top_and_are_few(top: int) -> None:
    marks = ticks(top)
    assert marks[0] == 0 and marks[-1] == top
    assert 2 <= len(marks) <= 6
    steps = {b - a for a, b in itertools.pairwise(marks)}
    assert len(steps) == 1, "evenly spaced"


def test_stacked_bars_are_in_proportion_and_stack_in_order() -> None:
    svg = stacked_bars(
        "c", "Decisions", "per hour", ["00:00", "01:00"],
        [Series("allow", "#0a0", [6, 0]), Series("deny", "#a00", [2, 10])],
    )  # fmt: skip
    # Axis top 10: the 6 + 2 stack is 8/10 of the plot, the 10 bar all of it.
    allow, deny_first, deny_second = bar_heights(svg)
    assert allow == pytest.approx(PLOT_HEIGHT * 0.6, abs=0.1)
    assert deny_first == pytest.approx(PLOT_HEIGHT * 0.2, abs=0.1)
    assert deny_second == pytest.approx(PLOT_HEIGHT, abs=0.1)
    rects = list(parsed(svg).iter(f"{SVG}rect"))
    # The second layer sits on top of the first (smaller y is higher up).
    assert float(rects[1].attrib["y"]) + float(rects[1].attrib["height"]) == pytest.approx(
        float(rects[0].attrib["y"]), abs=0.2
    )
    assert [r.attrib["fill"] for r in rects] == ["#0a0", "#a00", "#a00"]


def test_one_bar_fills_its_share_of_a_nice_axis() -> None:
    svg = stacked_bars("c", "t", "d", ["only"], [Series("allow", "#0a0", [9])])
    assert bar_heights(svg) == [pytest.approx(PLOT_HEIGHT * 9 / 10, abs=0.1)]
    tick_labels = [t.text for t in parsed(svg).iter(f"{SVG}text") if t.attrib.get("class") == "chart-tick"]
    assert tick_labels[-1] == "10"


def test_empty_data_draws_an_axis_and_says_so() -> None:
    svg = stacked_bars("c", "t", "d", ["a", "b"], [Series("allow", "#0a0", [0, 0])], empty="No decisions")
    assert bar_heights(svg) == []
    assert "No decisions" in svg
    bars = horizontal_bars("h", "t", "d", [], "#a00", empty="No refusals")
    assert bar_heights(bars) == [] and "No refusals" in bars
    no_labels = stacked_bars("e", "t", "d", [], [])
    assert parsed(no_labels).find(f"{SVG}title") is not None


def test_horizontal_bars_are_in_proportion_in_the_order_given() -> None:
    svg = horizontal_bars("h", "Reasons", "d", [("sanctioned", 40), ("kyc_missing", 10)], "#a00")
    widths = [float(r.attrib["width"]) for r in parsed(svg).iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(widths[1] * 4, abs=0.2)
    labels = [t.text for t in parsed(svg).iter(f"{SVG}text") if t.attrib.get("class") == "chart-label"]
    assert labels == ["sanctioned", "kyc_missing"]


HOSTILE = '<script>alert("x")</script> & "quoted" \'single\''


def test_every_label_title_and_name_is_escaped() -> None:
    charts = [
        stacked_bars(HOSTILE, HOSTILE, HOSTILE, [HOSTILE], [Series(HOSTILE, '"><script>', [3])]),
        horizontal_bars(HOSTILE, HOSTILE, HOSTILE, [(HOSTILE, 2)], '"><script>'),
    ]
    for svg in charts:
        assert "<script" not in svg
        root = parsed(svg)  # well-formed: nothing broke out of an attribute or element
        assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text == HOSTILE  # type: ignore[union-attr]
        assert root.find(f"{SVG}desc").text == HOSTILE  # type: ignore[union-attr]
    key = legend([Series(HOSTILE, '"><script>', [1])])
    assert "<script" not in key
    assert [t.text for t in parsed(key).iter(f"{SVG}text")] == [HOSTILE]


def test_a_chart_is_named_for_screen_readers() -> None:
    svg = stacked_bars(
        "outcomes", "Decisions per hour", "Stacked by outcome", ["00"], [Series("a", "#000", [1])]
    )
    root = parsed(svg)
    assert root.attrib["role"] == "img"
    assert root.attrib["aria-labelledby"] == "outcomes-title outcomes-desc"
    assert root.find(f"{SVG}title").attrib["id"] == "outcomes-title"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").attrib["id"] == "outcomes-desc"  # type: ignore[union-attr]
    assert not re.search(r"\sstyle=", svg), "the CSP forbids style attributes"


def test_a_series_that_does_not_match_the_labels_is_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        stacked_bars("c", "t", "d", ["a", "b", "c"], [Series("allow", "#0a0", [1, 2])])


def test_label_every_thins_the_category_labels() -> None:
    labels = [f"{h:02d}" for h in range(24)]
    svg = stacked_bars("c", "t", "d", labels, [Series("a", "#000", [1] * 24)], label_every=3)
    written = [t.text for t in parsed(svg).iter(f"{SVG}text") if t.attrib.get("class") == "chart-label"]
    assert written == labels[::3]
