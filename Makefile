# U-Net, layer by layer. Two commands do all set-up on a fresh clone:
#   make lab    install (first time only) and open the course in JupyterLab
#   make test   install (first time only) and run every test: ruff, unit tests, nbval over all notebooks and
#               their generated solutions, and the browser tests (these skip, saying why, where Chromium is missing)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned here, and installed before everything else, so that pip never pulls a
# multi-GB build by accident. CPU-only Linux users may add TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_VERSION ?= 2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: lab voila test solutions benchmark checkpoint install clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

# (--allow-root only where make runs as root, e.g. in a container; Jupyter refuses root otherwise)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/00_start_here.ipynb

voila: install
	$(BIN)/voila notebooks/explorer.ipynb

# the instructors' notebooks, every exercise filled in (generated, ignored by git; `make test` runs them too)
solutions: install
	$(BIN)/python scripts/make_solutions.py

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/make_solutions.py
	$(BIN)/python -m pytest -n 2 --dist loadscope $(PYTEST_ARGS)

benchmark: install
	$(BIN)/python benchmarks/run_benchmarks.py

clean:
	rm -rf $(VENV) test-artifacts solutions
