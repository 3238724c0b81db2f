"""The documentation site builds with warnings as errors, and its examples are true.

The build runs Sphinx exactly as documented (``-W --keep-going -b html``) into a
temporary directory, except ``-D nb_execution_mode=off``: ``tests/test_notebooks.py``
already executes every notebook, so executing them again here would double the
suite's slowest part for no extra check (see docs/design.md, "The documentation
site"). Everything else -- autodoc of every public module, MyST pages, notebook
pages, cross-references -- is built, and any warning fails the test.
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES_WITH_EXAMPLES = ["getting-started.md", "concepts.md"]
PUBLIC_MODULES = [
    "core", "nn", "losses", "optim", "datasets", "training", "examples", "snapshot",
    "drawing", "player", "testing", "board_writer", "board_store", "board_server", "demo",
    "cli", "gradcheck", "board_panels",
]
# What would make a page fetch from the network: a script, stylesheet, font or other
# resource by absolute URL (links to other sites, <a href>, are fine).
REMOTE_RESOURCE = re.compile(
    r"""<(?:script|link|img|iframe|source|embed)\b[^>]*?\b(?:src|href)\s*=\s*["']?"""
    r"""((?:https?:)?//[^"'\s>]+)""", re.IGNORECASE)
REMOTE_CSS = re.compile(r"""(?:url\(|@import)\s*["']?((?:https?:)?//[^"')\s]+)""", re.IGNORECASE)

pytestmark = pytest.mark.docs


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    command = [
        sys.executable, "-m", "sphinx",
        "-W", "--keep-going", "-q",
        "-b", "html",
        "-D", "nb_execution_mode=off",
        "-d", str(out / "doctrees"),
        str(DOCS), str(out / "html"),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (
        f"sphinx-build -W failed (exit {result.returncode}):\n{result.stderr[-6000:]}\n"
        "Docstrings are reStructuredText (docs/design.md, Conventions): put plain-text "
        "math and code in ``double backticks`` (a bare |x| is a substitution, a bare * "
        "starts emphasis) and follow closing backticks with a space or punctuation."
    )
    return out / "html"


def test_site_builds_with_warnings_as_errors(built_site: Path) -> None:
    for page in ["index", "getting-started", "concepts", "player", "board", "benchmarks", "design",
                 "tutorials/index", "api/index"]:
        assert (built_site / f"{page}.html").is_file(), page


def test_the_site_fetches_nothing_from_the_network(built_site: Path) -> None:
    remote = []
    for page in built_site.rglob("*.html"):
        found = REMOTE_RESOURCE.findall(page.read_text(encoding="utf-8"))
        remote += [f"{page.relative_to(built_site)}: {url}" for url in found]
    for sheet in built_site.rglob("*.css"):
        found = REMOTE_CSS.findall(sheet.read_text(encoding="utf-8", errors="replace"))
        remote += [f"{sheet.relative_to(built_site)}: {url}" for url in found]
    assert remote == [], "pages would fetch from the network:\n" + "\n".join(remote)


def test_math_renders_with_the_vendored_mathjax(built_site: Path) -> None:
    page = (built_site / "player.html").read_text(encoding="utf-8")
    assert 'src="_static/mathjax/tex-chtml-full.js' in page
    assert (built_site / "_static" / "mathjax" / "tex-chtml-full.js").is_file()
    fonts = built_site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    assert "\\frac{\\partial" in page  # the formula is there for MathJax to render


def test_the_player_page_embeds_players(built_site: Path) -> None:
    page = (built_site / "player.html").read_text(encoding="utf-8")
    for style in ("book", "record"):
        element = f'id="mgb-docs-apple-orange-{style}"'
        assert element in page, style
    assert page.count("export function createPlayer") == 2
    assert page.count('class="mgb-payload"') == 2
    assert "∂price/∂apple = 1.1 × 2 = 2.2" in page  # the arithmetic is in the payload


def test_every_notebook_is_a_tutorial_page(built_site: Path) -> None:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    index = (built_site / "tutorials" / "index.html").read_text(encoding="utf-8")
    for notebook in notebooks:
        page = built_site / "tutorials" / f"{notebook.stem}.html"
        assert page.is_file(), f"{notebook.name} is not rendered"
        assert f"{notebook.stem}.html" in index, f"{notebook.name} is not in the tutorials index"


def test_api_reference_documents_every_public_module(built_site: Path) -> None:
    for module in PUBLIC_MODULES:
        page = (built_site / "api" / f"{module}.html").read_text(encoding="utf-8")
        dotted = "microgrboard." + module.replace("_", ".")
        assert f'id="module-{dotted}"' in page, f"{dotted} has no autodoc section"
    core = (built_site / "api" / "core.html").read_text(encoding="utf-8")
    assert 'id="microgrboard.core.Value.backward"' in core  # members, not just the module


def test_board_guide_shows_the_screenshot_when_there_is_one(built_site: Path) -> None:
    guide = (built_site / "board.html").read_text(encoding="utf-8")
    if (DOCS / "images" / "board.png").exists():
        assert "board.png" in guide
        assert (built_site / "_images" / "board.png").is_file()
    else:
        assert "has not been generated yet" in guide


def test_benchmarks_page_includes_the_results_when_there_are_some(built_site: Path) -> None:
    page = (built_site / "benchmarks.html").read_text(encoding="utf-8")
    results = ROOT / "benchmarks" / "RESULTS.md"
    if results.exists():
        lines = results.read_text(encoding="utf-8").splitlines()
        title = next(line.lstrip("# ").strip() for line in lines if line.startswith("#"))
        assert title.split(":")[0] in page, title
        # The figures table is rendered as a table, not lost or left as text.
        rows = [line for line in lines if line.startswith("|") and "---" not in line]
        if rows:
            assert "<table" in page
            first_cell = rows[1].strip("|").split("|")[0].strip()  # rows[0] is the header
            assert f"<td><p>{first_cell}</p></td>" in page or f"<td>{first_cell}</td>" in page, (
                first_cell
            )
    else:
        assert "has not been written yet" in page


def test_benchmarks_page_names_every_benchmark_script(built_site: Path) -> None:
    page = (built_site / "benchmarks.html").read_text(encoding="utf-8")
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        assert script.name in page, f"{script.name} is not mentioned on the benchmarks page"


def test_getting_started_gives_the_readme_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    guide = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    commands = [
        'python3 -m venv .venv && .venv/bin/pip install -e ".[demo,board]" '
        "&& .venv/bin/microgrboard demo",
        "bash scripts/test.sh",
    ]
    for command in commands:
        assert f"```bash\n{command}\n```" in readme, command  # still the README's
        assert f"```bash\n{command}\n```" in guide, command


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES)
def test_examples_in_the_pages_run(page: str) -> None:
    result = doctest.testfile(
        str(DOCS / page), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 0, f"{page} has no examples to run"
    assert result.failed == 0, f"{result.failed} example(s) in docs/{page} are wrong"
