"""Sphinx configuration for the microgrboard documentation site.

Build (warnings are errors):

    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

The teaching notebooks live in ``../notebooks`` (stored without outputs). Sphinx
only reads sources below this directory, so :func:`_sync_generated` copies them
into ``docs/tutorials/`` (and ``../benchmarks/RESULTS.md`` into
``docs/_generated/``) on every build; the copies are git-ignored
(``docs/.gitignore``). No symlinks: they break on Windows checkouts and in sdists.

Notebook execution: ``nb_execution_mode = "cache"`` runs each notebook once and
stores its outputs with jupyter-cache under ``docs/_build/.jupyter_cache``; a
rebuild re-runs only notebooks whose code changed. The test suite builds with
``-D nb_execution_mode=off`` (see ``tests/test_docs.py`` and ``docs/design.md``):
``tests/test_notebooks.py`` already executes every notebook, so CI runs each
cell once.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
TUTORIALS = DOCS / "tutorials"  # notebooks are copied here, next to tutorials/index.md
sys.path.insert(0, str(ROOT))  # autodoc imports the package from this checkout

import microgrboard  # noqa: E402

project = "microgrboard"
author = "microgrboard maintainers"
copyright = "microgrboard maintainers"
release = version = microgrboard.__version__

extensions = [
    "myst_nb",  # also enables myst_parser for .md pages
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "**.ipynb_checkpoints",
    "jupyter_execute",
    "_generated/benchmarks",  # included by benchmarks.md, not a page of its own
]
root_doc = "index"

# --- MyST ------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "substitution", "deflist"]
myst_heading_anchors = 3

# --- notebooks (MyST-NB) -----------------------------------------------------------------
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 180  # per cell; each whole notebook runs in well under a minute
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_in_temp = True  # notebook 3 writes a board log dir: keep it out of docs/
nb_merge_streams = True
# Rendered pages drop stderr: the Graphviz libraries bundled in the pygraphviz wheel print
# a harmless Fontconfig warning on some systems. tests/test_notebooks.py still fails on
# any cell that raises, so nothing that matters is hidden.
nb_output_stderr = "remove"
nb_kernel_rgx_aliases = {".*": "python3"}

# --- API reference (autodoc) -------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "undoc-members": False,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_mock_imports: list[str] = []
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# --- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"microgrboard {release}"
html_static_path = ["_static"]
# Math renders offline: MathJax is vendored from the npm package `mathjax` (see
# _static/mathjax/VENDORED.txt) instead of Sphinx's default CDN URL. A relative
# mathjax_path is resolved against the built site's _static directory.
mathjax_path = "mathjax/tex-chtml-full.js"


def _write_if_changed(data: bytes, target: Path) -> None:
    """Write only when the bytes differ, so an unchanged page is not rebuilt."""
    if target.exists() and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    os.replace(partial, target)  # atomic: a concurrent build never reads half a file


def _write_players(directory: Path) -> None:
    """The players embedded in player.md: HTML fragments, with fixed ids so that an
    unchanged graph gives unchanged bytes (and its page is not rebuilt)."""
    from microgrboard.examples import apple_orange
    from microgrboard.player import play

    for style in ("book", "record"):
        player = play(apple_orange().output, style=style)
        html = player.html(element_id=f"mgb-docs-apple-orange-{style}")
        _write_if_changed(html.encode("utf-8"), directory / f"apple_orange_{style}.html")


def _sync_generated() -> dict[str, str]:
    """Copy notebooks and benchmark results in; return MyST substitutions for the pages."""
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    wanted = {TUTORIALS / nb.name for nb in notebooks}
    for nb in notebooks:
        _write_if_changed(nb.read_bytes(), TUTORIALS / nb.name)
    for stale in TUTORIALS.glob("*.ipynb"):
        if stale not in wanted:  # a notebook deleted or renamed in ../notebooks
            stale.unlink()

    # benchmarks.md includes _generated/benchmarks/RESULTS.md: the real one (with the
    # figures next to it, at the same relative paths) or a placeholder.
    results = ROOT / "benchmarks" / "RESULTS.md"
    bench_dir = GENERATED / "benchmarks"
    if results.exists():
        _write_if_changed(results.read_bytes(), bench_dir / "RESULTS.md")
        for figure in (ROOT / "benchmarks").rglob("*"):
            if figure.suffix.lower() in {".png", ".svg", ".jpg", ".jpeg", ".gif"}:
                target = bench_dir / figure.relative_to(ROOT / "benchmarks")
                _write_if_changed(figure.read_bytes(), target)
    else:
        placeholder = ("# Benchmarks\n\n*`benchmarks/RESULTS.md` has not been written yet: "
                       "run the scripts in `benchmarks/` to produce it.*\n")
        _write_if_changed(placeholder.encode(), bench_dir / "RESULTS.md")

    _write_players(GENERATED / "players")

    screenshot = DOCS / "images" / "board.png"
    return {
        "board_screenshot": (
            "![The board: runs, loss curves, the graph and the decision boundary]"
            "(/images/board.png)"
            if screenshot.exists()
            else "*(The screenshot `docs/images/board.png` has not been generated yet.)*"
        ),
    }


myst_substitutions = _sync_generated()
