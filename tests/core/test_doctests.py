"""Every example in core's docstrings, and the Python API's (the package's ``__init__``, as
Qt-free as core), runs and prints what it says.

The modules are imported by their package names (``normscope.core.normalize``), the same copy
the rest of the tests use: pytest's ``--doctest-modules`` would import a second copy named after
the checkout's folder, because the repository root is the ``normscope`` package.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import normscope.core

MODULES = sorted(m.name for m in pkgutil.iter_modules(normscope.core.__path__, "normscope.core."))
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


@pytest.mark.parametrize("name", ["normscope", "normscope.core", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out: list[str] = []
    for test in finder.find(module, name):
        runner.run(test, out=out.append)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, "".join(out)
