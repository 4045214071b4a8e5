"""One way to print a number, an interval, a p-value and a Markdown table in every output."""

import pytest

from morec_core.results.compare import Comparison
from morec_core.results.formatting import (
    markdown_table,
    mean_interval,
    p_value,
    relative_interval,
)


def _comparison(p_adjusted: float) -> Comparison:
    return Comparison(metric="hr@10", control="s/IDRec", users=10, difference=0.01,
                      difference_ci=(0.0, 0.02), relative=0.5, relative_ci=(0.1, 0.9),
                      p_t=p_adjusted, p_randomization=p_adjusted, p_wilcoxon=None,
                      p_adjusted=p_adjusted, verdict="on par")


@pytest.mark.parametrize(("p", "text"), [(0.5, "0.500"), (0.0312, "0.031"), (0.001, "0.001"),
                                         (0.00002, "2e-05"), (None, "")])
def test_p_values(p, text):
    assert p_value(p) == text


@pytest.mark.parametrize("p", [0.5, 0.0123, 0.00002])
def test_compare_and_report_print_a_p_value_alike(p):
    from morec_core.results.compare_format import p_cell as compare_cell
    from morec_core.results.report_render import p_cell as report_cell

    assert report_cell(_comparison(p)) == compare_cell(p) == p_value(p)


def test_compare_and_report_print_a_difference_alike():
    from morec_core.results.compare_format import difference_cell, relative_cell
    from morec_core.results.report_render import delta_cell
    from morec_core.results.report_render import relative_cell as report_relative

    comparison = _comparison(0.5)
    assert delta_cell(comparison) == difference_cell(comparison) == "+1.00 [+0.00, +2.00]"
    assert report_relative(comparison) == relative_cell(comparison) == "+50.0% [+10.0%, +90.0%]"


def test_intervals():
    assert mean_interval(0.1234, (0.1, 0.15)) == "12.34 [10.00, 15.00]"
    assert mean_interval(0.1234, None) == "12.34 [n/a (1 seed)]"
    assert mean_interval(0.1234, None, one_seed=False) == "12.34"
    assert relative_interval(None, None) == "n/a (IDRec at 0)"
    assert relative_interval(float("inf"), (0.0, 1.0)) == "n/a"


def test_a_markdown_cell_cannot_break_its_table():
    lines = markdown_table(("arm", "value"), [("text|vision", "two\nlines")])
    assert lines == ["| arm | value |", "|---|---|", "| text\\|vision | two lines |"]


def test_compare_markdown_escapes_a_bar_in_a_cell():
    from morec_core.results.compare_format import _formatted

    table = [["arm", "dataset"], ["a|b", "x"]]
    assert _formatted(table, "markdown")[-1] == "| a\\|b | x |"
