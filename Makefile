# One-command set-up: `make demo` and `make test` install everything into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Exact pins live here only (pyproject declares ranges). These wheels lie on the dev/CI disk;
# pinning them keeps pip from pulling a multi-GB build from the registry.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
DEMO_OUT := demo_out

.PHONY: install demo test test-all bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev,cluster]' $(TORCH_PINS)
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flowpipe synth $(DEMO_OUT)/synth --videos-per-class 1 --frames 8 --size 160x120 --seed 0
	$(VENV)/bin/flowpipe flow $(DEMO_OUT)/synth/frames/demo_0.png $(DEMO_OUT)/synth/frames/demo_1.png \
		-o $(DEMO_OUT)/demo.flo --png
	$(VENV)/bin/flowpipe bench tvl1 --quick

test: $(STAMP)
	$(VENV)/bin/pytest -q -m "not slow"

test-all: $(STAMP)
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	$(VENV)/bin/flowpipe bench tvl1

lint: $(STAMP)
	$(VENV)/bin/ruff check flowpipe tests benchmarks

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
