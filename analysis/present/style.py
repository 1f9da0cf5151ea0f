"""Figure defaults of the report, set in one place. Every notebook starts with::

    from analysis.present.style import use_report_style
    use_report_style()

Sizes are chosen for print: a 7 x 4.5 inch figure fits the text width of an A4 page with 15 mm
margins (180 mm = 7.1 in) at 100 %, so 10 pt text in the figure prints at about 10 pt; 150 dpi
gives sharp PNGs in the HTML page (the page scales them to its column) and 300 dpi for saved
files. Colours are the Okabe-Ito palette, distinguishable with colour-vision deficiency and in
greyscale by line style where plots add one.

Reference: matplotlib "Customizing with style sheets and rcParams"; Okabe & Ito (2008),
"Color Universal Design".
"""

from __future__ import annotations

import matplotlib
from cycler import cycler

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
FIGURE_SIZE_IN = (7.0, 4.5)
SCREEN_DPI = 150
PRINT_DPI = 300

REPORT_RC: dict = {
    "figure.figsize": FIGURE_SIZE_IN,
    "figure.dpi": SCREEN_DPI,           # the inline backend draws PNGs at the figure's dpi
    "savefig.dpi": PRINT_DPI,
    "savefig.bbox": "tight",
    "font.family": "DejaVu Sans",       # ships with matplotlib: same glyphs on every machine
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.6,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "svg.hashsalt": "sap-report",       # deterministic ids in SVG output
}


def use_report_style() -> None:
    """Apply REPORT_RC to matplotlib, and inside IPython draw inline figures as PNG."""
    matplotlib.rcParams.update(REPORT_RC)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")
