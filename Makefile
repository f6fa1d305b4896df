# Two commands matter (see README):
#   make run   set everything up, build the index if it is missing, serve http://127.0.0.1:7860
#   make test  set everything up and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps index run test lint check bench eval clean

setup: $(STAMP)

# torch is pinned to the CPU wheel first; an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Chromium and CJK fonts for the browser tests (Debian packages; needs root, as in CI).
system-deps:
	@bash scripts/system-deps.sh

index: setup
	@if [ ! -e "$${QA_INDEX_DIR:-index}/current" ]; then $(BIN)/qa index; fi

run: index
	$(BIN)/qa serve

test: setup system-deps
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check src tests bench app.py
	$(BIN)/ruff format --check src tests bench app.py
	$(BIN)/mypy

check: test lint

eval: index
	$(BIN)/qa eval

bench: index
	$(BIN)/python bench/build_bench.py

clean:
	rm -rf $(VENV) index/current index/versions index/previous index/embeddings
