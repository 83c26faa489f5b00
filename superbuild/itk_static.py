#!/usr/bin/env python3
"""Build (once) and cache a minimal, static, PIC, hidden-visibility ITK.

The itk-tag plugins carry a private copy of ITK. Each host wheel needs its own
libstdc++ ABI (and 3D Slicer its own namespace), so this script builds ITK once
per variant and caches the result::

    python superbuild/itk_static.py --abi {new|old|new,old} [--namespace {itk|slicer_itk|itk,slicer_itk}]
        [--dynamic-loading] [--objects {plugin,host,all}] [--jobs N] [--print-variants]

Only the objects the consumer links are compiled (itk_objects.py); the source
comes from itk_source.py. Progress goes to stderr. For one variant, the LAST
line of stdout is the absolute folder holding ``ITKConfig.cmake`` (the value for
``ITK_DIR``); for several (comma-separated values) or with ``--print-variants``,
one ``<variant>=<ITK_DIR>`` line each, e.g. ``old-slicer_itk=/...``. A second run
with the same inputs prints the same at once without rebuilding.

Cache root: ``ITK_TAG_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/itk-tag``.
Standard library only (Python 3.9+); README.md says why each part exists.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import itk_objects
import itk_source
from common import SuperbuildError, fail, file_lock, log, run, sha256_file, stop_all, write_json

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import FrameType

# Bump when the cache layout or the meaning of a cached item changes.
# 2: object lists (itk_objects.py), source paths mapped out of the binaries.
SCHEMA = 2
ABI_DEFINES = {"new": "-D_GLIBCXX_USE_CXX11_ABI=1", "old": "-D_GLIBCXX_USE_CXX11_ABI=0"}
# 3D Slicer's ITK fork renames the namespace (its itkNamespace.h does
# ``#define itk slicer_itk``); a plugin for it must be built the same way.
NAMESPACE_DEFINES = {"itk": (), "slicer_itk": ("-Ditk=slicer_itk",)}
STALE_TMP_SECONDS = 2 * 24 * 3600


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


def cache_root() -> Path:
    """Return the cache root directory (not created)."""
    explicit = os.environ.get("ITK_TAG_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(xdg).expanduser() / "itk-tag").resolve()


def sweep_stale_tmp(cache: Path) -> None:
    """Remove what killed runs left in ``<cache>/tmp`` (older than two days)."""
    cutoff = time.time() - STALE_TMP_SECONDS
    for entry in (cache / "tmp").glob("*"):
        with contextlib.suppress(OSError):  # another run may remove its own meanwhile
            if entry.lstat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)


# ------------------------------------------------------------------ cache key


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


def install_dir(cache: Path, source: itk_source.Source, variant: Variant) -> Path:
    """Cache folder of the install for (source, variant, flags, object list, patch, compilers)."""
    listed = itk_objects.list_file(variant.objects) if variant.objects != "all" else None
    key = {
        "schema": SCHEMA,
        "source_sha256": source.source_sha256,
        "patch_sha256": itk_source.patch_sha256() if source.patched else None,
        "abi": variant.abi,  # the namespace and dynamic loading are in the flags
        "objects": variant.objects,
        "object_list": sha256_file(listed) if listed else None,
        "flags": configure_flags(variant),
        "cc": compiler_identity("CC", "cc"),
        "cxx": compiler_identity("CXX", "c++"),
        "cflags": os.environ.get("CFLAGS", ""),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return cache / "installs" / f"itk-{source.version}-{variant.name}-{digest}"


def itk_dir(install: Path, version: str) -> Path:
    """Return the folder with ITKConfig.cmake inside an install prefix."""
    major_minor = ".".join(version.split(".")[:2])
    return install / "lib" / "cmake" / f"ITK-{major_minor}"


def is_complete(install: Path, version: str) -> bool:
    """Tell whether an install folder was published by a finished build."""
    marker = install / itk_source.SOURCE_INFO
    return marker.is_file() and (itk_dir(install, version) / "ITKConfig.cmake").is_file()


# ---------------------------------------------------------------------- build


@dataclass(frozen=True)
class BuildPlan:
    """Everything one ITK build needs."""

    source: itk_source.Source
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
    # ninja itself, not cmake --build: on SIGTERM ninja stops its compilers.
    run(["ninja", "-C", str(build), "-j", str(plan.jobs)])
    return "all"


def build_install(cache: Path, plan: BuildPlan) -> None:
    """Configure, build and install ITK into a staging folder, then rename it into place."""
    source, install = plan.source, plan.install
    root = itk_source.prepare(cache, source)
    missing = [tool for tool in ("cmake", "ninja") if shutil.which(tool) is None]
    if missing:
        fail(f"not on PATH: {', '.join(missing)} (pip install cmake ninja)")
    (cache / "tmp").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"build-{plan.variant.name}-", dir=cache / "tmp") as tmp:
        build, stage = Path(tmp) / "build", Path(tmp) / "stage"
        started = time.monotonic()
        maps = path_maps(root, build, source.version)
        c_flags = " ".join(filter(None, [os.environ.get("CFLAGS", ""), maps]))
        flags = [*configure_flags(plan.variant, maps), f"-DCMAKE_C_FLAGS={c_flags}"]
        run(["cmake", "-S", str(root), "-B", str(build), *flags, f"-DCMAKE_INSTALL_PREFIX={install}"])
        configured = time.monotonic()
        built_what = compile_itk(build, plan)
        built = time.monotonic()
        # DESTDIR staging keeps the final prefix in the installed files.
        run(["cmake", "--install", str(build)], env={**os.environ, "DESTDIR": str(stage)})
        staged = Path(str(stage) + str(install))
        if not (itk_dir(staged, source.version) / "ITKConfig.cmake").is_file():
            fail(f"the ITK install in {staged} has no ITKConfig.cmake")
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
        write_json(staged / itk_source.SOURCE_INFO, info)
        install.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, install)
    log(
        f"ITK {source.version} ({plan.variant.name}, {built_what}): configure {configured - started:.0f} s, "
        f"build {built - configured:.0f} s, install {time.monotonic() - built:.0f} s"
    )


def ensure_install(cache: Path, variant: Variant, jobs: int) -> Path:
    """Return the ITK_DIR for ``variant``, building ITK first if it is not cached.

    One lock per install lets different variants build at once while two runs
    never build the same one.
    """
    source = itk_source.resolve(cache)
    install = install_dir(cache, source, variant)
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
    side by side, each with its share of ``jobs``. If one fails or the run is
    interrupted, the others' commands are stopped before the error is raised.
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


# ----------------------------------------------------------------------- main


def choices(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    """An argparse type: a comma-separated list of ``allowed`` values."""

    def parse(text: str) -> list[str]:
        values = [v for v in text.split(",") if v]
        if not values or any(v not in allowed for v in values):
            raise argparse.ArgumentTypeError(f"{text!r}: choose from {', '.join(allowed)} (comma-separated)")
        return values

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--abi", required=True, type=choices(sorted(ABI_DEFINES)), help="libstdc++ ABI: new, old or new,old")
    add(
        "--namespace",
        default=["itk"],
        type=choices(sorted(NAMESPACE_DEFINES)),
        help="C++ namespace of ITK: itk (default), slicer_itk (as 3D Slicer's ITK: -Ditk=slicer_itk) or both",
    )
    add("--dynamic-loading", action="store_true", help="ITK_DYNAMIC_LOADING=ON: for test-host ITKs only")
    add(
        "--objects",
        choices=itk_objects.PROFILES,
        help="objects to compile: plugin (default), host (default with --dynamic-loading) or all",
    )
    add("--print-variants", action="store_true", help="print '<variant>=<ITK_DIR>' even for one variant")
    add("--jobs", type=int, default=os.cpu_count() or 1, help="parallel build jobs")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.objects is None:
        args.objects = "host" if args.dynamic_loading else "plugin"
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, so that commands are stopped and scratch folders removed."""
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
