"""The two double reads of issue 24, before and after, measured in the same run.

* The Python path's ``SimpleITK.ReadImage`` of a ``.tag`` (``itk_tag.hosts.dispatch.read_simpleitk``)
  read the header, then opened the file again to read the header once more with the
  voxels; now one open reads both. *Before* is that former sequence, rebuilt from the
  same functions (``read_header``, then ``read_voxels_into`` into a new image).
* ``itk-tag doctor`` described each host's ITK library (an ELF read by the entry
  library) once for the served rule and once more for its ABI; now the rule's answer
  carries the description. *Before* is the former ``_describe``.

Contenders alternate within a round, in one process (the reads are of the page cache;
a round is thousands of reads); the ratio after/before is taken per round, and the
median over rounds is reported, with the median times. Bytes read per call come from
``rchar`` of /proc/self/io::

    .venv/bin/python bench/double_reads.py [--rounds 7] [--reads 2000]

(with the native builds allowed: with ITK_TAG_NATIVE=0 the served rule reads no library)
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "test" / "data"
SAMPLE = DATA / "sandbox-test01.dcm.tag"


def rchar() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def read_before(path: str) -> Any:
    """The Python path's SimpleITK read before issue 24: the header, then header and voxels again."""
    from itk_tag.format import read_header, read_voxels_into
    from itk_tag.hosts.dispatch import image_with_header
    from itk_tag.hosts.image_buffer import new_voxels

    header = read_header(path)
    voxels = new_voxels(header)
    read_voxels_into(path, header, voxels)
    return image_with_header(voxels, header)


def read_after(path: str) -> Any:
    from itk_tag.hosts.dispatch import read_simpleitk

    return read_simpleitk(path)


def library(package: str, pattern: str) -> Path:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations
    return sorted(Path(next(iter(spec.submodule_search_locations))).glob(pattern))[0]


def describe_before(path: Path) -> tuple[Any, Any]:
    """doctor's ``_describe`` before issue 24: the served rule, then the library described again."""
    from itk_tag.hosts import plugins

    verdict = plugins.served_build(path)
    return verdict, plugins.describe_library(path).abi


def describe_after(path: Path) -> tuple[Any, Any]:
    from itk_tag.hosts import plugins

    verdict = plugins.served_build(path)
    return verdict, verdict.host.abi if verdict.host else plugins.describe_library(path).abi


def timed(call: Callable[[], Any], count: int) -> tuple[float, float]:
    """Seconds per call and bytes read per call, over ``count`` calls."""
    before_bytes = rchar()
    start = time.perf_counter()
    for _ in range(count):
        call()
    seconds = (time.perf_counter() - start) / count
    return seconds, (rchar() - before_bytes) / count


def compare(name: str, before: Callable[[], Any], after: Callable[[], Any], count: int, rounds: int) -> str:
    before(), after()  # warm-up: imports, factory registration
    ratios, times, reads = [], {"before": [], "after": []}, {}
    for number in range(rounds):
        order = (
            (("before", before), ("after", after))
            if number % 2 == 0
            else (("after", after), ("before", before))
        )
        here = {}
        for side, call in order:
            here[side], reads[side] = timed(call, count)
            times[side].append(here[side])
        ratios.append(here["after"] / here["before"])
    median = {side: statistics.median(values) * 1e6 for side, values in times.items()}
    return (
        f"| {name} | {median['before']:.1f} µs, {reads['before']:.0f} B read | "
        f"{median['after']:.1f} µs, {reads['after']:.0f} B read | **{statistics.median(ratios):.2f}** "
        f"({min(ratios):.2f}–{max(ratios):.2f}) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reads", type=int, default=2000, help="SimpleITK reads per contender and round")
    parser.add_argument(
        "--describes", type=int, default=200, help="doctor descriptions per contender and round"
    )
    args = parser.parse_args()
    import itk_tag  # noqa: F401 - before SimpleITK, as users must

    path = str(SAMPLE)
    assert read_before(path).GetMetaDataKeys() == read_after(path).GetMetaDataKeys()
    print("| double read | before | after | after / before (median, min–max over rounds) |")
    print("| --- | --- | --- | --- |")
    print(compare(f"Python-path `sitk.ReadImage` of {SAMPLE.name} (512×512×1)",
                  lambda: read_before(path), lambda: read_after(path), args.reads, args.rounds))  # fmt: skip
    for package, pattern in (("SimpleITK", "_SimpleITK*"), ("itk", "_ITKCommonPython*")):
        found = library(package, pattern)
        print(compare(f"`doctor`: describe {found.name}", lambda f=found: describe_before(f),
                      lambda f=found: describe_after(f), args.describes, args.rounds))  # fmt: skip


if __name__ == "__main__":
    main()
