# medcode tasks. `make help` lists them.
# Debian's CPython 3.11 when it can make a venv: its interpreter has libpython linked in, where pyenv's
# (--enable-shared) calls it through a shared library, and the engine and server spend ~5% less CPU a note.
PY ?= $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null && echo /usr/bin/python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help setup index run example test bench bench-api bench-coding bench-recall bench-ray bench-remit bench-robust eval clean

help: ## list the tasks
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the pinned CPU build, so nothing pulls the CUDA one
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install medcode with its pinned dependencies

index: setup ## build the code-set index under data/ (minutes, once; rebuilt when inputs change)
	$(BIN)/medcode index build

run: index ## start the HTTP API on 127.0.0.1:8000 (index built first if needed; keys: medcode keys create)
	$(BIN)/medcode serve

example: index ## code the bundled example note and print the suggestions as JSON
	$(BIN)/medcode suggest examples/note.txt --top 15

test: setup ## run the test suite (small fixtures, real encoder and code sets)
	$(BIN)/pytest -q

eval: index ## MAP on CodiEsp dev (English), measured against the models fitted on train alone
	$(BIN)/medcode eval codiesp --split dev

bench: index ## throughput and memory of `medcode batch` on the 250 CodiEsp dev notes
	$(BIN)/python -m benchmarks.batch

bench-api: index ## POST /v1/suggest latency: 4 clients, 2,000 requests, ~260-word note; start-up to ready
	$(BIN)/python -m benchmarks.api

bench-coding: index ## the coding step on the guideline notes and the three benchmark sets: expected codes, excluded codes, principal, Excludes1, ms a note
	$(BIN)/python -m benchmarks.coding
	$(BIN)/python -m benchmarks.coding --notes benchmarks/notes/procedures
	$(BIN)/python -m benchmarks.coding --notes benchmarks/notes/us-mixed
	$(BIN)/python -m benchmarks.coding --notes benchmarks/notes/us-held-out

bench-recall: index ## candidate recall on CodiEsp dev, per channel and knowledge source
	$(BIN)/python -m benchmarks.recall

bench-ray: index ## `medcode batch --ray` with 1 and 2 workers against the local batch (CodiEsp background notes)
	$(BIN)/python -m benchmarks.ray_batch

bench-remit: setup ## import a generated 1,000-claim X12 835 into a fresh store
	$(BIN)/python -m benchmarks.remit

bench-robust: index ## kill -9 / --resume cycles of `medcode batch`, then schemathesis over the live API
	$(BIN)/python -m benchmarks.robustness batch
	$(BIN)/python -m benchmarks.robustness contract

clean: ## remove the built index and caches (not the venv)
	rm -rf data/index data/codesets
