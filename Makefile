# gradviz: `make demo` renders the samples, `make test` runs the suite.
# Both install first (a virtual environment in .venv) when anything changed.

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= out
SAMPLES := $(wildcard samples/*.py)
PYTEST_ARGS ?=

.PHONY: install demo test lint bench docs clean graphviz browser

install: $(STAMP)

# torch goes in first, from TORCH_SPEC: a bare "torch" requirement would pull a
# multi-GB CUDA build, while a range that the installed torch satisfies adds nothing.
$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@$(MAKE) --no-print-directory graphviz
	@touch $(STAMP)

# Graphviz's dot comes from the system; install it when missing and apt-get is usable.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Graphviz (dot) with apt-get"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
			|| echo "warning: apt-get could not install graphviz; SVG/PNG/PDF output will not work"; \
	else \
		echo "warning: Graphviz's 'dot' is missing: install it (apt-get install graphviz," \
			"brew install graphviz, conda install graphviz) for SVG/PNG/PDF output"; \
	fi

# The HTML page is tested in Debian's headless Chromium, driven by its chromedriver.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver with apt-get (for the browser tests)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null) \
			|| echo "warning: could not install chromium; the browser tests will be skipped"; \
	else \
		echo "warning: chromium/chromedriver missing; the browser tests will be skipped"; \
	fi

demo: $(STAMP)
	@mkdir -p $(OUT)
	@for s in $(SAMPLES); do \
		name=$$(basename $$s .py); \
		$(VENV)/bin/gradviz run $$s -o $(OUT)/$$name.svg >/dev/null || exit 1; \
		$(VENV)/bin/gradviz run $$s -o $(OUT)/$$name.json >/dev/null 2>&1 || exit 1; \
	done
	@echo "rendered $(words $(SAMPLES)) samples into $(OUT)/"

test: $(STAMP) browser
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check gradviz tests bench docs
	$(VENV)/bin/ruff format --check gradviz tests bench docs
	$(VENV)/bin/mypy

bench: $(STAMP)
	@$(PY) -m pip install --quiet --disable-pip-version-check torchviz  # bench-only comparison
	$(PY) bench/run.py

# The pictures in the README and docs/, regenerated from the samples.
docs: $(STAMP)
	$(VENV)/bin/gradviz run samples/autograd_basics.py -o docs/images/autograd_basics.svg >/dev/null
	$(VENV)/bin/gradviz run samples/autograd_basics.py -o docs/images/autograd_basics.png >/dev/null
	$(VENV)/bin/gradviz run samples/mlp_step.py -o docs/images/mlp_step.svg >/dev/null
	$(VENV)/bin/gradviz run samples/log_of_zero.py --color-by grad -o docs/images/log_of_zero_grad.png >/dev/null
	$(VENV)/bin/gradviz run bench/workloads/rnn.py -o docs/images/rnn_5000_folded.svg -- 5000 >/dev/null
	$(VENV)/bin/gradviz run bench/workloads/transformer.py --module-depth 2 -o docs/images/transformer_depth2.svg >/dev/null
	$(PY) docs/make_gallery.py docs

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
