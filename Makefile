# The README's two commands: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench bench-quality browser demo clean

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv is missing; installing it with apt-get"; \
	  $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

# Debian's Chromium for the browser tests; skipped (and the e2e tests skip themselves) when it cannot be installed.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium) >/dev/null 2>&1 \
	  && echo "installed Debian's chromium for the browser tests" \
	  || echo "chromium is not installed and could not be: the browser tests will be skipped"; }

run: $(VENV)/.installed
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.installed-dev browser
	$(BIN)/python -m pytest -q -p no:cacheprovider tests

bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks

# Quality at a time budget (about an hour): installs Debian's bible-kjv for its public-domain text.
bench-quality: $(VENV)/.installed
	@command -v bible >/dev/null 2>&1 || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q bible-kjv)
	$(BIN)/python -m benchmarks.quality

# Rebuild the demo model shipped in assets/demo from the team's sample text.
demo: $(VENV)/.installed
	$(BIN)/python assets/make_demo.py

clean:
	rm -rf $(VENV)
