"""Figure defaults (analysis.present.style) meet the print requirements they state."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.font_manager import FontProperties

from analysis.present.style import REPORT_RC, use_report_style

A4_TEXT_WIDTH_IN = (210 - 2 * 15) / 25.4   # A4 with 15 mm margins (report.css @page)
MIN_PRINT_FONT_PT = 8                        # smallest readable size in a printed figure


@pytest.fixture
def report_style():
    with matplotlib.rc_context():
        use_report_style()
        yield


def test_figure_fits_the_printed_text_width_at_100_percent(report_style):
    width, height = matplotlib.rcParams["figure.figsize"]
    assert width <= A4_TEXT_WIDTH_IN and height < width


def test_every_text_size_is_readable_in_print(report_style):
    keys = ["font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize", "legend.fontsize"]
    sizes = [FontProperties(size=matplotlib.rcParams[k]).get_size_in_points() for k in keys]
    assert min(sizes) >= MIN_PRINT_FONT_PT, dict(zip(keys, sizes))


def test_png_has_the_stated_resolution(report_style):
    matplotlib.rcParams["savefig.bbox"] = "standard"  # no tight-bbox trimming: the whole canvas
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    png = buf.getvalue()
    width_px = int.from_bytes(png[16:20], "big")
    assert width_px == round(REPORT_RC["figure.figsize"][0] * REPORT_RC["savefig.dpi"])
