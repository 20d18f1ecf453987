"""The code on the guide pages runs as printed.

docs/gevent.md's block is a whole program. docs/getting-started.md's server block runs
in a child process while its two client blocks, each on its own, talk to it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def blocks(page: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (DOCS / page).read_text(), re.S | re.M)


def env() -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("QLSOCK_TEST_MONKEY", None)
    return environment


def run(code: str, tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    program = tmp_path / name
    program.write_text(code)
    return subprocess.run([sys.executable, str(program)], capture_output=True, text=True,
                          timeout=60, env=env(), check=False)


def test_the_gevent_page_runs(tmp_path: Path, tmpdir_env: str) -> None:
    [program] = blocks("gevent.md")
    done = run(program, tmp_path, "gevent_page.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'HELLO\\n'\n"


def test_getting_started_clients_talk_to_its_server(tmp_path: Path, tmpdir_env: str) -> None:
    server_code, client, many = blocks("getting-started.md")[:3]
    program = tmp_path / "server.py"
    program.write_text(server_code)
    server = subprocess.Popen([sys.executable, str(program)], env=env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(os.path.join(tmpdir_env, "echo")):
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        one = run(client, tmp_path, "client.py")
        assert one.returncode == 0, one.stderr
        assert one.stdout == "b'hello\\n'\n"
        ten = run(many, tmp_path, "many.py")
        assert ten.returncode == 0, ten.stderr
        assert ten.stdout.count("b'question") == 10
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=20)


def test_the_readme_renders_on_a_package_index() -> None:
    """No relative link or image: a package index shows README.md without the files
    beside it (paths are named in code font instead)."""
    readme = (DOCS.parent / "README.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme)
    assert targets, "the README has no links at all?"
    assert [t for t in targets if not t.startswith(("https://", "http://", "#"))] == []


def test_the_readme_says_how_to_install_before_how_to_work_on_a_checkout() -> None:
    """A user reads ``pip install qlsock`` first; the make commands are for a checkout."""
    readme = (DOCS.parent / "README.md").read_text()
    commands = re.findall(r"^```sh\n(.*?)^```", readme, re.S | re.M)
    assert commands[0] == "pip install qlsock\n"
    assert readme.index("pip install qlsock") < readme.index("make demo")


def test_the_readme_gevent_example_runs(tmp_path: Path, tmpdir_env: str) -> None:
    [program] = [b for b in re.findall(r"```python\n(.*?)```",
                                       (DOCS.parent / "README.md").read_text(), re.S)
                 if "recv_exactly" in b]
    done = run(program, tmp_path, "readme_gevent.py")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'HELLO'\n"
