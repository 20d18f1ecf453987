# Every target installs what it needs into .venv (made with the system python3).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Qt (the interop peer) runs headless.
export QT_QPA_PLATFORM := offscreen

.PHONY: demo test test-plain test-monkey lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

# The suite runs twice: plainly, then under gevent's monkey patching, which is
# process-wide and so gets a process of its own.
test: test-plain test-monkey

test-plain: $(STAMP)
	$(PY) -m pytest

test-monkey: $(STAMP)
	QLSOCK_TEST_MONKEY=1 $(PY) -m gevent.monkey --module pytest

lint: $(STAMP)
	$(PY) -m ruff check qlsock tests examples
	$(PY) -m mypy

clean:
	rm -rf $(VENV) build dist *.egg-info
