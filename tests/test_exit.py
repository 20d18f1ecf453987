"""A server ended by Ctrl-C: no traceback, no socket file left, and it starts again.

The README's own quick-start servers, copied out of README.md as they are printed,
run in a child process that gets SIGINT (with its default action, as from a
terminal); then the same program runs again on the same name.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(marker: str) -> str:
    """The first python block of README.md that contains *marker*."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S):
        if marker in block:
            return block
    raise AssertionError(f"README.md has no python block with {marker!r}")


def run_until_interrupted(program: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("QLSOCK_TEST_MONKEY", None)
    proc = subprocess.Popen([sys.executable, str(program)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the server never listened"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(("marker", "name"), [
    ("gevent.wait()", "echo"),
    ("serve_forever", "shout"),
])
def test_a_readme_server_ended_by_ctrl_c_starts_again(tmp_path: Path, tmpdir_env: str,
                                                      marker: str, name: str) -> None:
    program = tmp_path / "server.py"
    program.write_text(readme_block(marker))
    path = os.path.join(tmpdir_env, name)
    for _ in range(2):
        done = run_until_interrupted(program, path)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert not os.path.exists(path), "the socket file was left behind"
