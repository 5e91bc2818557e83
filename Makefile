# Two entry points of the quick start: `make verify` (claims report) and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# The CPU build of torch that these machines carry offline; a plain `torch`
# requirement would otherwise pull a multi-GB CUDA build.
TORCH   ?= torch==2.13.0
OUT     ?= results
JOBS    ?= 2

.PHONY: venv verify verify-full test test-all coverage docs bench mutation clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)" || $(BIN)/pip install -q torch
	$(BIN)/pip install -q -e ".[test,docs,pep]"
	touch $(STAMP)

venv: $(STAMP)

verify: $(STAMP)
	$(BIN)/eftheory verify --tier quick --jobs $(JOBS) --out $(OUT)

verify-full: $(STAMP)
	$(BIN)/eftheory verify --tier full --jobs $(JOBS) --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q -p no:cacheprovider --hypothesis-profile=ci

# -m "" lifts the fast-tier selection that pyproject's addopts gives a plain `pytest`
test-all: $(STAMP)
	$(BIN)/python -m pytest -m "" -q --hypothesis-profile=thorough

coverage: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q --hypothesis-profile=ci --cov --cov-report=term

docs: $(STAMP)
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python -m benchmarks.engine

# code mutation score (mutmut over algorithms/ and the compressors, fast test tier); not part of CI.
# `make mutation SAMPLE=600` judges a seeded uniform sample of the mutants (an exact 95 % interval)
SAMPLE  ?=
mutation: $(STAMP)
	$(BIN)/pip install -q -e ".[mutation]"
	$(BIN)/python -m checks.code_mutation --out $(OUT) --docs docs/mutation_survivors.md \
		$(if $(SAMPLE),--sample $(SAMPLE) --max-children $(JOBS))

clean:
	rm -rf $(VENV) docs/_build docs/_generated .pytest_cache .hypothesis mutants
