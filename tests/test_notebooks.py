"""The teaching notebooks: each runs top to bottom without error, and is stored stripped.

Every notebook in ``notebooks/`` is executed with nbclient in a fresh kernel of this
virtualenv's Python (``python3`` from ipykernel; the first injected cell asserts the
kernel really is this venv), in a temporary working directory, so whatever a notebook
writes (the board's ``runs/``) stays out of the repository. A cell that raises fails
the test with the cell and its traceback.

Notebooks are kept in git without outputs (``nbstripout notebooks/*.ipynb``): the
second test fails if one was saved with outputs, so diffs stay reviewable.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds per cell: a safety net, each notebook takes well under a minute
# The promise (docs/getting-started.md) is under a minute per notebook; measured alone they
# take 1-10 s, kernel start included. The machine is shared (2 cores, other test runs), so
# the test allows 90 s: it catches a notebook that has grown several times slower without
# failing on a busy moment. Tighten it to 60 s on a dedicated machine.
NOTEBOOK_BUDGET = 90.0  # seconds of wall time per notebook, kernel start included

pytestmark = pytest.mark.notebooks


def test_the_six_tutorials_are_there() -> None:
    names = [path.stem for path in NOTEBOOKS]
    assert len(names) >= 6, names
    assert [name[:2] for name in names[:6]] == ["01", "02", "03", "04", "05", "06"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
    with_outputs = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not with_outputs, (
        f"{path.name}: cells {with_outputs} have outputs or execution counts; "
        f"run `.venv/bin/nbstripout notebooks/*.ipynb` before committing"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    assert code_cells > 0, f"{path.name} has no code to run"
    # jupyter_client starts a kernelspec whose argv[0] is "python" with sys.executable;
    # this cell proves the kernel is this venv (not some other "python3" kernel).
    guard = nbformat.v4.new_code_cell(
        f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.prefix"
    )
    notebook.cells.insert(0, guard)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails
    seconds = time.perf_counter() - start
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not errors, errors
    ran = [cell.execution_count for cell in notebook.cells if cell.cell_type == "code"]
    assert all(count is not None for count in ran), "some code cells did not run"
    assert seconds < NOTEBOOK_BUDGET, (
        f"{path.name} took {seconds:.0f} s, over its {NOTEBOOK_BUDGET:.0f} s budget"
    )
