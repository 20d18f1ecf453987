"""The physical limit: ``bench.c`` beside this file, compiled at run time with ``cc``.

``python -m benchmarks.impls.c_native ROLE WORKLOAD ...`` compiles the program if
needed (once per source and compiler; the driver builds it before the first trial)
and replaces itself with it, so the C program is what gets timed and measured.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).with_name("bench.c")
BUILD_DIR = Path(__file__).resolve().parents[1] / "results" / ".build"
CFLAGS = ["-O2", "-Wall", "-Wextra"]


def compiler() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise RuntimeError(f"no C compiler: {cc!r} is not on PATH (set CC)")
    return cc


def compiler_version(cc: str) -> str:
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else cc


def build() -> Path:
    """The compiled program, built now if the source or the compiler changed."""
    cc = compiler()
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + compiler_version(cc).encode() + " ".join(CFLAGS).encode())
    binary = BUILD_DIR / f"bench-{key.hexdigest()[:16]}"
    if binary.exists():
        return binary
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    tmp = binary.with_suffix(f".tmp{os.getpid()}")
    result = subprocess.run([cc, *CFLAGS, "-o", str(tmp), str(SOURCE)],
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"{cc} failed on {SOURCE}:\n{result.stderr}")
    os.replace(tmp, binary)  # atomic: a concurrent build of the same key is harmless
    return binary


if __name__ == "__main__":
    program = build()
    os.execv(program, [str(program), *sys.argv[1:]])
