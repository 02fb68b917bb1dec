VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install install-tools test run bench soak lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

# Lock tools the --fix tests check written files with, kept apart from vulnsweep's
# own environment (Poetry brings keyring and its backends); those tests skip without.
TOOLS := .venv-tools
install-tools: install
	test -x $(TOOLS)/bin/pipenv || ($(VENV)/bin/uv venv -q $(TOOLS) && \
		$(VENV)/bin/uv pip install -q --python $(TOOLS)/bin/python 'poetry==2.5.*' \
		'pdm[locked]==2.29.*' 'pipenv==2026.*')

test: install
	$(PY) -m pytest -q

# The main job on any machine: the live OSV API, or (unreachable) the vendored snapshot
# through the offline database, under a banner; exit 0 when the audit completed.
run: install
	@bash examples/demo.sh $(VENV)/bin/vulnsweep

bench: install
	$(PY) -m pip install -q -e '.[test,dev,bench]'
	$(PY) -m benchmarks.run $(BENCH_ARGS)
	$(PY) -m benchmarks.run --tls --skip pip-audit --skip tree $(BENCH_ARGS)
	$(PY) -m benchmarks.resolve
	$(PY) -m benchmarks.resolution
	$(PY) -m benchmarks.soak
	$(PY) -m benchmarks.scale
	$(PY) -m benchmarks.memory
	$(PY) -m benchmarks.recheck
	$(PY) -m benchmarks.html
	$(PY) -m benchmarks.http2

soak: install
	$(PY) -m pytest -q -m soak

lint: install
	$(VENV)/bin/ruff check src tests benchmarks action
	$(VENV)/bin/ruff format --check src tests benchmarks action
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint Dockerfile

clean:
	rm -rf $(VENV) $(TOOLS) .demo-cache build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
