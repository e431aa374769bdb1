# Two commands do everything on a fresh machine; each sets up what it needs.
#   make train   the reference training run (downloads MNIST unless GLASSNET_DATA points at it)
#   make test    the whole test suite, PyTorch comparisons and slow MNIST tests included
#   make quick   the quick part of the suite (-m "not slow"): no real processes, browsers, databases or MNIST
#   make pages   run the docs notebooks and write their output into their pages (needs GLASSNET_DATA)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/reference
# Use the MNIST copy beside the checkout when there is one (../shared/data/mnist); else download.
export GLASSNET_DATA ?= $(wildcard $(abspath ../shared/data/mnist))

.PHONY: train test quick pages install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev,ref,docs,sklearn,onnx,sweep,mlflow]'
	touch $@

install: $(BIN)/.installed

train: $(BIN)/.installed
	@if [ -f $(RUN)/model.npz ]; then \
		$(BIN)/glassnet train --resume $(RUN); \
	else \
		$(BIN)/glassnet train --preset seed --out $(RUN); \
	fi

test: $(BIN)/.installed
	$(BIN)/python -m pytest

quick: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow"

pages: $(BIN)/.installed
	$(BIN)/python docs/notebook_pages.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis
