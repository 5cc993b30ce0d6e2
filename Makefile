# The README's two commands: `make demo` (set up, then serve the app) and `make test` (set up, then the suite).
# Everything is installed into .venv; torch comes from the pinned wheels (torch==2.14.1 torchvision==0.29.1).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint space-readme clean

$(STAMP): requirements.txt requirements-dev.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	# Packages installed without their dependencies: see requirements-nodeps.txt.
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) app.py

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV)
