# whisper_exp — `make help` lists the targets. Everything runs inside .venv (created on demand).
# torch is installed FIRST and pinned to the CPU wheel version, so that pip does not pull a
# multi-GB CUDA build; on a GPU machine set TORCH_SPEC (e.g. TORCH_SPEC="torch==2.13.0" with
# the CUDA index of your choice via PIP_EXTRA_INDEX_URL).

PYTHON      ?= python3
VENV        ?= .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip
TORCH_SPEC  ?= torch==2.13.0
EXTRAS      ?= dev,base-model,peft,sweep,deploy
STAMP       := $(VENV)/.installed
PYTEST_ARGS ?=
RUN_ARGS    ?=
BENCH_ARGS  ?=

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-fast lint format bench clean-outputs

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH_SPEC)"
	$(PIP) install --quiet -e ".[$(EXTRAS)]"
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv: torch first (CPU wheel), then whisper_exp with its extras

demo: $(STAMP) ## Adapt bundled tiny.en to the embedded demo corpus (offline; minutes on 2 CPU cores, README "Demo")
	$(PY) -m whisper_exp experiment=demo $(RUN_ARGS)

test: $(STAMP) ## Run the whole test suite (what CI runs)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Tests without the slow (bundled-model, multi-step) ones
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP) ## Throughput: whisper_exp vs transformers' Seq2SeqTrainer (train full/frozen, eval); ~25 min
	$(PY) experiments/throughput/bench.py $(BENCH_ARGS)

lint: $(STAMP) ## ruff check
	$(VENV)/bin/ruff check whisper_exp tests experiments tools

format: $(STAMP) ## ruff format + import sorting
	$(VENV)/bin/ruff check --fix whisper_exp tests experiments tools
	$(VENV)/bin/ruff format whisper_exp tests experiments tools

clean-outputs: ## Delete outputs/ and multirun/ contents (keeps multirun/.gitkeep)
	rm -rf outputs && find multirun -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
