"""The sdist is complete: its tests run from the unpacked tree.

It is built in-process with setuptools' PEP 517 backend (what ``pip`` and ``build``
call), unpacked, and the whole suite is collected there against the unpacked package;
then a smoke test runs. The docs, the examples, the changelog and the Makefile must be
in it too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sdist")
    # In a child process: setuptools changes the working directory and global state.
    done = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; os.chdir(sys.argv[1]); from setuptools import build_meta; "
         "print(build_meta.build_sdist(sys.argv[2]))", str(ROOT), str(out)],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    archive = out / done.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    [tree] = [p for p in out.iterdir() if p.is_dir()]
    return tree


def _pytest(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    env.pop("QLSOCK_TEST_MONKEY", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_sdist_carries_everything_the_suite_and_the_docs_need(unpacked: Path) -> None:
    for name in ("CHANGELOG.md", "LICENSE", "Makefile", "README.md", "pyproject.toml",
                 "tests/conftest.py", "tests/support.py", "tests/peers/qt_peer.py",
                 "docs/index.md", "docs/conf.py", "examples/demo.py", "qlsock/py.typed",
                 "benchmarks/run.py"):
        assert (unpacked / name).is_file(), name
    ours = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    theirs = sorted(p.name for p in (unpacked / "tests").glob("test_*.py"))
    assert theirs == ours
    assert not list(unpacked.rglob("__pycache__"))


def test_the_whole_suite_collects_and_a_smoke_test_passes_from_the_unpacked_tree(
        unpacked: Path) -> None:
    collected = _pytest(unpacked, "--collect-only", "-q")
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    found = re.search(r"(\d+) tests? collected", collected.stdout)
    assert found, collected.stdout[-500:]
    assert int(found.group(1)) > 900
    assert "error" not in collected.stdout.splitlines()[-1]
    smoke = _pytest(unpacked, "-q", "tests/test_smoke_echo.py",
                    "-W", "ignore::pytest.PytestUnraisableExceptionWarning")
    assert smoke.returncode == 0, smoke.stdout[-3000:] + smoke.stderr[-3000:]
    # The package under test was the unpacked one, not this checkout.
    where = subprocess.run([sys.executable, "-c", "import qlsock; print(qlsock.__file__)"],
                           cwd=unpacked, env={**os.environ, "PYTHONPATH": str(unpacked)},
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(unpacked))
