# Two commands set everything up on a fresh machine:
#   make        create .venv, install, build every output into build/
#   make test   install what the tests need (Python and Debian packages) and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build site anki epub pdf test validate stats check-examples serve clean bench system-deps

all: build

$(BIN)/mlprep: pyproject.toml
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[examples]'
	touch $@

build: $(BIN)/mlprep
	$(BIN)/mlprep build

site anki epub pdf: $(BIN)/mlprep
	$(BIN)/mlprep build $@

validate stats check-examples: $(BIN)/mlprep
	$(BIN)/mlprep $@

serve: $(BIN)/mlprep
	$(BIN)/mlprep serve

$(VENV)/.dev: $(BIN)/mlprep
	$(BIN)/python -m pip install -q -e '.[dev,examples]'
	touch $@

# Debian packages the tests drive for real: Chromium (site tests), poppler-utils (PDF pages to PNG),
# a Java runtime (epubcheck). Installed only when missing.
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! command -v pdftoppm >/dev/null || ! command -v java >/dev/null; then \
	  echo "installing Debian packages: chromium poppler-utils default-jre-headless"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
	    chromium poppler-utils default-jre-headless >/dev/null; \
	fi

test: $(VENV)/.dev system-deps
	$(BIN)/python -m pytest -q

bench: $(VENV)/.dev
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf build
