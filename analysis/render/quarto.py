"""The Quarto engine, used when the ``quarto`` CLI is on PATH.

Each notebook is rendered on its own, for one data cut::

    quarto render NN-name.qmd --to html -P cut:<cut> -P root:<root> \\
        --execute-dir <repository root> --no-execute-daemon

in a private work folder holding a copy of the .qmd and of the project's ``_quarto.yml``
(without its ``project: render:`` list, which names the repository's paths). Rendering a copy
keeps Quarto's intermediate files (``*_files/``, ``.quarto/``) out of the source tree and lets
two data cuts render at the same time. The options that matter come from ``_quarto.yml``:
``execute: freeze: false`` (a frozen result would belong to an earlier data cut),
``format: html: embed-resources: true`` (one self-contained file). ``--no-execute-daemon``: a
fresh kernel per render, never one kept alive with an earlier cut's state. ``QUARTO_PYTHON``
points Quarto at this interpreter (the project's .venv: papermill, which Quarto needs for
``-P``, is in the lock), and a kernelspec of our own, first on ``JUPYTER_PATH``, makes the
kernel this interpreter too, whatever ``python3`` kernel the user has installed.

References: Quarto "Parameters" (``-P name:value``), "Managing Execution" (freeze), ``quarto
render --help`` (``--execute-dir``, ``--no-execute-daemon``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from analysis.errors import RenderError
from analysis.render.execute import kernel_environment
from analysis.render.html import NavEntry, add_navigation, external_references
from analysis.render.options import load_yaml_mapping

PROJECT_FILE = "_quarto.yml"
DEFAULT_KERNEL = "python3"
JUPYTER_DIRNAME = "jupyter"  # beside the work folders: our kernelspec (JUPYTER_PATH)
QUARTO_TIMEOUT_S = 3600
ERROR_TAIL_CHARS = 6000


def quarto_executable() -> str | None:
    """Path of the Quarto CLI, or None when it is not installed."""
    return shutil.which("quarto")


def yaml_scalar(value) -> str:
    """``value`` written so that YAML reads it back unchanged: Quarto parses the text after
    ``name:`` in ``-P name:value`` as YAML, so a path like ``/data/a: b`` or ``yes`` must be quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value)
    try:
        plain_ok = "\n" not in text and yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain_ok = False
    return text if plain_ok else "'" + text.replace("'", "''") + "'"


def param_args(params: dict) -> list[str]:
    """``-P name:value`` for each parameter; a None value is left to the notebook's default
    (the parameters cell's ``None``)."""
    args = []
    for name, value in params.items():
        if value is None:
            continue
        if not isinstance(value, (str, int, float, bool)):
            raise RenderError(f"parameter {name}={value!r}: only scalars can be passed to quarto with -P")
        args += ["-P", f"{name}:{yaml_scalar(value)}"]
    return args


def render_command(quarto: str, qmd_name: str, params: dict, execute_dir: Path) -> list[str]:
    return [quarto, "render", qmd_name, "--to", "html", *param_args(params),
            "--execute-dir", str(execute_dir), "--no-execute-daemon"]


def write_work_project(project_meta: dict, work: Path) -> None:
    """The project's _quarto.yml for the work folder, minus what names the repository's paths:
    the render list, the output folder and the execution folder (given by --execute-dir)."""
    meta = dict(project_meta)
    project = dict(meta.get("project") or {})
    for repository_relative in ("render", "output-dir", "execute-dir"):
        project.pop(repository_relative, None)
    meta["project"] = project or {"type": "default"}
    (work / PROJECT_FILE).write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def kernel_name(project_meta: dict) -> str:
    """The Jupyter kernel the project names (``jupyter: python3`` in _quarto.yml)."""
    name = project_meta.get("jupyter")
    return name if isinstance(name, str) and name else DEFAULT_KERNEL


def write_kernelspec(jupyter_dir: Path, name: str) -> Path:
    """A kernelspec ``name`` that runs ipykernel on this interpreter (the project's .venv, which
    has papermill, analysis and every pinned package), in ``jupyter_dir``/kernels/. Quarto's
    Jupyter engine looks kernels up through jupyter_client, where JUPYTER_PATH comes first: a
    ``python3`` kernel in the user's ~/.local/share/jupyter, on another Python without papermill,
    would otherwise be used (Quarto: "The papermill package is required for processing
    --execute-params")."""
    from ipykernel.kernelspec import get_kernel_dict

    spec = get_kernel_dict()
    spec["argv"][0] = sys.executable
    folder = jupyter_dir / "kernels" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return folder


def quarto_environment(repo_root: Path, jupyter_dir: Path) -> dict[str, str]:
    """The environment of ``quarto render``: the kernel's (analysis.render.execute), Quarto's
    Python = this interpreter, and our kernelspec first on JUPYTER_PATH."""
    env = kernel_environment(repo_root, {"QUARTO_PYTHON": sys.executable})
    env["JUPYTER_PATH"] = os.pathsep.join([str(jupyter_dir)] + ([env["JUPYTER_PATH"]] if env.get("JUPYTER_PATH") else []))
    return env


def render_with_quarto(qmd: Path, out_html: Path, params: dict, *, repo_root: Path,
                       work_root: Path, nav: list[NavEntry], quarto: str | None = None) -> Path:
    """Render ``qmd`` with Quarto into ``out_html`` (navigation bar added); returns ``out_html``."""
    quarto = quarto or quarto_executable()
    if not quarto:
        raise RenderError("quarto is not on PATH")
    work = work_root / qmd.stem
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy2(qmd, work / qmd.name)
    project_meta = load_yaml_mapping(repo_root / PROJECT_FILE)
    write_work_project(project_meta, work)
    jupyter_dir = work_root / JUPYTER_DIRNAME
    write_kernelspec(jupyter_dir, kernel_name(project_meta))
    env = quarto_environment(repo_root, jupyter_dir)
    cmd = render_command(quarto, qmd.name, params, repo_root)
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=QUARTO_TIMEOUT_S,
                              check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"notebook {qmd.name}: quarto render did not finish within {QUARTO_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        output = (proc.stdout + "\n" + proc.stderr).strip()
        raise RenderError(f"notebook {qmd.name}: quarto render failed (exit {proc.returncode}): "
                          f"{' '.join(cmd)}\n{output[-ERROR_TAIL_CHARS:]}")
    produced = work / f"{qmd.stem}.html"
    if not produced.is_file():
        raise RenderError(f"notebook {qmd.name}: quarto render succeeded but wrote no {produced.name} in {work}")
    text = add_navigation(produced.read_text(encoding="utf-8"), nav, out_html.name)
    remote = external_references(text)
    if remote:
        hint = ("a cell has a text/html output, for which Quarto adds require.js and jQuery: show tables "
                "as analysis.present.table.Table or analysis.present.rawhtml.HtmlBlock"
                if any("require.js" in r or "jquery" in r for r in remote) else "is embed-resources on in _quarto.yml?")
        raise RenderError(f"notebook {qmd.name}: the Quarto page is not self-contained ({hint}), "
                          f"it would load {'; '.join(remote[:5])}")
    out_html.write_text(text, encoding="utf-8")
    return out_html
