"""What every step of the superbuild uses: progress lines, the error type, child commands, locks, digests.

Standard library only (Python 3.9+).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shlex
import subprocess
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path


class SuperbuildError(RuntimeError):
    """A failure with a message meant for the person running the build."""


def log(message: str) -> None:
    """Print a progress line on stderr (stdout carries only the result)."""
    print(f"[itk_static] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    """Abort with a message for the person running the build."""
    raise SuperbuildError(message)


# Commands running now: several when variants are built side by side.
_running: set[subprocess.Popen[bytes]] = set()


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run a command with its output on stderr; raise SuperbuildError if it fails.

    If this thread is interrupted (Ctrl-C, or SIGTERM turned into SystemExit), the
    command gets SIGTERM and is waited for: ninja then stops its compilers itself.
    """
    log("$ " + shlex.join(cmd))
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sys.stderr)
    except FileNotFoundError:
        fail(f"{cmd[0]!r} not found on PATH")
    _running.add(proc)
    try:
        returncode = proc.wait()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    finally:
        _running.discard(proc)
    if returncode != 0:
        fail(f"command failed with exit code {returncode}: {shlex.join(cmd)}")


def stop_all() -> None:
    """Send SIGTERM to every command run() is waiting for (in any thread)."""
    for proc in list(_running):
        proc.terminate()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for lock {path} (another build is running)")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: dict[str, object]) -> None:
    """Write sorted, indented JSON with a trailing newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
