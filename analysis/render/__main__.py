"""Preview one notebook while writing it: ``python -m analysis.render NOTEBOOK.qmd --cut CUT``.

Renders just that notebook (also a draft whose name starts with "_") for the data cut, with the
same engine, options and template as the report, into ``--out`` (default ``<name>.html`` in the
current folder). The report itself is built by ``python -m analysis render``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from analysis import paths  # noqa: E402
from analysis.errors import RenderError  # noqa: E402
from analysis.messages import say  # noqa: E402
from analysis.render.html import NavEntry  # noqa: E402
from analysis.render.options import load_yaml_mapping  # noqa: E402
from analysis.render.pipeline import choose_engine, render_one, report_params  # noqa: E402
from analysis.render.qmd import read_qmd  # noqa: E402
from analysis.render.quarto import PROJECT_FILE  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.render", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("notebook", type=Path, help="the .qmd to render")
    p.add_argument("--cut", required=True, help="data cut, e.g. cut-2025-06-30")
    p.add_argument("--root", type=Path, default=None, help="project tree to read (default: this repository)")
    p.add_argument("--out", type=Path, default=None, help="HTML file to write (default: ./<name>.html)")
    p.add_argument("--engine", choices=("quarto", "jupyter"), default=None)
    args = p.parse_args(argv)
    try:
        paths.cut_date(args.cut)
        doc = read_qmd(args.notebook)
        out = (args.out or Path.cwd() / f"{args.notebook.stem}.html").resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        engine = choose_engine(args.engine)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="sap-preview-") as scratch:
            written = render_one(doc, Path(scratch), engine=engine, params=report_params(args.cut, args.root),
                                 cut=args.cut, nav=[NavEntry(out.name, doc.title)],
                                 project_meta=load_yaml_mapping(paths.REPO_ROOT / PROJECT_FILE),
                                 work_root=Path(scratch) / "work")
            shutil.copyfile(written, out)
    except (RenderError, ValueError) as exc:
        say(f"RENDER FAILED: {exc}", logging.ERROR)
        return 1
    say(f"{out} ({engine}, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
