"""Render step of the pipeline: every analysis/notebooks/NN-*.qmd of the report, for one data
cut, into reports/<cut>/ (one self-contained HTML page per notebook, plus index.html and
render.json). Called by the CLI as ``render_cut(cut, root=root)``.

All pages are written to a scratch folder first and replace the previous ones only when every
notebook rendered (analysis.atomic.atomic_dir); files that other steps wrote to the folder
(ard.csv, validation.html, ...) are carried over untouched. Files whose names start with "_"
(e.g. ``_example-*.qmd``) are not part of the report.

Engine: ``quarto`` when the Quarto CLI is on PATH, else ``jupyter`` (the fallback built on
jupytext/nbclient/nbconvert); the environment variable SAP_RENDER_ENGINE=quarto|jupyter forces one.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from analysis import paths
from analysis.atomic import atomic_dir
from analysis.errors import RenderError
from analysis.messages import say
from analysis.render.fallback import render_document
from analysis.render.html import (
    NavEntry,
    Page,
    engine_description,
    export_notebook,
    external_references,
)
from analysis.render.kernels import KernelPool, WarmKernel, default_workers, prestart, take_prestarted
from analysis.render.options import load_yaml_mapping
from analysis.render.params import check_parameters
from analysis.render.qmd import QmdDocument, read_qmd
from analysis.render.quarto import PROJECT_FILE, quarto_executable, render_with_quarto

NOTEBOOK_GLOB = "[0-9][0-9]-*.qmd"
# Files of reports/<cut>/ that this step writes (and may therefore replace or drop).
# tables/ is the rtf step's output (analysis.present.csr.step): carried over, linked from the index.
OWNED_FILE = re.compile(r"^(index\.html|render\.json|[0-9][0-9]-.+\.html)$")
INDEX_PAGE = "index.html"
ENGINE_ENV = "SAP_RENDER_ENGINE"
ENGINES = ("quarto", "jupyter")


@dataclass
class RenderedNotebook:
    source: str
    html: str
    title: str
    seconds: float
    sha256: str


TABLES_DIR = "tables"  # the RTF tables of the rtf step (analysis.present.csr.step)




def list_notebooks(notebooks_dir: Path) -> list[Path]:
    """The report's notebooks, in file-name order (NN- prefix)."""
    return sorted(p for p in Path(notebooks_dir).glob(NOTEBOOK_GLOB) if p.is_file())


def choose_engine(requested: str | None = None) -> str:
    engine = requested or os.environ.get(ENGINE_ENV) or ("quarto" if quarto_executable() else "jupyter")
    if engine not in ENGINES:
        raise RenderError(f"unknown render engine {engine!r} ({ENGINE_ENV}); use one of {', '.join(ENGINES)}")
    if engine == "quarto" and not quarto_executable():
        raise RenderError(f"render engine 'quarto' requested ({ENGINE_ENV}) but quarto is not on PATH")
    return engine


def prestart_kernels() -> None:
    """Start the fallback engine's kernels now for a render that will follow in this process
    (``python -m analysis report``); nothing for Quarto, or when the engine setting is wrong
    (the render step reports that)."""
    try:
        engine = choose_engine()
    except RenderError:
        return
    if engine == "jupyter":
        prestart(paths.REPO_ROOT)


def report_params(cut: str, root: Path | None) -> dict:
    """The parameters every notebook receives: the data cut and the project root (None: the default)."""
    return {"cut": cut, "root": str(Path(root).resolve()) if root is not None else None}


def html_name(qmd: Path) -> str:
    return f"{qmd.stem}.html"


def carried_over(report_dir: Path) -> tuple[str, ...]:
    """Names in reports/<cut>/ written by other steps: kept as they are."""
    if not report_dir.is_dir():
        return ()
    return tuple(sorted(p.name for p in report_dir.iterdir()
                        if not OWNED_FILE.match(p.name) and not p.name.startswith(".")))


def navigation(docs: list[QmdDocument]) -> list[NavEntry]:
    return [NavEntry(INDEX_PAGE, "Index")] + [NavEntry(html_name(d.path), d.title) for d in docs]


def readable_dir_mode() -> int:
    """The mode a new folder gets under this process's umask (e.g. 0o755): the scratch folder
    of atomic_dir is created 0o700 by mkdtemp, which would hide the report from other readers."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


def render_one(doc: QmdDocument, out_dir: Path, *, engine: str, params: dict, cut: str,
               nav: list[NavEntry], project_meta: dict, work_root: Path,
               kernel: WarmKernel | None = None) -> Path:
    out = out_dir / html_name(doc.path)
    if engine == "quarto":
        return render_with_quarto(doc.path, out, params, repo_root=paths.REPO_ROOT,
                                  work_root=work_root, nav=nav)
    page = Page(title=doc.title, subtitle=str(doc.front_matter.get("subtitle") or ""), cut=cut,
                engine=engine_description(), nav=nav, current=out.name, resource_dir=doc.path.parent)
    return render_document(doc, out, params, page, project_meta, cwd=paths.REPO_ROOT, kernel=kernel)


def table_text(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return html_lib.escape(text).replace("|", "&#124;")


def index_notebook(cut: str, rendered: list[RenderedNotebook], others: tuple[str, ...],
                   engine: str, rtf_names: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """The index page's content, as markdown cells (exported with the same template); with a
    link to every RTF table of ``rtf_names`` (tables/<name>.rtf) under its number."""
    rows = "\n".join(f"| {i} | [{table_text(r.title)}]({r.html}) | `{r.source}` |"
                      for i, r in enumerate(rendered, start=1))
    cells = [nbformat.v4.new_markdown_cell(
        f"## Contents\n\n| # | Section | Source notebook |\n|---|---|---|\n{rows}\n")]
    if rtf_names:
        from analysis.present.numbering import rtf_index_markdown
        cells.append(nbformat.v4.new_markdown_cell(rtf_index_markdown(rtf_names, TABLES_DIR)))
    if others:
        links = "\n".join(f"- [{name}]({name})" for name in others)
        cells.append(nbformat.v4.new_markdown_cell(f"## Other outputs of this data cut\n\n{links}\n"))
    cells.append(nbformat.v4.new_markdown_cell(
        "## How this report was made\n\n"
        f"Every section was executed for data cut `{cut}` from the derived datasets and the analysis "
        f"results of that cut, by `python -m analysis render --cut {cut}` "
        f"(engine: {engine}). The notebooks' sources and their SHA-256 are listed in `render.json`."))
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    for i, cell in enumerate(nb.cells, start=1):
        cell.id = f"index-{i}"
    return nb


def write_index(out_dir: Path, cut: str, rendered: list[RenderedNotebook], others: tuple[str, ...],
                nav: list[NavEntry], engine: str, tables_dir: Path | None = None) -> None:
    """The index page; RTF links from ``tables_dir`` (the rtf step's folder in the report as it
    is now: it reaches the scratch folder only when that replaces the report)."""
    page = Page(title=f"Statistical analysis report, data cut {cut}", cut=cut, engine=engine,
                subtitle="CD22/CD19 CAR-T and auto-HSCT 'sandwich' consolidation in B-ALL",
                nav=nav, current=INDEX_PAGE)
    rtf_names = tuple(sorted(p.stem for p in Path(tables_dir or out_dir / TABLES_DIR).glob("*.rtf")))
    others = tuple(name for name in others if name != TABLES_DIR)   # listed by number instead
    text = export_notebook(index_notebook(cut, rendered, others, engine, rtf_names), page)
    (out_dir / INDEX_PAGE).write_text(text, encoding="utf-8")


def write_manifest(out_dir: Path, cut: str, engine: str, params: dict, rendered: list[RenderedNotebook]) -> None:
    manifest = {"cut": cut, "engine": engine, "parameters": params,
                "notebooks": [{"source": r.source, "sha256": r.sha256, "html": r.html,
                               "title": r.title, "seconds": round(r.seconds, 1)} for r in rendered]}
    (out_dir / "render.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


# Seconds each notebook took in a measured render (2026-12-01 04:11, shipped latest cut, 2 workers): the
# longest are handed out first (``longest_first``) when no earlier render.json of the cut says better.
EXPECTED_SECONDS = {"07-external-sensitivity.qmd": 5.5, "04-mrd.qmd": 3.1, "03-efficacy.qmd": 3.0,
                    "05-safety.qmd": 2.5, "06-external-control.qmd": 1.7, "01-overview.qmd": 1.6,
                    "02-population.qmd": 1.2, "08-changes.qmd": 1.0}


def longest_first(docs: list[QmdDocument], report_dir: Path) -> list[int]:
    """Positions of ``docs`` in the order they are handed to the workers: longest expected first
    (so the longest notebook does not start last and finish alone: with 8 notebooks on 2 workers
    that was about 4 s of the render's wall time). Expected seconds: the cut's previous
    render.json, else EXPECTED_SECONDS, else 0; ties keep the file order. Pages, index and
    render.json stay in file order."""
    expected = dict(EXPECTED_SECONDS)
    try:
        previous = json.loads((report_dir / "render.json").read_text(encoding="utf-8"))
        expected.update({n["source"]: float(n["seconds"]) for n in previous.get("notebooks", [])})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no (readable) earlier render: the measured table
    return sorted(range(len(docs)), key=lambda i: -expected.get(docs[i].name, 0.0))


def render_cut(cut: str, root: Path | None = None, *, notebooks_dir: Path | None = None,
               engine: str | None = None) -> Path:
    """Render every notebook of the report for data cut ``cut`` into reports/<cut>/ under
    ``root`` (default: the project root, see analysis.paths). Returns that folder.

    Prints each notebook's name and seconds. Raises NotebookExecutionError (a cell failed) or
    RenderError; the previous pages are then left as they were.
    """
    paths.cut_date(cut)  # rejects a malformed cut name
    engine = choose_engine(engine)
    notebooks_dir = Path(notebooks_dir or paths.NOTEBOOKS_DIR)
    sources = list_notebooks(notebooks_dir)
    if not sources:
        raise RenderError(f"no report notebooks {NOTEBOOK_GLOB} in {notebooks_dir}")
    params = report_params(cut, root)
    docs = [read_qmd(p) for p in sources]  # every notebook is checked before any is executed
    for doc in docs:
        check_parameters(doc.notebook, params, doc.front_matter, doc.name)
    engine_text = f"Quarto ({quarto_executable()})" if engine == "quarto" else engine_description()
    project_meta = load_yaml_mapping(paths.REPO_ROOT / PROJECT_FILE)
    nav = navigation(docs)
    report_dir = paths.report_dir(cut, root)
    others = carried_over(report_dir)
    with atomic_dir(report_dir, keep=others) as scratch, \
            tempfile.TemporaryDirectory(prefix="sap-quarto-") as work_root:
        os.chmod(scratch, readable_dir_mode())

        def one(doc: QmdDocument, kernel: WarmKernel | None) -> RenderedNotebook:
            say(f"[render] {cut}: {doc.name} ...")
            t0 = time.perf_counter()
            out = render_one(doc, scratch, engine=engine, params=params, cut=cut, nav=nav,
                             project_meta=project_meta, work_root=Path(work_root), kernel=kernel)
            seconds = time.perf_counter() - t0
            say(f"[render] {cut}: {doc.name} -> {out.name} in {seconds:.1f} s")
            return RenderedNotebook(doc.name, out.name, doc.title, seconds,
                                    hashlib.sha256(doc.path.read_bytes()).hexdigest())

        if engine == "quarto":  # one `quarto render` after another, each with its own kernel
            rendered = [one(doc, None) for doc in docs]
        else:  # independent notebooks side by side, each worker with one warm kernel
            workers = default_workers(len(docs))
            pool = take_prestarted(workers, paths.REPO_ROOT)
            say(f"[render] {cut}: {len(docs)} notebooks on {workers} worker(s), one warm kernel each"
                + (" (started while the earlier steps ran)" if pool else ""))
            pool = pool or KernelPool(workers, paths.REPO_ROOT)
            order = longest_first(docs, report_dir)
            try:
                done = pool.map([docs[i] for i in order], one)
            finally:
                pool.close()
            rendered = [r for _, r in sorted(zip(order, done), key=lambda pair: pair[0])]
        write_index(scratch, cut, rendered, others, nav, engine_text, report_dir / TABLES_DIR)
        write_manifest(scratch, cut, engine, params, rendered)
        check_self_contained(scratch)
    return report_dir


def check_self_contained(folder: Path) -> None:
    """Every HTML file the render wrote (pages, index, table fragments) opens air-gapped: nothing
    loaded from the network or a neighbouring file. Checked once more over the whole folder,
    whatever engine produced the pages (defence in depth: each engine checks its own pages)."""
    outside = {}
    for page in sorted(Path(folder).rglob("*.html")):
        refs = external_references(page.read_text(encoding="utf-8"))
        if refs:
            outside[page.relative_to(folder).as_posix()] = refs
    if outside:
        listed = "; ".join(f"{name}: {', '.join(refs[:3])}" for name, refs in outside.items())
        raise RenderError(f"the report would load resources from outside its files (it must open "
                          f"without a network), so it was not written: {listed}")
