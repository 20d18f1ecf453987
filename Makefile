# Every target installs what it needs into .venv (made with the system python3).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Qt (the interop peer) runs headless.
export QT_QPA_PLATFORM := offscreen

.PHONY: demo test test-plain test-monkey docs docs-cli lint clean bench bench-quick bench-scaling bench-instructions soak

# The demo needs only the package (gevent, greenlet, zope.interface); the tests, the
# linters and the docs add their extras behind a stamp of their own.
DEMO_STAMP := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e .
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP) pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint,docs]'
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

# The suite runs twice, then the documentation is built (CI builds it this way): plainly, then under gevent's monkey patching, which is
# process-wide and so gets a process of its own. Each run takes about a minute;
# the outer limit only makes a run that somehow escapes pytest-timeout fail
# instead of stalling.
RUN_LIMIT := timeout --kill-after=10 600

test: test-plain test-monkey docs

test-plain: $(STAMP)
	$(RUN_LIMIT) $(PY) -m pytest

test-monkey: $(STAMP)
	QLSOCK_TEST_MONKEY=1 $(RUN_LIMIT) $(PY) -m gevent.monkey --module pytest

# Benchmarks (benchmarks/, docs/benchmarks.md): the `bench` extra (matplotlib, uvloop)
# and `test` (PySide6, one of the rows) go into the same .venv, behind a stamp of
# their own. BENCH_ARGS passes options to the driver, e.g. BENCH_ARGS='--reps 9'.
BENCH_STAMP := $(VENV)/.installed-bench
BENCH := $(PY) -m benchmarks.run

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH) $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BENCH) --quick $(BENCH_ARGS)

bench-scaling: $(BENCH_STAMP)
	$(BENCH) --scaling $(BENCH_ARGS)

# Instructions per operation under callgrind (benchmarks/instructions.py): what the
# Python layer costs, far steadier than rates on a shared machine. Needs valgrind.
bench-instructions: $(STAMP)
	$(PY) -m benchmarks.instructions $(BENCH_ARGS)

# The soak (benchmarks/soak.py, not part of `make test`): one server, mixed client
# processes that stream, abort and get killed, 10 minutes by default; it fails on
# growth or loss. SOAK_ARGS passes options, e.g. SOAK_ARGS='--minutes 2'.
soak: $(STAMP)
	$(PY) -m benchmarks.soak $(SOAK_ARGS)

# The documentation (Sphinx + MyST): warnings are errors, every reference must resolve.
docs: $(STAMP)
	$(PY) -m sphinx -q -W --keep-going -n -b html docs docs/_build/html

# docs/cli.md holds the commands' --help output (readable without Sphinx); the suite
# fails when it is out of date, and this rewrites it.
docs-cli: $(STAMP)
	$(PY) -m tests.gen_cli_doc

lint: $(STAMP)
	$(PY) -m ruff check qlsock tests examples
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build
