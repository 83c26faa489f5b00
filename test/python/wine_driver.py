"""One scenario of test_wine.py, run by a Linux Python and by a Windows Python under wine alike.

    python wine_driver.py SCENARIO ROOT RESULT_JSON

ROOT holds the sample pairs (test_wine.py copies them under names with spaces and non-ASCII
letters); the result is JSON (ASCII), written to a file: a Windows Python's stdout is a pipe
in the console's code page. Uses no ``shutil.copy*`` (it aborts Windows Python 3.13 under
wine 8) and runs the CLI in this process through ``runpy``, which is what ``python -m`` does
(each Windows Python start costs seconds under wine).

Scenarios:
* ``api``: ``sitk.ReadImage`` of each .tag with no ``import itk_tag`` (the startup hook),
  ``itk_tag.read_header`` / ``read_array`` / ``read``, ``itk.imread``, a ``sitk.WriteImage``
  round trip to .tag, the same file through other spellings of its path, and writes over an
  existing output and over one another process holds open.
* ``qc``: ``python -m itk_tag qc --reference auto`` on the pairs: the PNGs (bytes and pixels),
  measurements.csv, flags.csv and the report page's numbers.
* ``cli``: ``python -m itk_tag`` ``info``, ``check``, ``convert --reference auto`` to seg.nrrd,
  nrrd, nii.gz, mha and DICOM SEG, ``measure --jobs 1``, ``convert --overwrite`` of an output
  another process holds open, ``convert`` into a non-ASCII folder, and ``doctor``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import runpy
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


def describe_array(array: np.ndarray) -> dict[str, Any]:
    """Shape (z, y, x), dtype and a digest of the voxels in C order."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(array).hexdigest()
    return {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": digest}


def describe_sitk(image: Any) -> dict[str, Any]:
    """Voxels and geometry (x, y, z; mm) of a SimpleITK image."""
    import SimpleITK as sitk  # noqa: N813

    return {
        **describe_array(sitk.GetArrayViewFromImage(image)),
        "pixel": image.GetPixelIDTypeAsString(),
        "origin": list(image.GetOrigin()),
        "spacing": list(image.GetSpacing()),
        "direction": list(image.GetDirection()),
    }


def describe_itk(image: Any) -> dict[str, Any]:
    """Voxels and geometry (x, y, z; mm) of an ITK Python image."""
    import itk

    return {
        **describe_array(itk.array_view_from_image(image)),
        "origin": [float(v) for v in image.GetOrigin()],
        "spacing": [float(v) for v in image.GetSpacing()],
        "direction": [float(v) for v in np.asarray(image.GetDirection()).ravel()],
    }


def attempt(action: Any) -> dict[str, Any]:
    """The action's result, or the exception it raised (type and message)."""
    try:
        return {"ok": action()}
    except BaseException as error:  # SystemExit from the CLI too
        return {"error": type(error).__name__, "message": str(error), "traceback": traceback.format_exc()}


def listing(folder: Path) -> list[str]:
    """The files in ``folder`` (a temporary file an atomic write left behind would show)."""
    return sorted(p.name for p in folder.iterdir())


def api(root: Path) -> dict[str, Any]:
    import _itk_tag_autoload  # the startup hook's module: imported by its .pth, not by us
    import SimpleITK as sitk  # noqa: N813

    result: dict[str, Any] = {"hook": _itk_tag_autoload.status, "platform": sys.platform}
    # Sorted by the same key everywhere: Windows paths compare case-insensitively.
    tags = sorted(root.rglob("*.tag"), key=lambda p: p.relative_to(root).as_posix())
    for tag in tags:
        name = tag.relative_to(root).as_posix()
        result[f"sitk {name}"] = attempt(lambda tag=tag: describe_sitk(sitk.ReadImage(str(tag))))
    result["itk_tag imported by the hook"] = "itk_tag" in sys.modules

    import itk_tag

    for tag in tags:
        name = tag.relative_to(root).as_posix()

        def header(tag: Path = tag) -> dict[str, Any]:
            h = itk_tag.read_header(tag)
            return {
                "size": list(h.size),
                "dtype": str(np.dtype(h.dtype)),
                "origin": list(h.origin),
                "spacing": list(h.spacing),
                "direction": list(h.direction),
                "header_size": h.header_size,
                "keywords": h.keywords,
            }

        result[f"read_header {name}"] = attempt(header)
        result[f"read_array {name}"] = attempt(lambda tag=tag: describe_array(itk_tag.read_array(tag)[0]))
        result[f"read {name}"] = attempt(lambda tag=tag: describe_sitk(itk_tag.read(tag)))
        result[f"read auto {name}"] = attempt(lambda tag=tag: describe_sitk(itk_tag.read(tag, "auto")))

    # Round trip: SimpleITK writes .tag, reads it back; the bytes are compared with Linux's.
    out = root / "out"
    out.mkdir(exist_ok=True)

    def round_trip() -> dict[str, Any]:
        image = sitk.ReadImage(str(tags[0]))
        target = out / "round trip é.tag"
        sitk.WriteImage(image, str(target))
        again = describe_sitk(sitk.ReadImage(str(target)))
        return {"again": again, "same": again == describe_sitk(image), "file": _sha256(target)}

    result["round trip"] = attempt(round_trip)
    result["after round trip"] = listing(out)

    # The same file through other spellings of its path (on Windows: backslashes, forward
    # slashes, relative to the current folder; the drive letter is in every absolute one).
    os.chdir(root)
    first = tags[0]
    spellings = {"absolute": str(first), "relative": os.path.relpath(first, root)}
    if sys.platform == "win32":
        spellings["forward slashes"] = str(first).replace("\\", "/")
        spellings["relative, forward slashes"] = spellings["relative"].replace("\\", "/")
    result["spellings"] = {
        spelling: attempt(lambda p=path: describe_sitk(sitk.ReadImage(p)) == describe_sitk(itk_tag.read(p)))
        for spelling, path in spellings.items()
    }
    result["spelled"] = spellings

    # Atomic writes: over an existing output, then over one another process holds open.
    image = sitk.ReadImage(str(first))
    existing = out / "existing.tag"
    existing.write_bytes(b"not a tag file")
    result["over existing"] = attempt(lambda: _write_and_hash(sitk, image, existing))
    result["after over existing"] = listing(out)
    result["held open"] = held_open(sitk, image, out / "held open.tag")
    result["after held open"] = listing(out)

    import itk

    for tag in tags:
        name = tag.relative_to(root).as_posix()
        result[f"itk.imread {name}"] = attempt(lambda tag=tag: describe_itk(itk.imread(str(tag))))
    return result


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_and_hash(sitk: Any, image: Any, target: Path) -> str:
    sitk.WriteImage(image, str(target))
    return _sha256(target)


@contextlib.contextmanager
def held(target: Path) -> Iterator[str]:
    """While inside, a child process holds ``target`` open for reading (Python's ``open``: no
    FILE_SHARE_DELETE on Windows); yields the child's "open" once it is.
    """
    hold = "import sys; f = open(sys.argv[1], 'rb'); print('open', flush=True); sys.stdin.read()"
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield holder.stdout.readline().decode().strip() if holder.stdout else ""
    finally:
        holder.communicate(timeout=120)


def held_open(sitk: Any, image: Any, target: Path) -> dict[str, Any]:
    """Write ``target`` while another process holds it open, then again once it is closed."""
    target.write_bytes(b"held by another process")
    with held(target) as ready:
        while_held = attempt(lambda: _write_and_hash(sitk, image, target))
        content_while_held = target.read_bytes()[:40].decode("latin-1")
    return {
        "holder": ready,
        "while held": while_held,
        "content after": content_while_held,
        "after close": attempt(lambda: _write_and_hash(sitk, image, target)),
    }


def run_module(*argv: str) -> dict[str, Any]:
    """``python -m itk_tag ARGV`` in this process: its exit code, and its stdout parsed as JSON when
    it is, with the paths in it relative to the current folder and spelled with ``/``.
    """
    sys.argv = ["itk_tag", *argv]
    stdout, stderr = io.StringIO(), io.StringIO()
    code = 0
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            runpy.run_module("itk_tag", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    result: dict[str, Any] = {"exit": code, "stderr": stderr.getvalue()}
    if "--json" in argv:
        text = stdout.getvalue()
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:  # info: one JSON object a line
            parsed = [json.loads(line) for line in text.splitlines() if line.strip()]
        result["json"] = portable(parsed, os.getcwd())
    return result


def portable(value: Any, root: str) -> Any:
    """``value`` with every string naming a path under ``root`` made relative, spelled with ``/``."""
    if isinstance(value, dict):
        return {key: portable(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, root) for item in value]
    if isinstance(value, str):
        return value.replace(root + os.sep, "").replace(root, ".").replace("\\", "/")
    return value


def cli(root: Path) -> dict[str, Any]:
    import nrrd
    import pydicom
    import SimpleITK as sitk  # noqa: N813

    os.chdir(root)
    folder = root / next(p.name for p in root.iterdir() if p.is_dir())
    tag = next(t for t in folder.glob("*.tag") if t.name.startswith("B"))  # Windows' glob ignores case
    reference = ("--reference", "auto")
    result: dict[str, Any] = {
        "info": run_module("info", "--json", *sorted(str(t.relative_to(root)) for t in folder.glob("*.tag"))),
        "check": run_module("check", "--json", str(tag)),
        "convert": run_module("convert", folder.name, *reference, "--format", "seg.nrrd", "-o", "seg"),
        "measure": run_module("measure", folder.name, *reference, "--jobs", "1", "-o", "metrics.csv"),
    }
    for form in ("nrrd", "nii.gz", "mha", "dcm"):
        result[f"convert {form}"] = run_module(
            "convert", folder.name, *reference, "--format", form, "-o", form
        )
    # An output folder with a non-ASCII name, written by ITK (SimpleITK's NRRD writer).
    result["convert nrrd é"] = run_module("convert", folder.name, "--format", "nrrd", "-o", "sortie é")
    result["listing of sortie é"] = listing(root / "sortie é") if (root / "sortie é").exists() else None
    # ... and back: those label images (read by ITK) to .tag, into another non-ASCII folder.
    result["convert to tag é"] = run_module("convert", "sortie é", "--format", "tag", "-o", "tags é")
    tags = root / "tags é"
    result["tags é"] = {p.name: _sha256(p) for p in sorted(tags.iterdir())} if tags.exists() else None
    for path in sorted((root / "seg").rglob("*.seg.nrrd")):
        data, header = nrrd.read(str(path))
        result[f"seg {path.relative_to(root).as_posix()}"] = {
            **describe_array(data),
            "space origin": [float(v) for v in header.get("space origin", [])],
            "space directions": np.nan_to_num(np.asarray(header.get("space directions", []), float)).tolist(),
        }
    # Read back through an ASCII name: SimpleITK's own readers on Windows open narrow paths too.
    ascii_copy = root / "read back"
    ascii_copy.mkdir()
    for form in ("nrrd", "nii.gz", "mha"):
        for number, path in enumerate(sorted((root / form).rglob(f"*.{form}"))):
            copy = ascii_copy / f"{number}.{form}"
            copy.write_bytes(path.read_bytes())  # not shutil.copy: it aborts Python 3.13 under wine 8
            result[f"image {path.relative_to(root).as_posix()}"] = attempt(
                lambda copy=copy: describe_sitk(sitk.ReadImage(str(copy)))
            )
    # convert --overwrite (the tag's own grid this time) of an output another process holds open.
    output = root / "nrrd" / "barbell2-10.nrrd"
    before = _sha256(output)
    with held(output) as ready:
        tag_path = str(folder.relative_to(root) / "barbell2-10.tag")
        result["convert held"] = {
            "holder": ready,
            **run_module("convert", tag_path, "-o", "nrrd", "--overwrite"),
        }
    result["convert held"]["unchanged"] = _sha256(output) == before
    result["listing of nrrd"] = listing(root / "nrrd")
    for path in sorted((root / "dcm").rglob("*.dcm")):
        segmentation = pydicom.dcmread(path)
        result[f"dicom seg {path.relative_to(root).as_posix()}"] = {
            **describe_array(segmentation.pixel_array),
            "segments": [s.SegmentLabel for s in segmentation.SegmentSequence],
        }
    result["listing"] = sorted(
        p.relative_to(root).as_posix()
        for form in ("seg", "nrrd", "nii.gz", "mha", "dcm")
        for p in (root / form).rglob("*")
    )
    metrics = root / "metrics.csv"
    result["csv"] = metrics.read_text(encoding="utf-8") if metrics.exists() else None
    result["doctor"] = run_module("doctor", "--json")
    return result


def qc(root: Path) -> dict[str, Any]:
    """``python -m itk_tag qc`` on the pairs: the PNGs' bytes and pixels, the tables, the page's numbers."""
    import re

    import PIL
    from PIL import Image, features

    os.chdir(root)
    folder = next(p.name for p in root.iterdir() if p.is_dir())
    result: dict[str, Any] = {
        "qc": run_module("qc", folder, "--reference", "auto", "--labels", "alberta", "-o", "qc"),
        "pillow": PIL.__version__,
        "zlib": features.version("zlib"),
    }
    out = root / "qc"
    for png in sorted(out.rglob("*.png"), key=lambda p: p.relative_to(out).as_posix()):
        with Image.open(png) as image:
            pixels = describe_array(np.asarray(image.convert("RGB")))
        result[f"png {png.relative_to(out).as_posix()}"] = {"file": _sha256(png), "pixels": pixels}
    for table in ("measurements.csv", "flags.csv"):
        result[table] = (out / table).read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    result["page numbers"] = re.findall(r'class="num (?:area|hu)" data-v="([^"]*)"', page)
    result["listing"] = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    return result


def main() -> None:
    scenario, root, output = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    result = attempt(lambda: {"api": api, "cli": cli, "qc": qc}[scenario](root))
    output.write_text(json.dumps(result, indent=1, default=str), encoding="ascii")


if __name__ == "__main__":
    main()
