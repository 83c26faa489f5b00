"""Build only the ITK objects a consumer links, not the whole of ITK.

A static link takes from each archive only the members that resolve a symbol,
and the plugins use about 40 of ITK's 740 objects (no netlib, 12 of the 300
VNL ones). So the superbuild configures ITK as usual, compiles just the
objects named in a list (``objects/<profile>.txt``), packs each library's
archive from those, and installs. Whether a list is enough is checked, not
trusted: the selected objects are linked together into a throw-away shared
library with ``--no-undefined``, so a list that misses a dependency fails here,
and a consumer that needs more than the list fails at its own link (the
plugin links with ``--no-undefined`` too), never at run time.

List format, one archive member a line: ``<CMake target> <member>``, e.g.
``ITKCommon itkObject.cxx.o``; ``#`` starts a comment. Regenerate a list from a
link map of the consumer against a full build::

    python superbuild/itk_objects.py from-map consumer.map > superbuild/objects/plugin.txt

Only the standard library is used; ``ninja -t targets`` and ``ninja -t query``
report which objects make up which archive.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

LISTS = Path(__file__).resolve().parent / "objects"
PROFILES = ("plugin", "host", "all")
ARCHIVE_RULE_RE = re.compile(r"^(.+): C(?:XX)?_STATIC_LIBRARY_LINKER__(.+)_[A-Za-z]+$")
MAP_MEMBER_RE = re.compile(r"^\S*?lib([A-Za-z0-9_+.-]+?)-\d+\.\d+\.a\(([^)]+)\)")


@dataclass(frozen=True)
class Archive:
    """A static library of the ITK build: where ninja writes it, and from what."""

    target: str
    path: str  # relative to the build folder
    objects: tuple[str, ...]  # relative to the build folder


class ObjectListError(RuntimeError):
    """The list does not fit this ITK tree, or the selection is not self-contained."""


def list_file(profile: str) -> Path:
    """Return the list file of a profile (``plugin`` or ``host``)."""
    return LISTS / f"{profile}.txt"


def read_list(path: Path) -> set[tuple[str, str]]:
    """Read ``(target, member)`` pairs from a list file."""
    pairs = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        words = raw.split("#", 1)[0].split()
        if words:
            if len(words) != 2:
                raise ObjectListError(f"{path}: bad line {raw!r} (want '<target> <member>')")
            pairs.add((words[0], words[1]))
    return pairs


def ninja_lines(build: Path, *args: str) -> list[str]:
    """Run a ``ninja -t`` tool in ``build`` and return its output lines."""
    out = subprocess.run(["ninja", "-C", str(build), "-t", *args], capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def read_archives(build: Path) -> list[Archive]:
    """List the static libraries of a configured Ninja build and their objects."""
    targets = {}
    for line in ninja_lines(build, "targets", "all"):
        match = ARCHIVE_RULE_RE.match(line.strip())
        if match:
            targets[match.group(1)] = match.group(2)
    archives = []
    current: list[str] | None = None
    for line in ninja_lines(build, "query", *targets):
        if not line.startswith(" "):
            path = line.rstrip(":")
            current = [] if path in targets else None
            if current is not None:
                archives.append(Archive(targets[path], path, ()))
            continue
        item = line.strip()
        if item.startswith("outputs:"):
            current = None
        elif current is not None and not item.startswith(("input:", "|")):
            current.append(item)
            archives[-1] = Archive(archives[-1].target, archives[-1].path, tuple(current))
    return archives


def select(archives: Sequence[Archive], wanted: set[tuple[str, str]]) -> dict[str, list[str]]:
    """Map each archive path to the objects of ``wanted`` it holds (maybe none).

    Raises ObjectListError naming the entries this tree does not have (another ITK
    version than the list was made for).
    """
    found: set[tuple[str, str]] = set()
    chosen: dict[str, list[str]] = {}
    for archive in archives:
        chosen[archive.path] = []
        for obj in archive.objects:
            key = (archive.target, PurePosixPath(obj).name)
            if key in wanted:
                chosen[archive.path].append(obj)
                found.add(key)
    missing = sorted(wanted - found)
    if missing:
        shown = ", ".join(f"{t}:{m}" for t, m in missing[:5])
        raise ObjectListError(f"{len(missing)} listed objects are not in this ITK tree ({shown} ...)")
    return chosen


def cache_value(build: Path, name: str) -> str:
    """Read one entry of the build's CMakeCache.txt."""
    text = (build / "CMakeCache.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(name)}:[A-Z]+=(.*)$", text, re.MULTILINE)
    if not match or not match.group(1):
        raise ObjectListError(f"{name} is not set in {build}/CMakeCache.txt")
    return match.group(1)


def pack(build: Path, chosen: dict[str, list[str]]) -> None:
    """Write each archive from its chosen objects (an empty archive if none)."""
    ar = cache_value(build, "CMAKE_AR")
    for path, objects in chosen.items():
        archive = build / path
        archive.parent.mkdir(parents=True, exist_ok=True)
        archive.unlink(missing_ok=True)
        subprocess.run([ar, "qcs", str(archive), *objects], cwd=build, check=True)


def check_closed(build: Path, objects: Sequence[str]) -> None:
    """Link the objects into a probe shared library that may leave nothing undefined.

    Raises ObjectListError with the linker's complaint when the selection needs an
    object it does not have.
    """
    cxx = shlex.split(cache_value(build, "CMAKE_CXX_COMPILER"))
    if sys.platform == "darwin":
        link = ["-dynamiclib"]  # undefined symbols are an error by default
    else:
        link = ["-shared", "-Wl,--no-undefined"]
    probe = build / "itk-tag-subset-probe.so"
    cmd = [*cxx, *link, "-o", str(probe), *objects, "-pthread", "-ldl", "-lm"]
    result = subprocess.run(cmd, cwd=build, capture_output=True, text=True, check=False)
    probe.unlink(missing_ok=True)
    if result.returncode != 0:
        undefined = sorted(set(re.findall(r"undefined reference to `([^']+)'", result.stderr)))
        detail = "; ".join(undefined[:5]) or result.stderr.strip()[-2000:]
        raise ObjectListError(f"the selected objects are not self-contained: {detail}")


def build_listed(
    build: Path, wanted: set[tuple[str, str]], jobs: int, run: Callable[[Sequence[str]], None]
) -> int:
    """Compile and pack only ``wanted`` in a configured ITK build; return the object count.

    ``run`` executes a command (the caller's, with its logging and signal
    handling). Raises ObjectListError if the list does not fit this tree or is not
    self-contained; the build folder may then still be built in full.
    """
    chosen = select(read_archives(build), wanted)
    objects = [obj for objs in chosen.values() for obj in objs]
    run(["ninja", "-C", str(build), "-j", str(jobs), *objects])
    check_closed(build, objects)
    pack(build, chosen)
    return len(objects)


def members_from_map(text: str) -> list[str]:
    """Turn a GNU ld link map's archive members into list lines ``target member``."""
    section = text.split("Archive member included", 1)[-1]
    section = re.split(r"^(?:Discarded input sections|Memory Configuration)", section, flags=re.M)[0]
    found = {
        f"{m.group(1)} {m.group(2)}" for line in section.splitlines() if (m := MAP_MEMBER_RE.match(line))
    }
    return sorted(found)


def main(argv: Sequence[str] | None = None) -> int:
    """``from-map MAP``: print the list lines for the ITK archive members in a link map."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "from-map":
        print("usage: itk_objects.py from-map LINK.map", file=sys.stderr)
        return 2
    for line in members_from_map(Path(args[1]).read_text(encoding="utf-8", errors="replace")):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
