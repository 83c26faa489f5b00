"""The ITK source the private ITKs are built from: the needed subset, patched, cached once.

First match wins: ``ITK_TAG_ITK_SOURCE_DIR`` (an ITK 5.2.x or 5.4.x tree, only
read: its subset is copied), else Debian's orig tarball (debian_source.py). The
subset lands in ``<cache>/sources/<identity>/``; there, a 5.2 tree gets the
back-port of ITK 5.4's ``MetaDataObjectBase::Equal`` (README.md, "Why the patch").
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import debian_source
from common import SuperbuildError, fail, file_lock, log, run, sha256_file, write_json

if TYPE_CHECKING:
    from collections.abc import Iterator

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
SOURCE_INFO = "itk-tag-source.json"  # written last: its presence marks a finished entry
NO_SOURCE_HINT = (
    "No ITK source available. Either set ITK_TAG_ITK_SOURCE_DIR to an ITK 5.2.1 "
    "or 5.4.x source tree, or make Debian's deb-src for "
    f"'{debian_source.SUITE} {debian_source.COMPONENT}' reachable through apt "
    f"(apt-get source {debian_source.PACKAGE}={debian_source.VERSION})."
)


@dataclass(frozen=True)
class Source:
    """An ITK source: its identity, and where its prepared subset lives."""

    version: str
    source_sha256: str  # of Debian's tarball, or of the subset of a given tree
    patched: bool
    origin: str
    prepared: Path  # <cache>/sources/...: the subset, patched if needed
    tree: Path | None  # a given tree to copy from; None: Debian's tarball


def patch_sha256() -> str:
    """SHA-256 of the back-port patch (part of the cache keys)."""
    return sha256_file(PATCH_FILE)


def resolve(cache: Path) -> Source:
    """Choose the ITK source (``ITK_TAG_ITK_SOURCE_DIR``, else Debian's tarball); write nothing."""
    explicit = os.environ.get("ITK_TAG_ITK_SOURCE_DIR")
    if not explicit:
        sha = debian_source.SHA256
        return Source(
            version=debian_source.ITK_VERSION,
            source_sha256=sha,
            patched=True,
            origin=f"debian:{debian_source.PACKAGE}={debian_source.VERSION}",
            prepared=cache / "sources" / f"deb-{sha[:16]}-p{patch_sha256()[:12]}",
            tree=None,
        )
    tree = Path(explicit).expanduser().resolve()
    if not tree.is_dir():
        fail(f"ITK_TAG_ITK_SOURCE_DIR={tree} is not a directory")
    check_required(tree, f"ITK_TAG_ITK_SOURCE_DIR={tree}")
    patched = lacks_equal(tree)
    digest = hash_subset(tree)
    return Source(
        version=read_itk_version(tree),
        source_sha256=digest,
        patched=patched,
        origin=str(tree),
        prepared=cache / "sources" / f"dir-{digest[:16]}-p{patch_sha256()[:12] if patched else 'none'}",
        tree=tree,
    )


def prepare(cache: Path, source: Source) -> Path:
    """Return the prepared (subset, patched) source folder, creating it once.

    Built in ``<cache>/tmp`` and renamed into place when complete, under
    ``<cache>/.lock``, so concurrent builds prepare it once.
    """
    if (source.prepared / SOURCE_INFO).is_file():
        return source.prepared
    with file_lock(cache / ".lock"):
        if not (source.prepared / SOURCE_INFO).is_file():
            started = time.monotonic()
            (cache / "tmp").mkdir(exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=f"source-{os.getpid()}-", dir=cache / "tmp") as tmp:
                staged = Path(tmp) / "src"
                fill_subset(cache, source, staged, Path(tmp))
                finish(staged, source)
                source.prepared.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, source.prepared)
            log(f"source preparation took {time.monotonic() - started:.1f} s")
    return source.prepared


def fill_subset(cache: Path, source: Source, dest: Path, scratch: Path) -> None:
    """Put the unpatched subset into ``dest``: copy the given tree or extract the tarball."""
    if source.tree is not None:
        log(f"copying the ITK subset of {source.tree}")
        for rel in subset_files(source.tree):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source.tree / rel, dest / rel)
        return
    try:
        tarball = debian_source.orig_tarball(cache / "downloads", scratch)
    except SuperbuildError as error:
        fail(f"{error}\n{NO_SOURCE_HINT}")
    log(f"extracting the ITK subset of {tarball.name}")
    dest.mkdir()
    top = debian_source.TOP_FOLDER
    run(
        [
            "tar", "-xf", str(tarball), "-C", str(dest), "--strip-components=1",
            "--no-same-owner", "--no-same-permissions",
            *(f"--exclude={top}/{path}" for path in EXCLUDED_PATHS),
            *(f"{top}/{path}" for path in SUBSET_PATHS),
        ]
    )  # fmt: skip


def in_subset(rel: PurePosixPath) -> bool:
    """Tell whether a source-relative path belongs to the needed subset."""
    text = rel.as_posix()
    if any(text == p or text.startswith(p + "/") for p in EXCLUDED_PATHS):
        return False
    return any(text == p or text.startswith(p + "/") for p in SUBSET_PATHS)


def subset_files(root: Path) -> Iterator[PurePosixPath]:
    """Yield the subset's files of a source tree, sorted, relative to ``root``."""
    found: list[PurePosixPath] = []
    for top in SUBSET_PATHS:
        if (root / top).is_file():
            found.append(PurePosixPath(top))
            continue
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            found += [PurePosixPath(rel_dir, name) for name in filenames]
    yield from sorted(p for p in found if in_subset(p))


def hash_subset(root: Path) -> str:
    """Hash the subset's relative paths and contents: a given tree's identity."""
    digest = hashlib.sha256()
    for rel in subset_files(root):
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(sha256_file(root / rel).encode() + b"\n")
    return digest.hexdigest()


def check_required(root: Path, origin: str) -> None:
    """Fail unless the tree has the paths the build cannot do without."""
    missing = [p for p in REQUIRED_PATHS if not (root / p).exists()]
    if missing:
        fail(f"{origin} is not a usable ITK source tree (missing {', '.join(missing)})")


def read_itk_version(root: Path) -> str:
    """Read MAJOR.MINOR.PATCH from ``CMake/itkVersion.cmake``."""
    text = (root / "CMake" / "itkVersion.cmake").read_text(encoding="utf-8")
    parts = [re.search(rf'set\(\s*ITK_VERSION_{p}\s+"?(\d+)', text) for p in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        fail(f"cannot read the ITK version from {root}/CMake/itkVersion.cmake")
    return ".".join(match.group(1) for match in parts if match)


def lacks_equal(root: Path) -> bool:
    """Tell whether MetaDataObjectBase lacks ITK 5.4's ``Equal`` virtual (so needs the patch)."""
    header = (root / METADATA_BASE_HEADER).read_text(encoding="utf-8")
    return EQUAL_VIRTUAL_RE.search(header) is None


def finish(staged: Path, source: Source) -> None:
    """Check and (if needed) patch a fresh subset, then write its SOURCE_INFO."""
    check_required(staged, source.origin)
    version = read_itk_version(staged)
    if version != source.version:
        fail(f"{source.origin}: found ITK {version}, expected {source.version}")
    if source.patched != lacks_equal(staged):
        fail(f"{source.origin}: MetaDataObjectBase changed since it was examined")
    if source.patched:
        if shutil.which("patch") is None:
            fail("applying the ITK back-port needs 'patch' (apt-get install patch)")
        try:
            # -F0: a hunk whose context does not match exactly is refused.
            run(["patch", "-p1", "-N", "-F0", "-s", "-i", str(PATCH_FILE)], cwd=staged)
        except SuperbuildError as error:
            fail(f"{error}: the back-port does not apply; is this ITK 5.2.x?")
        if lacks_equal(staged):
            fail(f"{source.origin}: MetaDataObjectBase still lacks Equal()")
        log(f"applied {PATCH_FILE.name}")
    write_json(
        staged / SOURCE_INFO,
        {
            "itk_version": version,
            "source_sha256": source.source_sha256,
            "patched": source.patched,
            "origin": source.origin,
        },
    )
