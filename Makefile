# NormScope's two commands: `make run` and `make test`. Each sets up .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test wheel bench samples clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# numba compiles core's kernels once, into core/__pycache__, and again when core changes
KERNELS := $(VENV)/.kernels-ready
$(KERNELS): $(STAMP) $(wildcard core/*.py)
	$(BIN)/python -m normscope.core.warmup
	touch $@

## run: set up, then open the inspector on the bundled digit batch (ARGS=path to open a file)
run: $(KERNELS)
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
wheel: $(STAMP)
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
samples: $(STAMP)
	$(BIN)/python tools/make_samples.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
