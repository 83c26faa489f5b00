#!/usr/bin/env python3
"""Build (once) and cache a minimal, static, PIC, hidden-visibility ITK.

The itk-tag plugins carry a private copy of ITK. Each host wheel needs its own
libstdc++ ABI (and 3D Slicer its own namespace), so this script builds ITK once
per variant and caches the result::

    python superbuild/itk_static.py --abi {new|old|new,old} [--namespace {itk|slicer_itk|itk,slicer_itk}]
        [--dynamic-loading] [--objects {plugin,host,all}] [--jobs N]

Only the objects the consumer links are compiled (see itk_objects.py).
Progress goes to stderr. For one variant, the LAST line of stdout is the
absolute folder holding ``ITKConfig.cmake`` (the value for ``ITK_DIR``); for
several (comma-separated values) or with ``--print-variants``, one
``<variant>=<ITK_DIR>`` line each, e.g. ``old-slicer_itk=/...``. A second run with
the same inputs prints the same at once without rebuilding.

ITK source, first match wins:

1. ``ITK_TAG_ITK_SOURCE_DIR``: an ITK 5.2.x or 5.4.x source tree (read only;
   the needed subset is copied into the cache and patched there).
2. The cache: the extracted and patched subset of Debian's orig tarball, or the
   checksum-verified tarball itself.
3. Debian's ``insighttoolkit5`` source package, fetched with ``apt-get source
   --download-only`` through a private apt configuration whose ``deb-src``
   entry is derived from this machine's own entry for the main archive.

Cache root: ``ITK_TAG_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/itk-tag``.
Only the Python standard library is used (Python 3.9+).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, NoReturn

import itk_objects

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import FrameType

# Bump when the cache layout or the meaning of a cached item changes.
# 2: object lists (itk_objects.py), source paths mapped out of the binaries.
SCHEMA = 2

DEBIAN_PACKAGE = "insighttoolkit5"
DEBIAN_VERSION = "5.2.1-5+deb12u1"
DEBIAN_SUITE = "bookworm"
DEBIAN_COMPONENT = "main"
DEBIAN_ITK_VERSION = "5.2.1"
ORIG_GLOB = "insighttoolkit5_5.2.1.orig.tar.*"
ORIG_SIZE = 282_723_808
ORIG_SHA256 = "a267fe9b37921cecbe85aa3f6ca64185c602d7a8ca3f148a705a4971f1b88202"

# The parts of an ITK source tree that a static ITKCommon + ITKIOImageBase needs.
SUBSET_PATHS = (
    "CMakeLists.txt",
    "LICENSE",
    "NOTICE",
    "README.md",
    "CMake",
    "Wrapping/CMakeUtilityFunctions.cmake",
    "Wrapping/WrappingOptions.cmake",
    "Utilities/KWStyle/KWStyle.cmake",
    "Utilities/Doxygen",
    "Modules/Remote/CMakeLists.txt",
    "Modules/Core/Common",
    "Modules/IO/ImageBase",
    "Modules/ThirdParty/DoubleConversion",
    "Modules/ThirdParty/Eigen3",
    "Modules/ThirdParty/KWIML",  # gone in ITK 5.4: only REQUIRED_PATHS must exist
    "Modules/ThirdParty/KWSys",
    "Modules/ThirdParty/VNL",
    "Modules/ThirdParty/VNLInstantiation",
)
REQUIRED_PATHS = (
    "CMakeLists.txt",
    "CMake/itkVersion.cmake",
    "Modules/Core/Common/include/itkMetaDataObjectBase.h",
    "Modules/IO/ImageBase",
)
EXCLUDED_PATHS = ("Modules/Core/Common/test", "Modules/IO/ImageBase/test")

PATCH_FILE = Path(__file__).resolve().parent / "patches" / "itk-5.2.1-metadataobjectbase-equal.patch"
METADATA_BASE_HEADER = "Modules/Core/Common/include/itkMetaDataObjectBase.h"
EQUAL_VIRTUAL_RE = re.compile(r"Equal\s*\(\s*const\s+MetaDataObjectBase\s*&")

ABI_DEFINES = {"new": "-D_GLIBCXX_USE_CXX11_ABI=1", "old": "-D_GLIBCXX_USE_CXX11_ABI=0"}
# 3D Slicer's ITK fork renames the namespace (its itkNamespace.h does
# ``#define itk slicer_itk``); a plugin for it must be built the same way.
NAMESPACE_DEFINES = {"itk": (), "slicer_itk": ("-Ditk=slicer_itk",)}
STALE_TMP_SECONDS = 2 * 24 * 3600
SOURCE_INFO = "itk-tag-source.json"
# deb822 fields not carried into the derived deb-src entry (the rest, such as
# Signed-By or Check-Valid-Until, are copied as they are).
DEB822_NOT_COPIED = frozenset(
    [
        "types",
        "uris",
        "suites",
        "components",
        "enabled",
        "architectures",
        "languages",
        "targets",
    ]
)
NO_SOURCE_HINT = (
    "No ITK source available. Either set ITK_TAG_ITK_SOURCE_DIR to an ITK 5.2.1 "
    "or 5.4.x source tree, or make Debian's deb-src for "
    f"'{DEBIAN_SUITE} {DEBIAN_COMPONENT}' reachable through apt "
    f"(apt-get source {DEBIAN_PACKAGE}={DEBIAN_VERSION})."
)


class SuperbuildError(RuntimeError):
    """A failure with a message meant for the person running the build."""


@dataclass(frozen=True)
class SourceSpec:
    """An ITK source: its identity, and where its prepared subset lives."""

    version: str
    source_sha256: str
    patched: bool
    origin: str
    prepared: Path  # <cache>/sources/...: the subset, patched if needed
    tree: Path | None  # user-supplied tree to copy from; None: Debian tarball


@dataclass(frozen=True)
class Variant:
    """What distinguishes one private ITK build from another."""

    abi: str  # key of ABI_DEFINES
    namespace: str = "itk"  # key of NAMESPACE_DEFINES
    dynamic_loading: bool = False  # test hosts only: plugins must never scan ITK_AUTOLOAD_PATH
    objects: str = "plugin"  # which objects to compile: an itk_objects.PROFILES entry

    @property
    def name(self) -> str:
        """Short name used in cache folder names: ``new``, ``old-slicer_itk-dl``..."""
        parts = [self.abi, "" if self.namespace == "itk" else self.namespace]
        return "-".join([p for p in parts if p] + (["dl"] if self.dynamic_loading else []))

    def cxx_flags(self) -> str:
        """The C++ flags ITK is built with; a plugin linking it needs the same."""
        return " ".join([ABI_DEFINES[self.abi], *NAMESPACE_DEFINES[self.namespace]])


@dataclass
class AptEntry:
    """One apt source entry, from deb822 or one-line format."""

    types: list[str]
    uris: list[str]
    suites: list[str]
    components: list[str]
    options: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- utils


def log(message: str) -> None:
    """Print a progress message to stderr."""
    print(f"[itk_static] {message}", file=sys.stderr, flush=True)


def fail(message: str) -> NoReturn:
    """Abort with a user-facing message."""
    raise SuperbuildError(message)


def cache_root() -> Path:
    """Return the cache root directory (not created)."""
    explicit = os.environ.get("ITK_TAG_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(xdg).expanduser() / "itk-tag").resolve()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive fcntl lock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for lock {path} (another build is running)")
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def scratch_dir(cache: Path, purpose: str) -> Iterator[Path]:
    """Yield a fresh directory under ``<cache>/tmp``; always removed afterwards."""
    base = cache / "tmp"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{purpose}-{os.getpid()}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def sweep_stale_tmp(cache: Path) -> None:
    """Remove leftovers of killed runs (scratch dirs older than two days)."""
    base = cache / "tmp"
    if not base.is_dir():
        return
    cutoff = time.time() - STALE_TMP_SECONDS
    for entry in base.iterdir():
        with contextlib.suppress(OSError):
            if entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Return the hex SHA-256 of a string (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Children running now (several when variants are built side by side).
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    """Run a command with its output on stderr; raise SuperbuildError on failure.

    The command gets its own process group, so that an interrupted run (Ctrl-C,
    SIGTERM) stops the whole tree (cmake, ninja, compilers) before cleaning up.
    """
    log("$ " + " ".join(cmd))
    sys.stderr.flush()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=sys.stderr, start_new_session=True)
    except FileNotFoundError:
        fail(f"{cmd[0]!r} not found on PATH")
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        returncode = proc.wait()
    except BaseException:
        stop_group(proc)
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if returncode != 0:
        fail(f"command failed with exit code {returncode}: {' '.join(cmd)}")


def stop_all() -> None:
    """Stop every child that run() started and that is still running."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        stop_group(proc)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a child's process group; SIGKILL what is left after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so that only live members keep the group
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def write_json(path: Path, data: dict[str, object]) -> None:
    """Write pretty JSON with a trailing newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def publish(staged: Path, final: Path) -> None:
    """Atomically move a finished directory into place (first writer wins)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        staged.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        log(f"{final} appeared meanwhile; keeping it")


# ------------------------------------------------------------------ apt sources


def parse_deb822(text: str) -> list[dict[str, str]]:
    """Parse deb822 stanzas; keys are lower-cased, continuation lines kept raw."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in [*text.splitlines(), ""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif raw[0] in " \t":
            if key:
                current[key] += "\n" + raw
        else:
            name, sep, value = raw.partition(":")
            if sep:
                key = name.strip().lower()
                current[key] = value.strip()
    return stanzas


def entry_from_stanza(stanza: dict[str, str]) -> AptEntry | None:
    """Turn a deb822 stanza into an AptEntry (None if disabled or incomplete)."""
    if stanza.get("enabled", "yes").strip().lower() in ("no", "false", "0"):
        return None
    lists = {k: stanza.get(k, "").split() for k in ("types", "uris", "suites", "components")}
    if not all(lists.values()):
        return None
    options = {k: v for k, v in stanza.items() if k not in DEB822_NOT_COPIED}
    return AptEntry(lists["types"], lists["uris"], lists["suites"], lists["components"], options)


def parse_one_line(text: str) -> list[AptEntry]:
    """Parse one-line ``deb [opts] uri suite component...`` entries."""
    entries: list[AptEntry] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        options: dict[str, str] = {}
        match = re.match(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not match:
            continue
        kind, opts, uri, suite, comps = match.groups()
        for opt in (opts or "").split():
            name, sep, value = opt.partition("=")
            if sep and not name.endswith(("+", "-")) and name not in ("arch", "lang", "target"):
                options[name.lower()] = value.replace(",", " ")
        entries.append(AptEntry([kind], [uri], [suite], comps.split(), options))
    return entries


def read_apt_entries(etc: Path = Path("/etc/apt")) -> list[AptEntry]:
    """Read the machine's apt sources in apt's own order."""
    entries: list[AptEntry] = []
    main_list = etc / "sources.list"
    if main_list.is_file():
        entries += parse_one_line(main_list.read_text(encoding="utf-8", errors="replace"))
    parts = etc / "sources.list.d"
    for path in sorted(parts.glob("*")) if parts.is_dir() else []:
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        if path.suffix == ".list":
            entries += parse_one_line(text)
        elif path.suffix == ".sources":
            entries += [e for e in map(entry_from_stanza, parse_deb822(text)) if e]
    return entries


def pick_debian_main(entries: Sequence[AptEntry]) -> AptEntry:
    """Choose the entry serving ``bookworm main`` (the Debian main archive)."""

    def rank(entry: AptEntry) -> int:
        signed_by = entry.options.get("signed-by", "")
        if "debian-archive-keyring" in signed_by:
            return 0
        return 1 if not signed_by else 2

    candidates = [
        e
        for e in entries
        if DEBIAN_SUITE in e.suites
        and DEBIAN_COMPONENT in e.components
        and {"deb", "deb-src"} & set(e.types)
        and not any(u.startswith("cdrom:") for u in e.uris)
    ]
    if not candidates:
        fail(
            f"no apt source serving '{DEBIAN_SUITE} {DEBIAN_COMPONENT}' found in "
            "/etc/apt; set ITK_TAG_ITK_SOURCE_DIR to an ITK 5.2.1 or 5.4.x source "
            "tree instead"
        )
    return min(candidates, key=rank)


def render_deb_src(entry: AptEntry) -> str:
    """Render a deb822 ``deb-src`` stanza equivalent to ``entry``."""
    lines = [
        "Types: deb-src",
        "URIs: " + " ".join(entry.uris),
        f"Suites: {DEBIAN_SUITE}",
        f"Components: {DEBIAN_COMPONENT}",
    ]
    for name, value in entry.options.items():
        pretty = "-".join(part.capitalize() for part in name.split("-"))
        lines.append(f"{pretty}: {value}")
    return "\n".join(lines) + "\n"


def private_apt_options(root: Path, entry: AptEntry) -> tuple[list[str], dict[str, str]]:
    """Create a private apt configuration under ``root``; return options and env."""
    etc = root / "etc"
    for sub in ("sources.list.d", "preferences.d"):
        (etc / sub).mkdir(parents=True)
    for sub in ("state/lists/partial", "cache/archives/partial"):
        (root / sub).mkdir(parents=True)
    (etc / "sources.list").write_text("", encoding="utf-8")
    (etc / "sources.list.d" / "itk-tag.sources").write_text(render_deb_src(entry), "utf-8")
    # apt reads APT_CONFIG, then apt.conf.d, then Dir::Etc::main: the latter
    # drops the host's update hooks while keeping its proxy/auth settings.
    hosts = [os.environ.get("APT_CONFIG", ""), "/etc/apt/apt.conf"]
    include = "".join(f'#include "{h}";\n' for h in hosts if h and Path(h).is_file())
    clears = "".join(
        f"#clear {hook};\n"
        for hook in (
            "APT::Update::Pre-Invoke",
            "APT::Update::Post-Invoke",
            "APT::Update::Post-Invoke-Success",
        )
    )
    (etc / "main.conf").write_text(include + clears, encoding="utf-8")
    (etc / "apt.conf").write_text(f'Dir::Etc::main "{etc / "main.conf"}";\n', "utf-8")
    settings = {
        "Dir::Etc::SourceList": etc / "sources.list",
        "Dir::Etc::SourceParts": etc / "sources.list.d",
        "Dir::Etc::Preferences": etc / "preferences",
        "Dir::Etc::PreferencesParts": etc / "preferences.d",
        "Dir::State": root / "state",
        "Dir::State::Lists": root / "state" / "lists",
        "Dir::Cache": root / "cache",
        "Acquire::Languages": "none",
    }
    if os.geteuid() == 0:
        settings["APT::Sandbox::User"] = "root"  # private dirs are root-only
    options = [f"-o{name}={value}" for name, value in settings.items()]
    env = {**os.environ, "APT_CONFIG": str(etc / "apt.conf"), "LC_ALL": "C"}
    return ["-q", *options], env


def verify_tarball(path: Path) -> bool:
    """Check the orig tarball's size and SHA-256."""
    if path.stat().st_size != ORIG_SIZE:
        log(f"{path.name}: size {path.stat().st_size} != {ORIG_SIZE}")
        return False
    digest = sha256_file(path)
    if digest != ORIG_SHA256:
        log(f"{path.name}: SHA-256 {digest} != {ORIG_SHA256}")
        return False
    return True


def apt_download(cache: Path, dest_dir: Path) -> Path:
    """Fetch the orig tarball with ``apt-get source --download-only``."""
    if shutil.which("apt-get") is None:
        fail("apt-get is not available; set ITK_TAG_ITK_SOURCE_DIR to an ITK source tree")
    entry = pick_debian_main(read_apt_entries())
    log(f"deriving deb-src from the apt entry for {DEBIAN_SUITE}/{DEBIAN_COMPONENT}")
    with scratch_dir(cache, "apt") as root:
        options, env = private_apt_options(root, entry)
        started = time.monotonic()
        run(["apt-get", *options, "update"], env=env)
        download = root / "download"
        download.mkdir()
        spec = f"{DEBIAN_PACKAGE}={DEBIAN_VERSION}"
        run(
            ["apt-get", *options, "source", "--download-only", spec],
            cwd=download,
            env=env,
        )
        found = orig_tarballs(download)
        if not found:
            fail(f"apt-get source did not produce {ORIG_GLOB}")
        log(f"apt download took {time.monotonic() - started:.1f} s")
        if not verify_tarball(found[0]):
            fail(f"{found[0].name} failed verification (expected {ORIG_SHA256})")
        dest_dir.mkdir(parents=True, exist_ok=True)
        final = dest_dir / found[0].name
        shutil.move(str(found[0]), str(final))
        return final


def orig_tarballs(folder: Path) -> list[Path]:
    """List the orig tarballs in ``folder`` (not their ``.asc`` signatures)."""
    found = folder.glob(ORIG_GLOB) if folder.is_dir() else []
    return sorted(p for p in found if p.is_file() and not p.name.endswith(".asc"))


def cached_tarball(downloads: Path) -> Path | None:
    """Return a verified orig tarball from the cache, deleting a corrupt one."""
    for path in orig_tarballs(downloads):
        if verify_tarball(path):
            return path
        log(f"removing corrupt {path}")
        path.unlink()
    return None


# ---------------------------------------------------------------- subset files


def in_subset(rel: PurePosixPath) -> bool:
    """Tell whether a source-relative path belongs to the needed subset."""
    text = rel.as_posix()
    if any(text == p or text.startswith(p + "/") for p in EXCLUDED_PATHS):
        return False
    return any(text == p or text.startswith(p + "/") for p in SUBSET_PATHS)


def member_relpath(name: str) -> PurePosixPath | None:
    """Return a tar member's path below the top folder, rejecting traversal."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        fail(f"refusing unsafe tar member {name!r}")
    parts = path.parts[1:]
    return PurePosixPath(*parts) if parts else None


def write_member(stream: IO[bytes], target: Path, mode: int) -> None:
    """Write a regular file from a tar stream with sane permissions."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    target.chmod(0o755 if mode & 0o111 else 0o644)


def extract_subset(tarball: Path, dest: Path) -> None:
    """Stream the tarball once and extract only the subset's regular files."""
    count = 0
    with tarfile.open(tarball, mode="r|*") as archive:
        for member in archive:
            rel = member_relpath(member.name)
            if rel is None or not in_subset(rel):
                continue
            if member.isdir():
                continue
            if not member.isfile():
                log(f"skipping non-regular member {member.name}")
                continue
            stream = archive.extractfile(member)
            if stream is not None:
                write_member(stream, dest / rel, member.mode)
                count += 1
    log(f"extracted {count} files")


def iter_subset_files(root: Path) -> Iterator[PurePosixPath]:
    """Yield the subset's files of a source tree, sorted, relative to ``root``."""
    found: list[PurePosixPath] = []
    for top in SUBSET_PATHS:
        start = root / top
        if start.is_file():
            found.append(PurePosixPath(top))
            continue
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            found += [PurePosixPath(rel_dir, name) for name in filenames]
    yield from sorted(p for p in found if in_subset(p))


def hash_subset(root: Path) -> str:
    """Hash the subset's relative paths and contents."""
    digest = hashlib.sha256()
    for rel in iter_subset_files(root):
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(sha256_file(root / rel).encode() + b"\n")
    return digest.hexdigest()


def copy_subset(src: Path, dest: Path) -> None:
    """Copy the subset of a source tree (following symlinks) into ``dest``."""
    count = 0
    for rel in iter_subset_files(src):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
        count += 1
    log(f"copied {count} files")


def check_required(root: Path, origin: str) -> None:
    """Fail unless the tree has the paths the build cannot do without."""
    missing = [p for p in REQUIRED_PATHS if not (root / p).exists()]
    if missing:
        fail(f"{origin} is not a usable ITK source tree (missing {', '.join(missing)})")


# ---------------------------------------------------------------------- patching


def apply_patch(root: Path, patch_file: Path) -> None:
    """Apply a ``-p1`` unified diff below ``root`` with ``patch``, else ``git apply``.

    Either tool refuses a hunk whose context does not match exactly (fuzz 0).
    """
    if shutil.which("patch"):
        cmd = ["patch", "-p1", "-N", "-F0", "-s", "-i", str(patch_file)]
        env = None
    elif shutil.which("git"):
        cmd = ["git", "apply", "-p1", str(patch_file)]
        # Keep git from treating an enclosing work tree as the target.
        env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    else:
        fail("applying the ITK back-port needs 'patch' (apt-get install patch) or 'git'")
    try:
        run(cmd, cwd=root, env=env)
    except SuperbuildError as error:
        fail(f"{error}: the back-port does not apply; is this ITK 5.2.x?")
    log(f"applied {patch_file.name}")


# ---------------------------------------------------------------- ITK sources


def read_itk_version(root: Path) -> str:
    """Read MAJOR.MINOR.PATCH from ``CMake/itkVersion.cmake``."""
    text = (root / "CMake" / "itkVersion.cmake").read_text(encoding="utf-8")
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        match = re.search(rf'set\(\s*ITK_VERSION_{part}\s+"?(\d+)', text)
        if not match:
            fail(f"cannot read ITK_VERSION_{part} from {root}/CMake/itkVersion.cmake")
        parts.append(match.group(1))
    return ".".join(parts)


def needs_equal_patch(root: Path) -> bool:
    """Tell whether MetaDataObjectBase lacks ITK 5.4's ``Equal`` virtual."""
    header = (root / METADATA_BASE_HEADER).read_text(encoding="utf-8")
    return EQUAL_VIRTUAL_RE.search(header) is None


def patch_text() -> str:
    """Return the back-port patch shipped next to this script."""
    if not PATCH_FILE.is_file():
        fail(f"missing {PATCH_FILE}")
    return PATCH_FILE.read_text(encoding="utf-8")


def finish_source(staged: Path, source: SourceSpec) -> None:
    """Check and (if needed) patch a fresh subset copy, then describe it."""
    check_required(staged, source.origin)
    version = read_itk_version(staged)
    if version != source.version:
        fail(f"{source.origin}: found ITK {version}, expected {source.version}")
    if source.patched:
        if not needs_equal_patch(staged):
            fail(f"{source.origin}: MetaDataObjectBase already has Equal()")
        apply_patch(staged, PATCH_FILE)
    if needs_equal_patch(staged):
        fail(f"{source.origin}: MetaDataObjectBase still lacks Equal()")
    info: dict[str, object] = {
        "itk_version": version,
        "source_sha256": source.source_sha256,
        "patched": source.patched,
        "origin": source.origin,
    }
    write_json(staged / SOURCE_INFO, info)


def fill_subset(cache: Path, source: SourceSpec, dest: Path) -> None:
    """Put the unpatched subset into ``dest``: copy a tree or extract the tarball."""
    if source.tree is not None:
        log(f"copying the ITK subset of {source.tree}")
        copy_subset(source.tree, dest)
        return
    downloads = cache / "downloads"
    tarball = cached_tarball(downloads)
    if tarball is None:
        log(f"fetching Debian source package {DEBIAN_PACKAGE} {DEBIAN_VERSION}")
        try:
            tarball = apt_download(cache, downloads)
        except SuperbuildError as error:
            fail(f"{error}\n{NO_SOURCE_HINT}")
    log(f"extracting the ITK subset of {tarball.name}")
    extract_subset(tarball, dest)


def ensure_prepared(cache: Path, source: SourceSpec) -> Path:
    """Return the prepared (subset, patched) source folder, creating it once."""
    if (source.prepared / SOURCE_INFO).is_file():
        return source.prepared
    with file_lock(cache / ".lock"):
        if not (source.prepared / SOURCE_INFO).is_file():
            started = time.monotonic()
            with scratch_dir(cache, "source") as tmp:
                fill_subset(cache, source, tmp / "src")
                finish_source(tmp / "src", source)
                publish(tmp / "src", source.prepared)
            log(f"source preparation took {time.monotonic() - started:.1f} s")
    return source.prepared


def patch_id(*, patched: bool) -> str:
    """Short name of the patch applied (or ``none``)."""
    return sha256_text(patch_text())[:12] if patched else "none"


def source_from_dir(cache: Path, tree: Path) -> SourceSpec:
    """Describe a user-supplied tree without writing anything."""
    if not tree.is_dir():
        fail(f"ITK_TAG_ITK_SOURCE_DIR={tree} is not a directory")
    check_required(tree, f"ITK_TAG_ITK_SOURCE_DIR={tree}")
    patched = needs_equal_patch(tree)
    digest = hash_subset(tree)
    return SourceSpec(
        version=read_itk_version(tree),
        source_sha256=digest,
        patched=patched,
        origin=str(tree),
        prepared=cache / "sources" / f"dir-{digest[:16]}-p{patch_id(patched=patched)}",
        tree=tree,
    )


def source_from_debian(cache: Path) -> SourceSpec:
    """Describe Debian's orig tarball (known in advance: nothing is read)."""
    return SourceSpec(
        version=DEBIAN_ITK_VERSION,
        source_sha256=ORIG_SHA256,
        patched=True,
        origin=f"debian:{DEBIAN_PACKAGE}={DEBIAN_VERSION}",
        prepared=cache / "sources" / f"deb-{ORIG_SHA256[:16]}-p{patch_id(patched=True)}",
        tree=None,
    )


def resolve_source(cache: Path) -> SourceSpec:
    """Choose the ITK source: ``ITK_TAG_ITK_SOURCE_DIR``, else Debian's tarball."""
    explicit = os.environ.get("ITK_TAG_ITK_SOURCE_DIR")
    if explicit:
        return source_from_dir(cache, Path(explicit).expanduser().resolve())
    return source_from_debian(cache)


# ------------------------------------------------------------------------ build


def configure_flags(variant: Variant, path_flags: str = "") -> list[str]:
    """CMake arguments for the ITK build (without source, build or prefix).

    Without ``path_flags`` (see path_maps) they are the cache key's.
    """
    # A plugin's ITK is hidden inside it. A test host's keeps ITK's default
    # visibility, so that a host program linked with --export-dynamic shows
    # its ITK symbols, and their namespace, as a shared ITK (Slicer's) does.
    visibility = (
        []
        if variant.dynamic_loading
        else [
            "-DCMAKE_CXX_VISIBILITY_PRESET=hidden",
            "-DCMAKE_C_VISIBILITY_PRESET=hidden",
            "-DCMAKE_VISIBILITY_INLINES_HIDDEN=ON",
        ]
    )
    return [
        "-GNinja",
        "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_CXX_FLAGS=" + " ".join(filter(None, [variant.cxx_flags(), path_flags])),
        "-DBUILD_SHARED_LIBS=OFF",
        "-DBUILD_TESTING=OFF",
        "-DBUILD_EXAMPLES=OFF",
        "-DITK_BUILD_DEFAULT_MODULES=OFF",
        "-DITKGroup_Core=OFF",
        "-DModule_ITKIOImageBase=ON",
        "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
        *visibility,
        "-DCMAKE_POLICY_VERSION_MINIMUM=3.5",
        "-DITK_WRAPPING=OFF",
        "-DITK_USE_KWSTYLE=OFF",
        f"-DITK_DYNAMIC_LOADING={'ON' if variant.dynamic_loading else 'OFF'}",
    ]


def check_tools() -> None:
    """Fail early if the build tools are missing."""
    missing = [tool for tool in ("cmake", "ninja") if shutil.which(tool) is None]
    if missing:
        fail(f"not on PATH: {', '.join(missing)} (pip install cmake ninja)")


def compiler_identity(env_var: str, default: str) -> str:
    """Identify the compiler CMake will pick (``$CC``/``$CXX`` or the default).

    The resolved binary plus its ``--version`` line without the program name,
    so that ``CXX=/usr/bin/g++`` and an unset ``CXX`` (``c++``) give one key.
    """
    words = shlex.split(os.environ.get(env_var) or default)
    path = shutil.which(words[0]) if words else None
    if path is None:
        return f"missing {words}"
    try:
        out = subprocess.run([path, *words[1:], "--version"], capture_output=True, text=True, check=False)
    except OSError:
        return f"unusable {path}"
    first = (out.stdout.splitlines() or [""])[0]
    version = first.split(None, 1)[-1] if first else ""
    return " ".join([os.path.realpath(path), *words[1:], version])


def install_dir(cache: Path, source: SourceSpec, variant: Variant, flags: list[str]) -> Path:
    """Cache folder of the install for (source, variant, flags + patch)."""
    key = {
        "schema": SCHEMA,
        "source_sha256": source.source_sha256,
        "patch_sha256": sha256_text(patch_text()) if source.patched else None,
        "abi": variant.abi,  # the namespace and dynamic loading are in the flags
        "objects": variant.objects,
        "object_list": objects_list_id(variant.objects),
        "flags": flags,
        "cc": compiler_identity("CC", "cc"),
        "cxx": compiler_identity("CXX", "c++"),
        "cflags": os.environ.get("CFLAGS", ""),
    }
    digest = sha256_text(json.dumps(key, sort_keys=True))[:16]
    return cache / "installs" / f"itk-{source.version}-{variant.name}-{digest}"


def objects_list_id(profile: str) -> str | None:
    """SHA-256 of a profile's object list (None for ``all``)."""
    if profile == "all":
        return None
    return sha256_file(itk_objects.list_file(profile))


def itk_dir(install: Path, version: str) -> Path:
    """Return the folder with ITKConfig.cmake inside an install prefix."""
    major_minor = ".".join(version.split(".")[:2])
    return install / "lib" / "cmake" / f"ITK-{major_minor}"


def is_complete(install: Path, version: str) -> bool:
    """Tell whether an install folder was published by a finished build."""
    marker = install / SOURCE_INFO
    return marker.is_file() and (itk_dir(install, version) / "ITKConfig.cmake").is_file()


@dataclass(frozen=True)
class BuildPlan:
    """Everything one ITK build needs."""

    source: SourceSpec
    variant: Variant
    install: Path
    jobs: int


def path_maps(root: Path, build: Path, version: str) -> str:
    """Compiler flags that keep the source and build folders out of the binaries.

    ``__FILE__`` (in ITK's exception and warning texts) then reads
    ``ITK-5.2.1/Modules/...`` instead of a path in the cache. Not part of the
    cache key: they depend on where the cache is, not on what is built.
    """
    return f"-ffile-prefix-map={root}/=ITK-{version}/ -ffile-prefix-map={build}/=ITK-{version}-build/"


def compile_itk(build: Path, plan: BuildPlan) -> str:
    """Compile what the plan's object list names, or all of ITK; say which."""
    if plan.variant.objects != "all":
        listed = itk_objects.list_file(plan.variant.objects)
        try:
            count = itk_objects.build_listed(build, itk_objects.read_list(listed), plan.jobs, run)
        except itk_objects.ObjectListError as error:
            log(f"{error}; building all of ITK instead")
        else:
            return f"{count} objects of {listed.name}"
    run(["cmake", "--build", str(build), "--parallel", str(plan.jobs)])
    return "all"


def build_install(cache: Path, plan: BuildPlan) -> None:
    """Configure, build and install ITK into a staging dir, then publish it."""
    source, install = plan.source, plan.install
    root = ensure_prepared(cache, source)
    check_tools()
    with scratch_dir(cache, f"build-{plan.variant.name}") as tmp:
        build, stage = tmp / "build", tmp / "stage"
        prefix = f"-DCMAKE_INSTALL_PREFIX={install}"
        started = time.monotonic()
        maps = path_maps(root, build, source.version)
        c_flags = " ".join(filter(None, [os.environ.get("CFLAGS", ""), maps]))
        flags = [*configure_flags(plan.variant, maps), f"-DCMAKE_C_FLAGS={c_flags}"]
        run(["cmake", "-S", str(root), "-B", str(build), *flags, prefix])
        configured = time.monotonic()
        built_what = compile_itk(build, plan)
        built = time.monotonic()
        # DESTDIR staging keeps the final prefix in the installed files.
        stage_env = {**os.environ, "DESTDIR": str(stage)}
        run(["cmake", "--install", str(build)], env=stage_env)
        staged = Path(str(stage) + str(install))
        config = itk_dir(staged, source.version) / "ITKConfig.cmake"
        if not config.is_file():
            fail(f"the ITK install has no {config.relative_to(staged)}")
        info: dict[str, object] = {
            "itk_version": source.version,
            "abi": plan.variant.abi,
            "namespace": plan.variant.namespace,
            "dynamic_loading": plan.variant.dynamic_loading,
            "objects": built_what,
            "patched": source.patched,
            "source_sha256": source.source_sha256,
            "origin": source.origin,
            "cxx_flags": plan.variant.cxx_flags(),
        }
        write_json(staged / SOURCE_INFO, info)
        publish(staged, install)
        log(
            f"ITK {source.version} ({plan.variant.name}, {built_what}): "
            f"configure {configured - started:.0f} s, "
            f"build {built - configured:.0f} s, "
            f"install {time.monotonic() - built:.0f} s"
        )


def ensure_install(cache: Path, variant: Variant, jobs: int) -> Path:
    """Return the ITK_DIR for ``variant``, building ITK first if it is not cached."""
    source = resolve_source(cache)
    flags = configure_flags(variant)
    install = install_dir(cache, source, variant, flags)
    if is_complete(install, source.version):
        log(f"using cached ITK {source.version} ({variant.name}) at {install}")
        return itk_dir(install, source.version)
    with file_lock(install.parent / f".{install.name}.lock"):
        if not is_complete(install, source.version):
            if install.exists():
                fail(f"{install} exists but is incomplete; remove it and retry")
            log(f"building ITK {source.version} ({variant.name}) into {install}")
            build_install(cache, BuildPlan(source, variant, install, jobs))
    return itk_dir(install, source.version)


def ensure_installs(cache: Path, variants: Sequence[Variant], jobs: int) -> list[Path]:
    """Build (or find) several variants at once; return their ITK_DIRs in order.

    Configuring ITK is mostly one process on one core, so variants are built
    side by side, each with its share of ``jobs``. If the run is interrupted,
    every running build's process group is stopped before the error is raised.
    """
    if len(variants) == 1:
        return [ensure_install(cache, variants[0], jobs)]
    share = max(1, jobs // len(variants))
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(variants)) as pool:
        futures = [pool.submit(ensure_install, cache, variant, share) for variant in variants]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop_all()
            raise


# ------------------------------------------------------------------------- main


def choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of ``allowed`` values."""

    def parse(text: str) -> list[str]:
        values = [v for v in text.split(",") if v]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed)} (comma-separated)")
        return values

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--abi", required=True, type=choices(sorted(ABI_DEFINES)), help="libstdc++ ABI: new, old or new,old"
    )
    parser.add_argument(
        "--namespace",
        default=["itk"],
        type=choices(sorted(NAMESPACE_DEFINES)),
        help="C++ namespace of ITK: itk (default), slicer_itk (as 3D Slicer's ITK: -Ditk=slicer_itk) or both",
    )
    parser.add_argument(
        "--dynamic-loading",
        action="store_true",
        help="ITK_DYNAMIC_LOADING=ON: for test-host ITKs only, never for plugins",
    )
    parser.add_argument(
        "--objects",
        choices=itk_objects.PROFILES,
        help="objects to compile: plugin (default), host (default with --dynamic-loading) or all",
    )
    parser.add_argument(
        "--print-variants",
        action="store_true",
        help="print '<variant>=<ITK_DIR>' lines even for one variant",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel build jobs")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.objects is None:
        args.objects = "host" if args.dynamic_loading else "plugin"
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit so scratch dirs are cleaned up."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: print the ITK_DIR(s) on stdout."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    sweep_stale_tmp(cache)
    variants = [
        Variant(abi, namespace, args.dynamic_loading, args.objects)
        for abi in args.abi
        for namespace in args.namespace
    ]
    try:
        results = ensure_installs(cache, variants, args.jobs)
    except SuperbuildError as error:
        log(f"error: {error}")
        return 1
    if len(variants) == 1 and not args.print_variants:
        print(results[0], flush=True)
    else:
        for variant, result in zip(variants, results):
            print(f"{variant.name}={result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
