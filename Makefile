# One venv for everything; `make install` is idempotent and quick once done.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lmplz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: the CPU build on disk, never the CUDA one from the registry
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# KenLM's lmplz/build_binary into tools/kenlm/bin: optional for users (our own estimator is used
# without them), built for the tests, which check our estimator against lmplz
lmplz: install
	bash scripts/install_kenlm.sh

test: install lmplz
	$(BIN)/python -m pytest -q -n auto --dist loadgroup tests

# The offline demo: synthetic speech, all three pipelines, a results table and an HTML report
demo: install
	bash recipes/demo/run.sh

clean:
	rm -rf $(VENV) tools/kenlm build *.egg-info
