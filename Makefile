# NormScope's two commands: `make run` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# what running needs (the dependencies), and what testing adds (the test and dev extras);
# each stamp names pyproject.toml's checksum, so an edit to it installs again
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)

.PHONY: run test wheel bench samples clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# after `make test` the extras' install holds everything running needs: nothing to install
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	test -f $(TEST_STAMP) || $(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-run-*
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-test-* $(VENV)/.installed-run-*
	touch $@ $(RUN_STAMP)

# numba compiles core's kernels once, into core/__pycache__, and again when core changes
# (the tests' and benchmarks' timeouts assume it; the window compiles in the background)
KERNELS := $(VENV)/.kernels-ready
$(KERNELS): $(TEST_STAMP) $(wildcard core/*.py)
	$(BIN)/python -m normscope.core.warmup
	touch $@

## run: set up what running needs, then open the inspector on the bundled digit batch
## (ARGS=path to open a file); the window opens at once and compiles its kernels meanwhile
run: $(RUN_STAMP)
	$(BIN)/normscope $(ARGS)

## test: set up, then ruff, the layer contracts, mypy --strict on core, the wheel and the whole
## test suite, headless
test: $(KERNELS) wheel
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	mkdir -p $(VENV)/mypy-path && ln -sfn $(CURDIR) $(VENV)/mypy-path/normscope
	MYPYPATH=$(VENV)/mypy-path $(BIN)/mypy --strict -p normscope.core
	NORMSCOPE_BLOCK_QT=1 $(BIN)/python -m pytest -p no:pytest-qt \
		-W "ignore:Unknown config option:pytest.PytestConfigWarning" tests/core
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest --ignore=tests/core

## wheel: build the wheel, check it holds one top-level package, install it in a throwaway
## venv and run it from outside the repository
wheel: $(TEST_STAMP)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "building and installing the wheel in $$tmp"; \
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir "$$tmp" . ; \
	$(BIN)/check-wheel-contents "$$tmp"/normscope-*.whl; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet "$$tmp"/normscope-*.whl; \
	cd "$$tmp" && ./venv/bin/normscope report sample:digits --json > report.json; \
	./venv/bin/python -c "import json, sys; r = json.load(open('report.json')); \
	sys.exit(r['input']['shape'] != [64, 28, 28])"; \
	echo "the installed wheel runs: normscope report sample:digits --json"

## bench: the speed benchmarks (ratios against baselines measured in the same run)
bench: $(KERNELS)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench

## samples: rewrite resources/ from tools/make_samples.py
samples: $(RUN_STAMP)
	$(BIN)/python tools/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
