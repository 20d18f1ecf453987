"""Real programs, vendored unmodified, and their ports made by rewriting imports only.

Each folder holds one program's IPC file(s) exactly as published, its LICENSE and a
SOURCE.txt (repository, commit, path, licence). :func:`load_program` loads such a file
with its Qt import prefixes replaced by another package's, from the source text, as a
module of another name; nothing else of the program changes. Loaded with ``"qlsock"``
it is the port (``from PySide6.QtNetwork import ...`` becomes ``from qlsock.QtNetwork
import ...``); loaded with ``"PySide6"`` it is the original, or, for a PyQt program, the
original as it runs on PySide6.

The driver scripts beside this file run the programs as child processes:
``run_ported.py`` runs a whole program's ``main()``; ``pdfapps_driver.py`` and
``voxvibe_driver.py`` play the parts of the applications around the vendored modules.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import re
import sys
from pathlib import Path
from types import CodeType, ModuleType

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent

#: The vendored programs and the examples, by the name the drivers take.
PROGRAMS = {
    "pdfapps": HERE / "pdfapps" / "app" / "single_instance.py",
    "voxvibe": HERE / "voxvibe" / "single_instance.py",
    "fortune_server": PROJECT_ROOT / "examples" / "pyside6_fortune_server.py",
    "fortune_client": PROJECT_ROOT / "examples" / "pyside6_fortune_client.py",
}

#: The Qt bindings whose import prefix the rewrite replaces.
QT_PACKAGES = ("PySide6", "PyQt6", "PyQt5", "qtpy")
#: What they may be replaced with.
TARGETS = ("qlsock", "PySide6")

# `from PySide6.QtNetwork import ...` / `import PyQt6.QtCore as ...`: the package at the
# start of an import statement's module path (only there; nothing else is touched).
_IMPORT = re.compile(rf"^(?P<head>[ \t]*(?:from|import)[ \t]+)(?:{'|'.join(QT_PACKAGES)})(?=\.)",
                     re.MULTILINE)


def rewrite_imports(source: str, target: str) -> str:
    """*source* with every Qt binding's import prefix replaced by *target*'s."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    return _IMPORT.sub(lambda m: m["head"] + target, source)


def changed_lines(original: str, ported: str) -> list[tuple[str, str]]:
    """The (original, ported) pairs of lines that differ; the rewrite keeps line counts."""
    before, after = original.splitlines(), ported.splitlines()
    assert len(before) == len(after), "the rewrite added or removed lines"
    return [(a, b) for a, b in zip(before, after, strict=True) if a != b]


class _RewrittenSource(importlib.abc.InspectLoader):
    """Loads one file's source with its imports rewritten (line numbers unchanged)."""

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.source = rewrite_imports(path.read_text(encoding="utf-8"), target)

    def get_source(self, fullname: str) -> str:
        return self.source

    def get_code(self, fullname: str) -> CodeType:
        # Compiled under the original's path: tracebacks show the original's lines,
        # which are the same lines.
        return compile(self.source, str(self.path), "exec", dont_inherit=True)


def load_program(program: str, target: str, name: str | None = None) -> ModuleType:
    """The program *program* (a key of :data:`PROGRAMS`) with its imports rewritten to
    *target*, as a new module called *name* (default ``<target>_<program>``)."""
    path = PROGRAMS[program]
    name = name or f"{target.lower()}_{program}"
    loader = _RewrittenSource(path, target)
    spec = importlib.util.spec_from_loader(name, loader, origin=str(path))
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
