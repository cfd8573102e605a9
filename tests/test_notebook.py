"""docs/tutorial.ipynb runs in a real Jupyter kernel and shows the comparison and its verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parents[1] / "docs" / "tutorial.ipynb"


def test_the_tutorial_notebook_runs_and_shows_the_comparison(tmp_path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 2  # the tutorial's call and the fixed one, shown inline
    pages = "".join(o["data"].get("text/html", "") for o in pictures)
    assert "data:image/png;base64," in pages
    text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "Ranks kept within: whole image ✗  row ✗  column ✓" in text
    assert "Ranks kept within: whole image ✓  row ✓  column ✓" in text
