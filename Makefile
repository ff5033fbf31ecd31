# The two commands of the README: `make demo` and `make test`.
# Both create the virtual environment from the project's own files when needed.
# `make lint` (ruff, configured in ruff.toml) is what .ci/run runs first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv lint test test-all demo clean-demo

venv: $(STAMP)

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: $(STAMP)
	$(PY) -m pytest -q tests

# The demo: generated Cityscapes-format data, training, ms+flip evaluation, pictures.
DEMO_CFG := configs/hrformer/ocrnet_hrformer-s_demo_cityscapes-like.py
DEMO_DATA := data/cityscapes_like
DEMO_DIR := work_dirs/demo
# bf16 autocast where the CPU computes bf16 natively (AVX512-BF16/AMX), float32
# elsewhere; the tools say which they used. `make demo DEMO_AMP=` for float32.
DEMO_AMP ?= --amp

demo: $(STAMP)
	$(PY) tools/dataset_converters/generate_cityscapes_like.py $(DEMO_DATA) \
		--train 200 --val 30 --height 128 --width 256 --seed 0 --exclude wall,fence
	$(PY) tools/dataset_converters/cityscapes.py $(DEMO_DATA) --nproc 2
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR) $(DEMO_AMP)
	$(PY) tools/test.py $(DEMO_CFG) $$(cat $(DEMO_DIR)/last_checkpoint) --tta \
		--work-dir $(DEMO_DIR)/test_tta --show-dir $(DEMO_DIR)/vis $(DEMO_AMP)
	@echo "pictures of predictions next to ground truth: $(DEMO_DIR)/vis"
