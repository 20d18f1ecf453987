"""A server ended by Ctrl-C: no traceback, no socket file left, and it starts again.

The README's own quick-start servers, copied out of README.md as they are printed,
run in a child process that gets SIGINT (with its default action, as from a
terminal); then the same program runs again on the same name. The ``qlsock``
command's ``listen`` and ``connect`` end quietly with status 130.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_block(marker: str) -> str:
    """The first python block of README.md that contains *marker*."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.S):
        if marker in block:
            return block
    raise AssertionError(f"README.md has no python block with {marker!r}")


def start(args: list[str], **kwargs: Any) -> subprocess.Popen[str]:
    """A child process with SIGINT's default action, as from a terminal."""
    env = {**os.environ}
    env.pop("QLSOCK_TEST_MONKEY", None)
    return subprocess.Popen([sys.executable, *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            **kwargs)


def run_until_interrupted(program: Path, path: str) -> subprocess.CompletedProcess[str]:
    proc = start([str(program)])
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


def interrupted(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Send *proc* SIGINT; its exit status and stderr."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err


def test_the_cli_ended_by_ctrl_c_exits_130_and_prints_nothing_more(tmpdir_env: str) -> None:
    """`qlsock listen` and `qlsock connect` on Ctrl-C: status 130, no traceback, and no
    "KeyboardInterrupt" line from gevent's hub (where Python would raise it)."""
    path = os.path.join(tmpdir_env, "ctrlc")
    server = start(["-m", "qlsock", "listen", "ctrlc", "--echo"])
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(path):
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.02)
        client = start(["-m", "qlsock", "connect", "ctrlc"], stdin=subprocess.PIPE)
        try:
            assert client.stdin is not None
            assert client.stdout is not None
            client.stdin.write("hello\n")
            client.stdin.flush()
            assert client.stdout.readline() == "hello\n"  # connected and echoed
            assert interrupted(client) == (130, "")
        finally:
            client.kill()
        assert interrupted(server) == (130, f"qlsock: listening on {path}\n")
    finally:
        server.kill()
    assert not os.path.exists(path), "the socket file was left behind"
