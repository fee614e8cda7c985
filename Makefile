# One-command set-up: `make demo` and `make test` install everything into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Exact pins live here only (pyproject declares ranges). These wheels lie on the dev/CI disk;
# pinning them keeps pip from pulling a multi-GB build from the registry.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
# mmaction2 for the interop tests, without their declared deps (see pyproject's interop extra).
MMACTION_PINS := mmaction2==1.2.0 mmengine==0.10.7 mmcv-lite==2.1.0
DEMO_OUT := demo_out

.PHONY: install demo demo-train test test-all bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PINS)
	$(PY) -m pip install -q -e '.[dev,cluster,interop]' $(TORCH_PINS)
	$(PY) -m pip install -q --no-deps $(MMACTION_PINS)
	@# Headless Chromium for the HTML report's browser test (Debian's package); without apt
	@# (or root) the test skips and says why.
	command -v chromium >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || \
		echo "chromium not installed: tests/viz/test_report.py's browser tests will skip"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/flowpipe synth $(DEMO_OUT)/synth --videos-per-class 1 --frames 12 --size 160x120 --png
	$(VENV)/bin/flowpipe extract $(DEMO_OUT)/synth/videos -o $(DEMO_OUT)/flow --workers 1 --device cpu
	$(VENV)/bin/flowpipe info $(DEMO_OUT)/flow
	$(VENV)/bin/flowpipe viz report $(DEMO_OUT)/flow -o $(DEMO_OUT)/report.html
	$(VENV)/bin/flowpipe flow $(DEMO_OUT)/synth/frames/rotate_cw/rotate_cw_000/img_00001.png \
		$(DEMO_OUT)/synth/frames/rotate_cw/rotate_cw_000/img_00002.png -o $(DEMO_OUT)/rotate_cw.flo --png
	$(PY) -c "from flowpipe.io import read_flo, endpoint_error; \
		print('AEE vs ground truth: %.3f px' % endpoint_error(read_flo('$(DEMO_OUT)/rotate_cw.flo'), \
		read_flo('$(DEMO_OUT)/synth/flow/rotate_cw/rotate_cw_000/flow_00001.flo')))"

# synth -> extract --rgb -> train temporal, I3D, spatial -> eval -> fuse (CPU, ~7 min).
demo-train: $(STAMP)
	$(PY) -m flowpipe.train.demo $(DEMO_OUT)/train

test: $(STAMP)
	$(VENV)/bin/ruff check flowpipe tests benchmarks
	$(VENV)/bin/ruff format --check flowpipe tests benchmarks
	$(VENV)/bin/pytest -q -m "not slow"

test-all: $(STAMP)
	$(VENV)/bin/pytest -q

bench: $(STAMP)
	export FLOWPIPE_DATA=$${FLOWPIPE_DATA:-../shared/data}; \
	$(VENV)/bin/flowpipe bench tvl1 && \
	$(VENV)/bin/flowpipe bench extract && \
	$(VENV)/bin/flowpipe bench loader && \
	$(VENV)/bin/flowpipe bench train

lint: $(STAMP)
	$(VENV)/bin/ruff check flowpipe tests benchmarks
	$(VENV)/bin/ruff format --check flowpipe tests benchmarks

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
