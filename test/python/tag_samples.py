"""Test data made on the fly: label tags written as sliceOmatic writes them,
DICOM series written with SimpleITK, and a runner for the ``itk-tag`` command."""

from __future__ import annotations

import locale
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import itk_tag  # noqa: F401 - before SimpleITK, so that SimpleITK reads .tag files
import numpy as np
import SimpleITK  # noqa: I001

Vector = Sequence[float]


def write_tag(
    path: Path,
    voxels: np.ndarray,
    origin: Vector = (0.0, 0.0, 0.0),
    spacing: Vector = (1.0, 1.0, 1.0),
    dir_h: Vector = (1.0, 0.0, 0.0),
    dir_v: Vector = (0.0, 1.0, 0.0),
    extra: dict[str, str] | None = None,
) -> Path:
    """Writes ``voxels`` (z, y, x, uint8) as a tag, geometry rounded to 4 decimals like sliceOmatic."""
    z, y, x = voxels.shape
    lines = [
        f"x:{x}    y:{y}    z:{z}    type:BYTE",
        " ".join(f"org_{a}:{v:.4f}" for a, v in zip("xyz", origin)),
        f"inc_x:{spacing[0]:.4f} inc_y:{spacing[1]:.4f} epais:{spacing[2]:.4f}",
        " ".join(f"dir_h_{a}:{v:.4f}" for a, v in zip("xyz", dir_h)),
        " ".join(f"dir_v_{a}:{v:.4f}" for a, v in zip("xyz", dir_v)),
        " ".join(f"{k}:{v}" for k, v in (extra or {}).items()),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n\f").encode() + voxels.astype(np.uint8).tobytes())
    return path


def body_labels(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """A (z, y, x) uint8 mask with Alberta labels 1, 2, 5, 7 in blocks, different per seed."""
    voxels = np.zeros(shape, dtype=np.uint8)
    z, y, x = shape
    rng = np.random.default_rng(seed)
    for value in (7, 1, 2, 5):
        y0, x0 = rng.integers(0, y // 2), rng.integers(0, x // 2)
        voxels[:, y0 : y0 + y // 3, x0 : x0 + x // 3] = value
    return voxels


def write_cohort(root: Path, files: int, per_folder: int) -> Path:
    """Write ``files`` tags of 256 x 256 body labels under ``root``, ``per_folder`` to a folder."""
    for number in range(files):
        folder = root / f"patient{number // per_folder:02d}"
        write_tag(
            folder / f"s{number:03d}.tag", body_labels((1, 256, 256), seed=number), (-50.0, -60.0, number)
        )
    return root


def write_dicom_series(
    folder: Path,
    shape: tuple[int, int, int],
    origin: Vector,
    spacing: Vector,
    direction: Vector,
    extra: dict[str, str] | None = None,
) -> SimpleITK.Image:
    """Writes a CT series of 2D DICOM slices (files in scrambled order) and returns the volume."""
    volume = SimpleITK.GetImageFromArray(np.arange(np.prod(shape), dtype=np.int16).reshape(shape))
    volume.SetOrigin(tuple(origin))
    volume.SetSpacing(tuple(spacing))
    volume.SetDirection(tuple(direction))
    folder.mkdir(parents=True, exist_ok=True)
    study = "1.2.826.0.1.3680043.2.1125.99." + str(abs(hash(str(folder))) % 10**12)
    d = np.asarray(direction).reshape(3, 3)
    orientation = "\\".join(f"{v:.10f}" for v in (*d[:, 0], *d[:, 1]))
    writer = SimpleITK.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    # GDCM's writer sets the process locale to "C" and leaves it so; later
    # subprocess(text=True) calls in this process would then decode as ASCII.
    saved_locale = locale.setlocale(locale.LC_ALL)
    try:
        for k in reversed(range(shape[0])):
            position = volume.TransformIndexToPhysicalPoint((0, 0, k))
            slice_image = volume[:, :, k]
            for tag, value in (
                ("0008|0060", "CT"),
                ("0008|0016", "1.2.840.10008.5.1.4.1.1.2"),
                ("0008|0018", f"{study}.2.{k + 1}"),
                ("0020|000d", study),
                ("0020|000e", f"{study}.1"),
                ("0020|0013", str(k + 1)),
                ("0020|0032", "\\".join(f"{v:.6f}" for v in position)),
                ("0020|0037", orientation),
                ("0028|0030", f"{spacing[1]}\\{spacing[0]}"),
                ("0018|0050", f"{spacing[2]}"),
                *(extra or {}).items(),
            ):
                slice_image.SetMetaData(tag, value)
            writer.SetFileName(str(folder / f"IM{k:04d}.dcm"))
            writer.Execute(slice_image)
    finally:
        locale.setlocale(locale.LC_ALL, saved_locale)
    return volume


def raw_tag(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    """A BYTE tag read without itk_tag: (voxels (z, y, x) from the bytes after the form feed, keywords)."""
    data = path.read_bytes()
    end = data.index(b"\f")
    keywords = dict(item.split(":", 1) for item in data[:end].decode("ascii").split())
    shape = tuple(int(keywords[axis]) for axis in "zyx")
    voxels = np.frombuffer(data[end + 1 :], dtype=np.uint8)[: int(np.prod(shape))].reshape(shape)
    return voxels, keywords


def hounsfield(path: Path) -> np.ndarray:
    """The (rows, columns) pixels of a DICOM slice decoded by pydicom, RescaleSlope/Intercept applied."""
    import pydicom

    dataset = pydicom.dcmread(path)
    slope, intercept = float(dataset.get("RescaleSlope", 1)), float(dataset.get("RescaleIntercept", 0))
    return dataset.pixel_array.astype(np.float64) * slope + intercept


def raw_label_counts(path: Path) -> dict[int, int]:
    """Voxels per non-zero label, counted in the bytes after the first form feed."""
    data = path.read_bytes()
    counts = np.bincount(np.frombuffer(data[data.index(b"\f") + 1 :], dtype=np.uint8), minlength=256)
    return {value: int(count) for value, count in enumerate(counts) if count and value}


RAW_ITK_WARNING = re.compile(r"WARNING: In |Warning: In |\.cxx, line \d+|\.h, line \d+|itk::(ERROR|WARNING)")
"""What ITK's and GDCM's own warnings look like (``WARNING: In /.../itkGDCMSeriesFileNames.cxx, line
101``): text the command line must never pass on (issue 23)."""


def assert_no_raw_itk_warnings(stderr: str) -> None:
    """Fail when ``stderr`` of an ``itk-tag`` command holds ITK or GDCM warning text."""
    found = RAW_ITK_WARNING.search(stderr or "")
    assert found is None, (
        f"raw ITK/GDCM warning text on stderr: {stderr[max(found.start() - 200, 0) :][:800]}"
    )


def run_cli(
    *args: str | os.PathLike[str],
    cwd: Path | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Runs ``itk-tag ARGS`` in a fresh process (stderr is not a terminal: no progress bar);
    ``env`` replaces the whole environment. Fails when stderr holds raw ITK/GDCM warning text
    (:func:`assert_no_raw_itk_warnings`)."""
    done = subprocess.run(
        [sys.executable, "-m", "itk_tag", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env,
    )
    assert_no_raw_itk_warnings(done.stderr)
    return done


def start_cli(args: Sequence[str]) -> subprocess.Popen:
    """Start ``itk-tag ARGS`` in its own process group (a terminal's foreground job), output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "itk_tag", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def finish_cli(process: subprocess.Popen, after: str, timeout: float = 90) -> tuple[int, str, str]:
    """Wait for a :func:`start_cli` process (bounded); (status, out, err). A hang fails the test."""
    import pytest

    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"itk-tag {' '.join(process.args[3:])} hung after {after}")  # type: ignore[index]
    assert_no_raw_itk_warnings(err)
    return process.returncode, out, err
