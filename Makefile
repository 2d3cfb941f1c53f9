# The two commands: `make demo` and `make test`. Both create .venv when it is missing.
#
#   make demo    install, run the whole DAG on the embedded synthetic dataset, print the results
#   make test    install, then ruff, snakefmt, snakemake --lint, a dry run, Debian's chromium
#                (installed when missing, as root: the viewer tests run in it) and pytest
#   make rehearsal  the paper recipe (config/paper.yaml) at the paper's shapes on a few short
#                synthetic games, a few steps a stage on a CPU (config/rehearsal.yaml), in
#                rehearsal/ (benchmarks/README.md, "Rehearsal")
#
# TORCH_SPEC selects the torch build (the CPU wheel by default; on a CUDA machine prefer
# environment.yml or `make TORCH_SPEC=torch ...`).

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
PYTEST_ARGS ?=

BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
STAMP := $(VENV)/.installed

REHEARSAL := --configfile config/paper.yaml config/rehearsal.yaml --directory rehearsal

.PHONY: demo test install lint dry-run browser clean-results rehearsal

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/python -m comedian.report results

rehearsal: $(STAMP)
	mkdir -p rehearsal
	$(BIN)/snakemake $(REHEARSAL) --cores $(CORES)
	$(BIN)/python -m comedian.report rehearsal/results

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

dry-run: $(STAMP)
	$(BIN)/snakemake -n --quiet rules
	$(BIN)/snakemake --profile profiles/slurm -n --quiet rules

# The viewer tests drive Debian's Chromium headless: installed here when missing (as root).
CHROMIUM ?= /usr/bin/chromium
export COMEDIAN_CHROMIUM := $(CHROMIUM)
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "make browser: $(CHROMIUM) is missing; install Debian's chromium (apt-get install chromium, as root)" >&2; exit 1; \
	  fi; }

test: lint dry-run browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-results:
	rm -rf results logs benchmarks/*/ .snakemake
