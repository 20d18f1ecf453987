"""Qt's rules for turning a server name into a socket address (Unix).

* A name starting with ``/`` is used as given, neither cleaned nor resolved.
* Any other name becomes ``cleanPath(tempPath()) + "/" + name``, where ``tempPath()``
  is ``$TMPDIR`` (read on every call, made absolute and cleaned, symlinks kept) or
  ``/tmp`` when it is unset or empty. Python's :func:`tempfile.gettempdir` is *not*
  used: it consults ``TEMP``/``TMP`` and other fallbacks a Qt peer does not.
* Abstract names (Linux) are never joined to the temp directory; the address is
  exactly ``b"\\0" + name`` with no padding, trailing NULs included.
* Names are encoded as UTF-8 and the limit is counted in bytes: Qt requires
  ``len(encoded) + 2 <= sizeof(sun_path)`` on Linux, so 106 bytes (103 on macOS).
"""

from __future__ import annotations

import functools
import os
import sys

__all__ = [
    "ABSTRACT_SUPPORTED",
    "MAX_NAME_BYTES",
    "NameProblem",
    "abstract_address",
    "clean_path",
    "coerce_name",
    "full_server_name",
    "names_from_address",
    "path_address",
    "resolve",
    "temp_path",
]

_SUN_PATH = 108 if sys.platform.startswith("linux") else 104
_EXTRA = 2 if sys.platform.startswith("linux") else 1

#: Whether the kernel has Linux's abstract socket namespace. Elsewhere Qt drops the
#: option on the client and treats it as WorldAccessOption on the server.
ABSTRACT_SUPPORTED = sys.platform.startswith("linux")

#: The longest encoded path or abstract name Qt accepts on this platform, in bytes.
MAX_NAME_BYTES = _SUN_PATH - _EXTRA


class NameProblem(ValueError):
    """A server name that cannot be turned into an address; ``str()`` says why."""


def coerce_name(name: object, what: str) -> str:
    """Return *name* as ``str``, accepting ``os.PathLike[str]``; TypeError otherwise."""
    if isinstance(name, str):
        return name
    if isinstance(name, os.PathLike):
        value = os.fspath(name)
        if isinstance(value, str):
            return value
    raise TypeError(
        f"{what}: the server name must be a str (or a str path-like), "
        f"not {type(name).__name__}"
    )


def clean_path(path: str) -> str:
    """``QDir::cleanPath``: fold ``//``, drop ``.``, resolve ``..``, no trailing ``/``.

    As in Qt, a ``..`` that would climb above the start is kept (``/../a`` stays).
    """
    if not path:
        return path
    absolute = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
            continue
        parts.append(part)
    joined = "/".join(parts)
    if absolute:
        return "/" + joined
    return joined or "."


def temp_path() -> str:
    """``QDir::tempPath()`` on Unix, read from the environment on every call."""
    tmp = os.environ.get("TMPDIR", "")
    if not tmp:
        return "/tmp"
    if not tmp.startswith("/"):
        tmp = os.getcwd() + "/" + tmp
    return clean_path(tmp)


def full_server_name(name: str) -> str:
    """The path Qt derives from a (non-abstract) server *name*."""
    if name.startswith("/"):
        return name
    return clean_path(temp_path()) + "/" + name


def _encode(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise NameProblem(
            f"the name {text!r} cannot be encoded as UTF-8 ({exc.reason} at "
            f"position {exc.start})"
        ) from None


def path_address(full_name: str) -> bytes:
    """The ``sun_path`` bytes for a filesystem socket, after Qt's checks."""
    if "\0" in full_name:
        raise NameProblem(
            f"the socket path {full_name!r} contains a NUL character, which a "
            "filesystem path cannot hold"
        )
    encoded = _encode(full_name)
    if len(encoded) > MAX_NAME_BYTES:
        raise NameProblem(
            f"the socket path is {len(encoded)} bytes long; a Unix socket address "
            f"holds at most {MAX_NAME_BYTES} bytes (use a shorter name, or an "
            "absolute path in a short directory)"
        )
    return encoded


def abstract_address(name: str) -> bytes:
    """The address of an abstract-namespace socket: ``b"\\0" + name``, unpadded."""
    encoded = _encode(name)
    if len(encoded) > MAX_NAME_BYTES:
        raise NameProblem(
            f"the abstract name is {len(encoded)} bytes long; at most "
            f"{MAX_NAME_BYTES} bytes fit in a Unix socket address"
        )
    return b"\0" + encoded


@functools.lru_cache(maxsize=64)
def names_from_address(address: bytes) -> tuple[str, str, bool | None]:
    """``(serverName, fullServerName, abstract)`` recovered from a socket address.

    Qt's ``parseSockaddr``: the address is decoded as UTF-8 (names stay empty if that
    fails or it is empty). A path has trailing NULs stripped; its server name is the
    last component. An abstract address gives the name without the leading NUL, for
    both names. *abstract* is None for an unnamed address (a socketpair).

    Cached: every connection a server accepts from an unbound client is named from
    the server's own address, and shares the name strings instead of decoding its
    own copies.
    """
    if not address:
        return "", "", None
    abstract = address[:1] == b"\0"
    raw = address[1:] if abstract else address.rstrip(b"\0")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "", "", abstract
    if not text:
        return "", "", abstract
    if abstract:
        return text, text, True
    return text.rsplit("/", 1)[-1] or text, text, False


def resolve(name: str, abstract: bool) -> tuple[str, bytes]:
    """``(fullServerName, socket address)`` for a server *name*; NameProblem if unusable."""
    if abstract:
        return name, abstract_address(name)
    full = full_server_name(name)
    return full, path_address(full)
