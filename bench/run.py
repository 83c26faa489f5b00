"""itk-tag read benchmark: speed and memory against the raw-read limit and ITK's own readers.

Run through ``bench/run.sh`` (which installs itk-tag if needed and builds the
C++ program), or directly with the repository's ``.venv`` Python::

    .venv/bin/python bench/run.py [--rounds 5] [--files 1000] [--markdown bench/out/table.md]

It writes its own data (a 512x512x1000 BYTE volume, 1000 one-slice files) into
a temporary folder under ``bench/out/`` and removes it afterwards. Every
measurement of a read runs in a fresh process (``worker.py``) that warms up
first; contenders are interleaved round by round, and ratios are taken within
a round, then the median over rounds, so that the load of a shared machine
hits both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

BENCH = Path(__file__).resolve().parent
WORKER = BENCH / "worker.py"
DEFAULT_CXX = BENCH / "out" / "build" / "tag_read_bench"
LABELS = np.array([0, 1, 2, 5, 7], dtype=np.uint8)
MIB = 1024 * 1024

# Geometry of the generated files; any plausible CT grid does.
ORIGIN = (-207.0, -58.0, 293.1)
SPACING = (0.6758, 0.6758, 3.0)


# ---------------------------------------------------------------- data


def label_slice(width: int, height: int, z: int) -> np.ndarray:
    """Slice z of the test pattern: labels of the Alberta protocol in 64-pixel squares, shifting with z."""
    y, x = np.mgrid[0:height, 0:width]
    return LABELS[(x // 64 + y // 64 + z) % len(LABELS)]


def expected(point: Sequence[int]) -> int:
    """The pattern's value at (z, y, x)."""
    z, y, x = point
    return int(LABELS[(x // 64 + y // 64 + z) % len(LABELS)])


def tag_header(size: tuple[int, int, int]) -> bytes:
    """A header laid out as sliceOmatic writes it (LF line ends, trailing spaces, form feed)."""
    x, y, z = size
    lines = [
        f"x:{x:<7}  y:{y:<7}  z:{z:<7}  type:BYTE ",
        "".join(f"{k}:{v:<11.4f}  " for k, v in zip(("org_x", "org_y", "org_z"), ORIGIN)),
        "".join(f"{k}:{v:<11.4f}  " for k, v in zip(("inc_x", "inc_y", "epais"), SPACING)),
        "dir_h_x:1.0000     dir_h_y:0.0000     dir_h_z:0.0000     ",
        "dir_v_x:0.0000     dir_v_y:1.0000     dir_v_z:0.0000     ",
        "uid:EE9DCED7 chksum:09E62542 bin:256 ",
    ]
    return ("\n".join(lines) + "\n\f").encode("ascii")


def nrrd_fields(size: tuple[int, int, int], reversed_slices: bool = False) -> str:
    """NRRD header fields for the same grid (raw, little endian, LPS); with ``reversed_slices``, the
    grid whose slices run the other way (first slice on top, slice axis -z).
    """
    sign = [1.0, 1.0, -1.0 if reversed_slices else 1.0]
    directions = " ".join(
        "(" + ",".join(repr(sign[i] * SPACING[i] if i == j else 0.0) for j in range(3)) + ")"
        for i in range(3)
    )
    top = ORIGIN[2] + SPACING[2] * (size[2] - 1) if reversed_slices else ORIGIN[2]
    return (
        "type: uint8\ndimension: 3\nspace: left-posterior-superior\n"
        f"sizes: {size[0]} {size[1]} {size[2]}\nspace directions: {directions}\n"
        "kinds: domain domain domain\nendian: little\nencoding: raw\n"
        f"space origin: ({ORIGIN[0]!r},{ORIGIN[1]!r},{top!r})\n"
    )


@dataclass
class Data:
    """The generated files."""

    root: Path
    volume_tag: Path
    volume_nhdr: Path
    reversed_nhdr: Path
    """A reference grid for the volume whose slices run the other way (a header only)."""
    volume_size: tuple[int, int, int]
    header_size: int
    slice_tags: list[Path]
    slice_nrrds: list[Path]
    small_nrrd: Path

    @property
    def volume_bytes(self) -> int:
        return int(np.prod(self.volume_size))

    @property
    def slice_bytes(self) -> int:
        return self.volume_size[0] * self.volume_size[1]


def generate(root: Path, slices: int, files: int) -> Data:
    """Writes the volume (.tag and a detached .nhdr on its bytes) and the one-slice files."""
    width = height = 512
    size = (width, height, slices)
    patterns = [label_slice(width, height, z).tobytes() for z in range(len(LABELS))]
    header = tag_header(size)
    volume_tag = root / "volume.tag"
    with volume_tag.open("wb") as out:
        out.write(header)
        for z in range(slices):
            out.write(patterns[z % len(LABELS)])
    # The hand-made route users take today: ITK's NRRD reader pointed at the
    # .tag's bytes, past its header.
    volume_nhdr = root / "volume.nhdr"
    volume_nhdr.write_text(
        f"NRRD0004\n{nrrd_fields(size)}byte skip: {len(header)}\ndata file: {volume_tag.name}\n"
    )
    reversed_nhdr = root / "volume-reversed.nhdr"
    reversed_nhdr.write_text(
        f"NRRD0004\n{nrrd_fields(size, True)}byte skip: {len(header)}\ndata file: {volume_tag.name}\n"
    )
    (root / "tags").mkdir()
    (root / "nrrds").mkdir()
    one = (width, height, 1)
    tags, nrrds = [], []
    for i in range(files):
        voxels = patterns[i % len(LABELS)]
        tag = root / "tags" / f"slice{i:04d}.tag"
        tag.write_bytes(tag_header(one) + voxels)
        nrrd = root / "nrrds" / f"slice{i:04d}.nrrd"
        nrrd.write_bytes(f"NRRD0004\n{nrrd_fields(one)}\n".encode("ascii") + voxels)
        tags.append(tag)
        nrrds.append(nrrd)
    return Data(root, volume_tag, volume_nhdr, reversed_nhdr, size, len(header), tags, nrrds, nrrds[0])


def warm_page_cache(paths: Sequence[Path]) -> None:
    """Reads the files once, so that every contender reads from the page cache."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(16 * MIB):
                pass


# ---------------------------------------------------------------- running


def run_worker(case: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Runs one worker case in a fresh process and returns its JSON result.

    ``"itk_tag": False`` among the arguments measures SimpleITK without itk-tag:
    the startup hook is turned off too (else ``import SimpleITK`` imports itk_tag).
    """
    off = {"ITK_TAG_NO_AUTOLOAD": "1"} if arguments.get("itk_tag") is False else {}
    return run_json([sys.executable, str(WORKER), case, json.dumps(arguments)], off)


# Set by --pythonpath: a candidate itk_tag (a package folder with its plugins)
# measured in place of the installed one.
CANDIDATE: Optional[Path] = None


def environment() -> dict[str, str]:
    """The environment of every measured process."""
    variables = dict(os.environ)
    # A plugin path inherited from the shell would change what is measured.
    variables.pop("ITK_AUTOLOAD_PATH", None)
    variables.pop("ITK_TAG_NO_AUTOLOAD", None)
    if CANDIDATE is not None:
        variables["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(CANDIDATE), variables.get("PYTHONPATH")) if p
        )
    return variables


def run_json(command: list[str], extra_env: Optional[dict[str, str]] = None) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, env={**environment(), **(extra_env or {})})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed(command: list[str]) -> float:
    """Wall time of a command (its start-up included), which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@dataclass
class Row:
    """One line of the results table."""

    section: str
    name: str
    values: dict[str, str]
    target: str = ""
    met: Optional[bool] = None
    note: str = ""


@dataclass
class Report:
    """Rows collected so far and the notes printed under the table."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> None:
        self.rows.append(row)
        status = "" if row.met is None else (" [met]" if row.met else " [MISSED]")
        values = ", ".join(f"{k} {v}" for k, v in row.values.items())
        print(f"  {row.name}: {values}{' | target ' + row.target if row.target else ''}{status}", flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median over rounds of numerator/denominator, each pair taken in the same round."""
    return median([a / b for a, b in zip(numerators, denominators)])


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """'median (min-max)' of values times scale."""
    low, middle, high = (v * scale for v in (min(values), median(values), max(values)))
    return f"{middle:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def check_samples(label: str, got: Sequence[int], points: Sequence[Sequence[int]]) -> None:
    want = [expected(p) for p in points]
    if list(got) != want:
        raise RuntimeError(f"{label}: read voxels {list(got)} at (z, y, x) {points}, expected {want}")


# ---------------------------------------------------------------- 1. large volume

READ_WITHOUT_PLUGIN = "itk_tag.read .tag, SimpleITK imported without the plugin (zero-filled image)"
READ_REVERSED = "itk_tag.read .tag --reference whose slices run the other way (flipped in place)"
PURE_READ = "itk_tag.format.read_array .tag (pure Python)"
NATIVE_READ = "_native.read_voxels_into .tag (C++ TagImageIO)"


def bench_volume(
    data: Data, rounds: int, cxx: Optional[Path], report: Report, rows: Optional[list[str]] = None
) -> None:
    x, y, z = data.volume_size
    points = [[0, 0, 0], [z // 2, y // 2, x // 2], [z - 1, y - 1, x - 1]]
    tag, nhdr = str(data.volume_tag), str(data.volume_nhdr)
    common = {"points": points, "size": list(data.volume_size)}
    contenders: dict[str, tuple[str, dict[str, Any]]] = {
        "numpy.fromfile (limit)": ("numpy", {"path": tag, "offset": data.header_size, **common}),
        "numpy.fromfile, no huge pages": (
            "numpy",
            {"path": tag, "offset": data.header_size, "hugepages": False, **common},
        ),
        "itk_tag.read_array .tag": ("read_array", {"path": tag, **common}),
        PURE_READ: ("pure_read_array", {"path": tag, **common}),
        NATIVE_READ: ("native_read_voxels", {"path": tag, **common}),
        "itk_tag.read .tag (SimpleITK image)": ("itk_tag_read", {"path": tag, **common}),
        READ_WITHOUT_PLUGIN: ("itk_tag_read", {"path": tag, "itk_tag": False, **common}),
        # Flipped onto the reference grid: the image's voxel (z, y, x) is the file's (Z-1-z, y, x).
        READ_REVERSED: (
            "itk_tag_read",
            {
                "path": tag,
                "reference": str(data.reversed_nhdr),
                "size": list(data.volume_size),
                "points": [[z - 1 - p[0], p[1], p[2]] for p in points],
            },
        ),
        "itk.imread .tag": ("itk", {"path": tag, **common}),
        "itk.imread .nhdr": ("itk", {"path": nhdr, **common}),
        "sitk.ReadImage .tag": ("sitk", {"path": tag, **common}),
        "sitk.ReadImage .nhdr": ("sitk", {"path": nhdr, **common}),
    }
    commands: dict[str, list[str]] = {}
    if cxx is not None:
        commands = {
            "C++ read() (limit)": [str(cxx), "raw", tag, str(data.header_size), str(data.volume_bytes)],
            "C++ read(), huge pages": [
                str(cxx),
                "raw-thp",
                tag,
                str(data.header_size),
                str(data.volume_bytes),
            ],
            "C++ ImageFileReader .tag": [str(cxx), "read", tag],
            "C++ ImageFileReader .nhdr": [str(cxx), "read", nhdr],
            "C++ ImageFileReader .tag, Read() advising huge pages": [str(cxx), "read-thp", tag],
        }
    if rows:
        # The limit always runs: every ratio is taken against it.
        keep = ["numpy.fromfile (limit)", *rows]
        contenders = {k: v for k, v in contenders.items() if any(r in k for r in keep)}
        commands = {k: v for k, v in commands.items() if any(r in k for r in keep)}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in [*contenders, *commands]}
    warm_page_cache([data.volume_tag])
    for index in range(rounds):
        print(f"  round {index + 1}/{rounds} (load {load_average()})", flush=True)
        for name, (case, arguments) in contenders.items():
            results[name].append(run_worker(case, arguments))
        for name, command in commands.items():
            results[name].append(run_json(command))
    raw_points = [[0, 0, 0], [z // 2, 0, 0], [z - 1, y - 1, x - 1]]
    for name, runs in results.items():
        check_samples(name, runs[-1]["samples"], raw_points if "read()" in name else points)
    if READ_REVERSED in results and not all(run["reversed_slices"] for run in results[READ_REVERSED]):
        raise RuntimeError(f"{READ_REVERSED}: the reference did not run the other way")

    size = data.volume_bytes
    seconds = {name: [r["seconds"] for r in runs] for name, runs in results.items()}
    limit = seconds["numpy.fromfile (limit)"]
    nhdr_route = {
        "itk.imread .tag": "itk.imread .nhdr",
        "sitk.ReadImage .tag": "sitk.ReadImage .nhdr",
        "C++ ImageFileReader .tag": "C++ ImageFileReader .nhdr",
    }
    report.notes.append(
        f"Volume: {x}x{y}x{z} BYTE = {size / 1e6:.1f} MB ({size / MIB:.1f} MiB) from the page cache; "
        f"throughput ratio = t(numpy.fromfile) / t(reader), median of per-round ratios; "
        f"peak RSS = VmHWM above VmRSS just before the read, over the image size."
    )
    for name, runs in results.items():
        peak = median([r["peak_extra"] for r in runs]) / size
        throughput = paired_ratio(limit, seconds[name])
        values = {
            "time s": spread(seconds[name]),
            "MB/s": f"{size / median(seconds[name]) / 1e6:.0f}",
            "vs numpy.fromfile": f"{throughput:.2f}x",
            "peak RSS / image": f"{peak:.3f}",
        }
        targets, met = [], []
        if name == PURE_READ:
            targets, met = [">= 0.95x numpy.fromfile", "RSS <= 1.1"], [throughput >= 0.95, peak <= 1.1]
            if NATIVE_READ in seconds:
                values["vs native read"] = f"{paired_ratio(seconds[NATIVE_READ], seconds[name]):.2f}x"
        elif name in (READ_REVERSED, READ_WITHOUT_PLUGIN):
            # Flipping 1000 slices in place, or SimpleITK's zero-filling of a new image, costs time
            # by design; memory is the target here.
            targets, met = ["RSS <= 1.1"], [peak <= 1.1]
        elif ".tag" in name:
            targets += [">= 0.9x numpy.fromfile", "RSS <= 1.1"]
            met += [throughput >= 0.9, peak <= 1.1]
        if name in nhdr_route:
            versus = paired_ratio(seconds[nhdr_route[name]], seconds[name])
            values["vs .nhdr route"] = f"{versus:.2f}x"
            targets.append(">= 1.0x .nhdr")
            # Ties within 3 % are noise on a shared machine, not "slower".
            met.append(versus >= 0.97)
        report.add(Row("1. large volume", name, values, "; ".join(targets), all(met) if met else None))


# ---------------------------------------------------------------- 2. per-file overhead


def per_file_row(name: str, passes: Sequence[float], files: int, note: str = "") -> Row:
    return Row(
        "2. per file",
        name,
        {"files/s": f"{files / median(passes):.0f}", "ms/file": spread(passes, 1000 / files)},
        note=note,
    )


def bench_per_file(data: Data, rounds: int, itk_files: int, report: Report) -> None:
    tags = [str(p) for p in data.slice_tags]
    nrrds = [str(p) for p in data.slice_nrrds]
    n = len(tags)
    report.notes.append(
        f"Per file: {n} files of 512x512x1 BYTE ({data.slice_bytes / 1024:.0f} KiB) from the page cache; "
        "a pass reads every file once, after a warm-up of 20 files. SimpleITK: per round, one process "
        "reads a .tag pass and a .nrrd pass (order alternating), and one process without itk_tag a .nrrd "
        f"pass; ITK Python and read_array: one process, {rounds} passes per format alternating."
    )
    passes: dict[str, list[float]] = {"tag": [], "nrrd": [], "plain": []}
    for index in range(rounds):
        print(f"  round {index + 1}/{rounds} (load {load_average()})", flush=True)
        order = {"tag": tags, "nrrd": nrrds} if index % 2 == 0 else {"nrrd": nrrds, "tag": tags}
        both = run_worker("per_file", {"reader": "sitk", "rounds": 1, "files": order})["passes"]
        plain = run_worker(
            "per_file", {"reader": "sitk", "itk_tag": False, "rounds": 1, "files": {"nrrd": nrrds}}
        )
        passes["tag"] += both["tag"]
        passes["nrrd"] += both["nrrd"]
        passes["plain"] += plain["passes"]["nrrd"]
    ratio = paired_ratio(passes["tag"], passes["nrrd"])
    report.add(per_file_row("sitk.ReadImage .tag", passes["tag"], n))
    report.add(per_file_row("sitk.ReadImage .nrrd", passes["nrrd"], n))
    report.add(
        Row("2. per file", "sitk .tag / .nrrd time", {"ratio": f"{ratio:.3f}"}, "<= 1.1", ratio <= 1.1)
    )
    report.add(
        per_file_row(
            "sitk.ReadImage .nrrd, itk_tag not imported",
            passes["plain"],
            n,
            f"t(.nrrd, plugin loaded) / t(this) = {paired_ratio(passes['nrrd'], passes['plain']):.2f}, "
            "across processes",
        )
    )
    subset = {"tag": tags[:itk_files], "nrrd": nrrds[:itk_files]}
    itk = run_worker("per_file", {"reader": "itk", "rounds": rounds, "files": subset})["passes"]
    report.add(per_file_row(f"itk.imread .tag ({itk_files} files)", itk["tag"], itk_files))
    report.add(per_file_row(f"itk.imread .nrrd ({itk_files} files)", itk["nrrd"], itk_files))
    itk_ratio = paired_ratio(itk["tag"], itk["nrrd"])
    report.add(Row("2. per file", "itk.imread .tag / .nrrd time", {"ratio": f"{itk_ratio:.3f}"}))
    arrays = run_worker("per_file", {"reader": "read_array", "rounds": rounds, "files": {"tag": tags}})
    report.add(per_file_row("itk_tag.read_array .tag", arrays["passes"]["tag"], n))


def bench_convert(data: Data, rounds: int, report: Report) -> None:
    """``itk-tag convert`` of the one-slice files to .nrrd, with 1 and 2 jobs, start-up included."""
    cli = Path(sys.executable).parent / "itk-tag"
    if not cli.exists():
        report.notes.append(f"itk-tag convert: {cli} not found, rows skipped (reinstall itk-tag)")
        return
    n = len(data.slice_tags)
    outputs = {jobs: data.root / f"converted-j{jobs}" for jobs in (1, 2)}
    loop_out = data.root / "converted-loop"
    loop_out.mkdir()
    loop_args = {
        "sources": [str(p) for p in data.slice_tags],
        "destinations": [str(loop_out / (p.stem + ".nrrd")) for p in data.slice_tags],
    }

    def command(jobs: int, inputs: Path) -> list[str]:
        return [str(cli), "convert", str(inputs), "-o", str(outputs[jobs]), "--format", "nrrd",
                "--overwrite", "--no-progress", "-j", str(jobs)]  # fmt: skip

    # One file (no worker processes either way): the command's fixed cost.
    single = data.root / "one"
    single.mkdir()
    shutil.copy(data.slice_tags[0], single)
    tags = data.root / "tags"
    timed(command(1, tags))  # warm-up: creates the output folder, fills caches
    wall: dict[str, list[float]] = {"loop": [], "j1": [], "j2": [], "one": []}
    cpu: dict[str, list[float]] = {"j1": [], "j2": []}
    for index in range(rounds):
        print(f"  round {index + 1}/{rounds} (load {load_average()})", flush=True)
        wall["loop"].append(run_worker("convert_loop", loop_args)["seconds"])
        wall["one"].append(timed(command(1, single)))
        for jobs in (1, 2):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall[f"j{jobs}"].append(timed(command(jobs, tags)))
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[f"j{jobs}"].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    written = len(list(outputs[2].rglob("*.nrrd")))
    if written != n:
        raise RuntimeError(f"itk-tag convert wrote {written} files for {n} inputs")
    report.add(
        per_file_row(
            "SimpleITK ReadImage .tag + WriteImage .nrrd loop (no CLI)",
            wall["loop"],
            n,
            "in-process loop, start-up not included",
        )
    )
    report.add(
        Row(
            "2. per file",
            "itk-tag convert of 1 file (fixed cost)",
            {"s per run": spread(wall["one"], digits=2)},
        )
    )

    def marginal(seconds: Sequence[float]) -> float:
        return (median(seconds) - median(wall["one"])) / (n - 1)

    for jobs in (1, 2):
        key = f"j{jobs}"
        values = {
            "files/s": f"{n / median(wall[key]):.0f}",
            "s per run": spread(wall[key], digits=2),
            "CPU s": spread(cpu[key], digits=2),
        }
        if jobs == 1:
            values["ms/file after the fixed cost"] = f"{marginal(wall[key]) * 1000:.2f}"
        report.add(
            Row(
                "2. per file",
                f"itk-tag convert -j {jobs} to .nrrd",
                values,
                note="whole command, start-up included; CPU = user + system of the command and its workers",
            )
        )
    report.add(
        Row(
            "2. per file",
            "itk-tag convert speed-up -j 2 / -j 1",
            {"ratio": f"{paired_ratio(wall['j1'], wall['j2']):.2f}x"},
        )
    )


# ---------------------------------------------------------------- 3. streamed slice


def bench_slice(data: Data, rounds: int, cxx: Optional[Path], report: Report) -> None:
    x, y, z = data.volume_size
    k = z // 2
    warmup = z // 4
    points = [[0, 0, 0], [0, y // 2, x // 2], [0, y - 1, x - 1]]
    tag, nhdr = str(data.volume_tag), str(data.volume_nhdr)
    arguments = {"slice": k, "warmup_slice": warmup, "points": points}
    contenders: dict[str, tuple[str, dict[str, Any]]] = {
        "itk ImageFileReader+Extract .tag": ("itk_slice", {"path": tag, **arguments}),
        "itk ImageFileReader+Extract .nhdr": ("itk_slice", {"path": nhdr, **arguments}),
        "sitk ImageFileReader SetExtract .tag": ("sitk_slice", {"path": tag, **arguments}),
        "sitk ImageFileReader SetExtract .nhdr": ("sitk_slice", {"path": nhdr, **arguments}),
    }
    commands: dict[str, list[str]] = {}
    if cxx is not None:
        commands = {
            "C++ ImageFileReader+Extract .tag": [str(cxx), "slice", tag, str(k)],
            "C++ ImageFileReader+Extract .nhdr": [str(cxx), "slice", nhdr, str(k)],
        }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in [*contenders, *commands]}
    for index in range(rounds):
        print(f"  round {index + 1}/{rounds} (load {load_average()})", flush=True)
        for name, (case, args) in contenders.items():
            results[name].append(run_worker(case, args))
        for name, command in commands.items():
            results[name].append(run_json(command))
    slice_points = [[k, 0, 0], [k, y // 2, x // 2], [k, y - 1, x - 1]]
    for name, runs in results.items():
        check_samples(name, runs[-1]["samples"], slice_points)
    report.notes.append(
        f"Streamed slice: slice z={k} of the volume; bytes read = rchar of /proc/self/io during the "
        f"read (one slice = {data.slice_bytes} bytes, the file = {data.volume_tag.stat().st_size} bytes)."
    )
    for name, runs in results.items():
        chars = median([r["rchar"] for r in runs])
        slices = chars / data.slice_bytes
        values = {
            "time ms": spread([r["seconds"] for r in runs], 1000, 1),
            "bytes read": f"{chars:.0f}",
            "slices read": f"{slices:.2f}",
        }
        target, met = "", None
        if name.endswith(".tag"):
            target, met = "~1 slice (<= 1.5)", slices <= 1.5
        report.add(Row("3. streamed slice", name, values, target, met))


# ---------------------------------------------------------------- 4. import cost


def bench_import(data: Data, rounds: int, itk_rounds: int, report: Report) -> None:
    folder = run_json(
        [sys.executable, "-c", "import itk_tag, json; print(json.dumps(str(itk_tag.plugin_path())))"]
    )
    sitk_variants = {
        "import SimpleITK, no itk-tag": {"variant": "sitk", "itk_tag": False},
        "import itk_tag; import SimpleITK": {"variant": "itk_tag+sitk"},
        "import SimpleITK, itk_tag imported by the startup hook": {"variant": "sitk-hook"},
        "import SimpleITK, no itk-tag, plugin folder exported": {
            "variant": "sitk",
            "itk_tag": False,
            "autoload_folder": folder,
        },
    }
    itk_variants = {
        "import itk; itk.imread(.nrrd), .tag factory": {"variant": "itk", "path": str(data.small_nrrd)},
        "import itk; itk.imread(.nrrd), no .tag factory": {
            "variant": "itk-without-tag",
            "path": str(data.small_nrrd),
        },
    }
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in [*sitk_variants, *itk_variants]}
    for variants, count in ((sitk_variants, rounds), (itk_variants, itk_rounds)):
        for arguments in variants.values():
            run_worker("import", arguments)  # warm-up: .pyc files and libraries in the page cache
        for index in range(count):
            if index % 5 == 0:
                print(f"  round {index + 1}/{count} (load {load_average()})", flush=True)
            # Alternate the order: the second may find the first's files in the CPU caches.
            order = list(variants.items()) if index % 2 == 0 else list(reversed(variants.items()))
            for name, arguments in order:
                results[name].append(run_worker("import", arguments))
    seconds = {name: [r["seconds"] for r in runs] for name, runs in results.items()}
    report.notes.append(
        f"Import: each variant in a fresh process ({rounds} interleaved rounds for SimpleITK, "
        f"{itk_rounds} for ITK Python, whose first imread loads most of ITK); time from the first import "
        "to the end of the first read (interpreter start-up excluded); extra = median of per-round "
        "differences."
    )
    for name, values in seconds.items():
        report.add(Row("4. import", name, {"time ms": spread(values, 1000, 0)}))

    def extra(with_tag: str, without: str) -> float:
        return median([a - b for a, b in zip(seconds[with_tag], seconds[without])])

    for name, variant in (
        ("extra of import itk_tag", "import itk_tag; import SimpleITK"),
        (
            "extra of the startup hook at import SimpleITK",
            "import SimpleITK, itk_tag imported by the startup hook",
        ),
    ):
        sitk_extra = extra(variant, "import SimpleITK, no itk-tag")
        report.add(Row("4. import", name, {"ms": f"{sitk_extra * 1000:.0f}"}, "< 50 ms", sitk_extra < 0.050))
    exported = "import SimpleITK, no itk-tag, plugin folder exported"
    entry_direct = [r["itkload_seconds"] for r in results[exported]]
    entry_extra = extra(exported, "import SimpleITK, no itk-tag")
    report.add(
        Row(
            "4. import",
            "cost of the plugin folder on ITK_AUTOLOAD_PATH",
            {
                "itkLoad ms": spread(entry_direct, 1000, 2),
                "difference of process times ms": f"{entry_extra * 1000:.1f}",
            },
            "< 5 ms",
            median(entry_direct) < 0.005,
            note="itkLoad = the entry library telling SimpleITK's ABI, namespace and version and loading its "
            "build, timed inside it (ITK_TAG_TRACE=1); the difference of two ~250 ms import times is noise "
            "at this scale",
        )
    )
    itk_extra = extra(
        "import itk; itk.imread(.nrrd), .tag factory", "import itk; itk.imread(.nrrd), no .tag factory"
    )
    direct = [r["factory_seconds"] for r in results["import itk; itk.imread(.nrrd), no .tag factory"]]
    report.add(
        Row(
            "4. import",
            "extra of the .tag factory in ITK Python",
            {
                "direct ms": spread(direct, 1000, 1),
                "difference of process times ms": f"{itk_extra * 1000:.0f}",
            },
            "< 50 ms",
            median(direct) < 0.050,
            note="direct = importing itk.IOTagPython and registering, after the first imread; the difference "
            "of two multi-second process times is noise at this scale",
        )
    )


# ---------------------------------------------------------------- 5. startup hook


def bench_startup(rounds: int, report: Report) -> None:
    """``python -c pass`` with and without itk-tag's startup hook (see startup.py for the baseline)."""
    result = run_json([sys.executable, str(BENCH / "startup.py"), "--rounds", str(rounds)])
    report.notes.append(
        f"Startup hook: `python -c pass` in two venvs of the same interpreter whose site-packages link "
        f"the same {result['site_entries']} entries of the installed environment, one without "
        f"itk-tag-autoload.pth (the baseline); {rounds} interleaved rounds, extra = median of per-round "
        "differences. The hook module's own import time is from `-X importtime` in the venv with the hook."
    )
    section = "5. startup hook"
    report.add(Row(section, "python -c pass, no hook (baseline)", {"ms": f"{result['baseline_ms']:.1f}"}))
    report.add(Row(section, "python -c pass, with the hook", {"ms": f"{result['hook_ms']:.1f}"}))
    report.add(Row(section, "python -c pass, ITK_TAG_NO_AUTOLOAD=1", {"ms": f"{result['off_ms']:.1f}"}))
    extra = result["hook_extra_ms"]
    report.add(Row(section, "extra of the startup hook", {"ms": f"{extra:.2f}"}, "< 2 ms", extra < 2.0))
    report.add(Row(section, "extra with ITK_TAG_NO_AUTOLOAD=1", {"ms": f"{result['off_extra_ms']:.2f}"}))
    report.add(
        Row(section, "import of the hook module (-X importtime)", {"ms": f"{result['import_ms']:.2f}"})
    )


# ---------------------------------------------------------------- output


def versions() -> dict[str, str]:
    """Versions of the measured stack, read in a worker-like fresh process."""
    code = (
        "import json, itk, itk_tag, SimpleITK as s, numpy\n"
        "print(json.dumps({'itk': itk.Version.GetITKVersion(), 'SimpleITK': s.Version.VersionString(),"
        " 'numpy': numpy.__version__, 'itk-tag': itk_tag.__version__}))"
    )
    return run_json([sys.executable, "-c", code])


def machine() -> list[str]:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) / 1024 / 1024
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    stack = ", ".join(f"{k} {v}" for k, v in versions().items())
    return [
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {os.cpu_count()} CPUs ({cpu}), {memory:.1f} GiB RAM, Linux {platform.release()}, "
        f"transparent huge pages {thp.read_text().strip() if thp.exists() else 'n/a'}",
        f"Python {platform.python_version()}; {stack}",
    ]


def markdown(report: Report, header: list[str]) -> str:
    lines = [*(f"- {line}" for line in header), ""]
    section = None
    for row in report.rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"### {section}",
                "",
                "| measurement | values | target | met |",
                "|---|---|---|---|",
            ]
        values = "; ".join(f"{k} {v}" for k, v in row.values.items())
        if row.note:
            values += f" ({row.note})"
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.name} | {values} | {row.target} | {met} |")
    lines += ["", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="measured processes per contender, interleaved (default 5)"
    )
    parser.add_argument(
        "--import-rounds", type=int, default=15, help="rounds of the SimpleITK import rows (default 15)"
    )
    parser.add_argument(
        "--slices", type=int, default=1000, help="slices of the 512x512 volume (default 1000)"
    )
    parser.add_argument("--files", type=int, default=1000, help="one-slice files (default 1000)")
    parser.add_argument("--itk-files", type=int, default=300, help="files read by itk.imread (default 300)")
    parser.add_argument("--cxx", type=Path, default=DEFAULT_CXX, help="the tag_read_bench program")
    parser.add_argument("--no-cxx", action="store_true", help="skip the C++ rows")
    parser.add_argument("--markdown", type=Path, help="also write the table as markdown to this file")
    parser.add_argument("--sections", default="12345", help="sections to run (default 12345)")
    parser.add_argument(
        "--startup-rounds", type=int, default=300, help="rounds of the startup hook rows (default 300)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument(
        "--volume-rows",
        help="comma-separated parts of the names of the large-volume rows to run (default: all)",
    )
    parser.add_argument(
        "--pythonpath",
        type=Path,
        help="folder holding a candidate itk_tag package (with its plugins) to measure instead of the "
        "installed one",
    )
    options = parser.parse_args(argv)
    global CANDIDATE
    CANDIDATE = options.pythonpath

    started = time.perf_counter()
    header = machine()
    header.append(f"load average at start: {load_average()} (1, 5, 15 min)")
    if CANDIDATE is not None:
        header.append(f"itk_tag measured from {CANDIDATE} (--pythonpath), not the installed package")
    print("\n".join(header), flush=True)
    volume_rows = options.volume_rows.split(",") if options.volume_rows else None
    cxx: Optional[Path] = options.cxx if options.cxx.is_file() and not options.no_cxx else None
    report = Report()
    if cxx is None:
        report.notes.append(f"C++ rows skipped: {options.cxx} not built (bench/run.sh builds it) or --no-cxx")
    failures: list[str] = []
    durations: list[str] = []
    (BENCH / "out").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="data-", dir=BENCH / "out"))
    try:
        print(f"generating data in {root}", flush=True)
        data = generate(root, options.slices, options.files)
        warm_page_cache([*data.slice_tags, *data.slice_nrrds])
        sections: list[tuple[str, str, Callable[[], None]]] = [
            ("1", "1. large volume", lambda: bench_volume(data, options.rounds, cxx, report, volume_rows)),
            (
                "2",
                "2. per-file overhead",
                lambda: bench_per_file(data, options.rounds, min(options.itk_files, options.files), report),
            ),
            ("2", "2. itk-tag convert", lambda: bench_convert(data, options.rounds, report)),
            ("3", "3. streamed slice", lambda: bench_slice(data, options.rounds, cxx, report)),
            (
                "4",
                "4. import cost",
                lambda: bench_import(data, options.import_rounds, options.rounds, report),
            ),
            ("5", "5. startup hook", lambda: bench_startup(options.startup_rounds, report)),
        ]
        for key, title, section in sections:
            if key not in options.sections:
                continue
            print(title, flush=True)
            began = time.perf_counter()
            # One broken section must not lose the others' results.
            try:
                section()
            except Exception as error:
                failures.append(f"{title}: {error}")
                print(f"  FAILED: {error}", flush=True)
            durations.append(f"{title.split(' ', 1)[1]} {time.perf_counter() - began:.0f} s")
    finally:
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    header.append(
        f"load average at end: {load_average()}; bench took {time.perf_counter() - started:.0f} s "
        f"({', '.join(durations)})"
    )
    table = markdown(report, header)
    print("\n" + table)
    if options.markdown:
        options.markdown.write_text(table)
    missed = [row.name for row in report.rows if row.met is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}", flush=True)
    for failure in failures:
        print(f"section failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
