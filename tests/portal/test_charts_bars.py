"""The shared horizontal bar chart: one value axis of round ticks covering zero and every
value, bars from zero (left of it when negative), the value label right of both bars."""

from __future__ import annotations

from portal.charts import BarValue, bar_chart


def chart(*values: BarValue, **kwargs):
    return bar_chart(title="T", description="D", values=list(values), **kwargs)


def test_it_scales_the_bars_to_round_ticks_covering_every_value():
    c = chart(BarValue("a", 7, "7"), BarValue("b", 3.5, "3.5"), left=100, right=500)
    assert [t.label for t in c.ticks] == ["0", "2", "4", "6", "8"]
    assert c.zero_x == 100 and [t.position for t in c.ticks][-1] == 500
    assert [b.width for b in c.bars] == [350.0, 175.0]
    assert [b.text_x for b in c.bars] == [456.0, 281.0]
    assert c.height == c.top + 2 * c.row_height + 26


def test_it_draws_a_negative_value_left_of_zero_and_a_zero_as_a_hairline():
    c = chart(
        BarValue("over", -50, "−50"),
        BarValue("none", 0, "0"),
        BarValue("budget", 50, "50"),
        left=0,
        right=300,
    )
    over, zero, _ = c.bars
    assert c.ticks[0].label == "\u221250" and over.x == 0 and over.x + over.width == c.zero_x
    assert zero.x == c.zero_x and zero.width == 1.0
    assert over.text_x == c.zero_x + 6  # the label starts right of zero, not over the bar


def test_it_draws_nothing_for_a_missing_value_and_puts_the_label_after_the_bar_behind():
    c = chart(
        BarValue("median", 2, "2 / 5", behind=5, behind_title="90th percentile 5"),
        BarValue("none", None, "— / —"),
        left=0,
        right=500,
        bar_height=12,
        behind_height=20,
    )
    shown, missing = c.bars
    assert (shown.width, shown.behind_width, shown.text_x) == (200.0, 500.0, 506.0)
    assert shown.behind_y < shown.y and shown.behind_y + 20 > shown.y + 12
    assert (missing.width, missing.behind_width, missing.text) == (0.0, 0.0, "— / —")


def test_it_can_fix_the_top_of_the_axis():
    c = chart(BarValue("a", 40, "40%"), high=100, tick_label=lambda v: f"{v:g}%")
    assert c.ticks[-1].label == "100%" and c.bars[0].width == round(0.4 * (c.right - c.left), 1)
