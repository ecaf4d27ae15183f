# Two user-facing targets: `make run` (the whole stack, embedded services) and `make test`.
# Everything else is internal: the venv and node_modules are (re)built only when their inputs change.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := $(if $(wildcard package.json),node_modules/.installed)
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test faults lint deps node chromium ffmpeg

run: deps
	$(PY) -m devtools.run

test: deps chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The fault and load suite at the issue's scale (each case also runs, shorter, inside `make test`).
# Prints every case's figures and its bound, and writes them to .faults/figures.json.
faults: deps chromium
	FAULTS_FULL=1 $(PY) -m pytest tests/faults -o timeout=1800 $(PYTEST_ARGS)

# The guardrails CI enforces: lint and format (ruff), types (mypy, level in pyproject.toml) and
# the import contracts (import-linter: layers, no dev toolbox in the product, domain borders,
# no cycles).
lint: deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# gettext domains present in locale/ (messages, web, js): each .po -> .mo (not committed).
LOCALE_DOMAINS = $(sort $(basename $(notdir $(wildcard locale/*/LC_MESSAGES/*.po))))

deps: node ffmpeg $(PY_STAMP) $(NODE_STAMP)
	$(VENV)/bin/pybabel -q compile -d locale --domain "$(LOCALE_DOMAINS)"

# Re-run pip only when pyproject.toml changes (or the venv was deleted).
$(PY_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json $(wildcard package-lock.json)
	npm install --no-audit --no-fund
	touch $@

# socket.io-client (static/, the conformance test) is installed with npm: Debian's Node.js.
node:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs npm; }

# Browser tests drive Debian's chromium (no browser download at install time).
chromium:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# Formations' video is packaged into HLS by Debian's ffmpeg (and ffprobe reads its duration).
ffmpeg:
	@command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y ffmpeg; }
