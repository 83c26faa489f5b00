"""Writing a mask in each output format, atomically, and reading back what an output recorded.

The formats' names and an output's file name are in :mod:`.formats`.

Every output is written to a hidden temporary file beside it (same file
system, so the final rename is atomic) and renamed when whole; the temporary
is removed if anything fails or the run is interrupted. Its name carries the
writing process' id, so a later run can tell, and sweep, the leftovers of a
process that was killed (:func:`sweep`). Own code rather than
``tempfile.NamedTemporaryFile``: ITK picks a writer by the file's last
extension, and the name must say whose file it is.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import OutputExistsError, OutputWriteError, itk_reason
from ..hosts.image_buffer import image_of
from ..hosts.itk_paths import itk_path
from .dicomseg import write_dicom_seg
from .formats import format_of
from .keywords import carried_keywords, carried_thickness, slice_thickness
from .labels import LabelTable
from .mask import label_values
from .reference import Grid

if TYPE_CHECKING:
    import SimpleITK

    from .mask import Mask
    from .options import ConvertOptions

COMPRESSION_LEVEL = 3
"""zlib level of compressed outputs (.seg.nrrd, .nrrd, .mha, .nii.gz), measured: bench/RESULTS.md."""

RECORD_KEY = "itk_tag_options"
"""The metadata field where an output records the options it was made with (NRRD, .seg.nrrd, MetaImage)."""

RECORDING_FORMATS = ("nrrd", "seg.nrrd", "mha")

LABEL_TAG = "SliceOmatic.Label"
"""The segment tag of a ``.seg.nrrd`` segment that keeps its label value through edits in Slicer."""


# .NAME.PID-HEX.partial.EXT: the extension stays last because ITK picks a file's writer by it.
_TEMPORARY = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.partial\.[^.]+(\.[^.]+)?$")
_STALE_AFTER = 24 * 3600.0  # where a process cannot be asked whether it lives (Windows), seconds


def temporary_path(destination: Path, extension: str) -> Path:
    """Return a hidden, unique name beside ``destination`` ending in ``.extension``.

    The extension stays last because ITK picks a file's writer by it. The name is ASCII
    (other characters become ``_``): on Windows, ITK's NRRD, NIfTI and MetaImage writers
    open the path in the ANSI code page, so a non-ASCII name came out garbled, the rename
    found no file, and the garbled one stayed (Windows (wine), test_wine.py::test_cli).
    """
    name = destination.name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return destination.with_name(f".{name}.{os.getpid()}-{secrets.token_hex(4)}.partial.{extension}")


def _alive(pid: int) -> bool:
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows: go by age alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(folder: Path) -> int:
    """Remove the temporaries of our naming in ``folder`` left by a process that is gone; return how many.

    A process that still runs (another itk-tag writing there) keeps its
    files; on Windows, where that cannot be asked, files older than a day go.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        stale = not _alive(pid) if os.name == "posix" else time.time() - entry.stat().st_mtime > _STALE_AFTER
        if stale and pid != os.getpid():
            try:
                os.unlink(entry.path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def _publish(temporary: Path, destination: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temporary, destination)
        return
    try:
        # A hard link fails if the destination exists, even if it appeared
        # after the run started: nothing is ever overwritten by accident.
        os.link(temporary, destination)
    except FileExistsError:
        raise OutputExistsError(destination) from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A file system without hard links: check, then rename.
        if destination.exists():
            raise OutputExistsError(destination) from None
        os.replace(temporary, destination)
        return
    temporary.unlink()


@contextmanager
def atomic_output(destination: Path, extension: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``destination``.

    Raises OutputExistsError, and leaves the existing file alone, when
    ``destination`` exists and ``overwrite`` is false.
    """
    if destination.exists() and not overwrite:
        raise OutputExistsError(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(destination, extension)
    try:
        try:
            yield temporary
        except (OSError, RuntimeError, ValueError) as error:
            # Writers only know the temporary name; the user knows the output's.
            reason = str(error).replace(str(temporary), str(destination))
            if isinstance(error, OSError):
                raise OutputWriteError(f"{destination}: cannot write: {reason}") from error
            raise type(error)(reason) from error
        try:
            _publish(temporary, destination, overwrite)
        except OutputExistsError:
            raise
        except OSError as error:
            # E.g. Windows refuses to replace a file another program holds open; the message
            # named the temporary file (Windows (wine), test_wine.py::test_cli).
            raise OutputWriteError(f"{destination}: cannot replace: {error.strerror or error}") from error
    finally:
        if temporary.exists():
            temporary.unlink()


def to_image(voxels: np.ndarray, grid: Grid, keywords: dict[str, str]) -> SimpleITK.Image:
    """Make a 3D SimpleITK image of ``voxels`` (z, y, x) on ``grid``, with ``keywords`` as metadata.

    When ``voxels`` is the buffer of a SimpleITK image (read by
    :func:`itk_tag.hosts.image_buffer.read_voxels`), that image is returned, not a copy:
    it shares its memory with ``voxels``.
    """
    import SimpleITK

    image = image_of(voxels)
    if image is None:
        image = SimpleITK.GetImageFromArray(voxels, isVector=False)
    for key in image.GetMetaDataKeys():
        image.EraseMetaData(key)
    grid.apply_to(image)
    for key, value in keywords.items():
        image.SetMetaData(key, value)
    return image


def recorded_options(path: Path) -> dict[str, Any] | None:
    """Return the options an output of ours records (see RECORD_KEY); None when it records none."""
    if format_of(path) not in RECORDING_FORMATS:
        return None
    import SimpleITK

    reader = SimpleITK.ImageFileReader()
    reader.SetFileName(os.fspath(path))
    try:
        reader.ReadImageInformation()
        recorded = json.loads(reader.GetMetaData(RECORD_KEY)) if reader.HasMetaDataKey(RECORD_KEY) else None
    except (RuntimeError, ValueError):
        return None
    return recorded if isinstance(recorded, dict) else None


def write_mask(mask: Mask, destination: Path, output_format: str, options: ConvertOptions) -> None:
    """Write ``mask`` to ``destination`` in ``output_format``, atomically, recording ``options``.

    ``.seg.nrrd`` gets one named, coloured segment per label (slicerio); ``dcm``
    is a DICOM SEG (:mod:`itk_tag.batch.dicomseg`); ``.tag`` goes through the
    C++ writer (itk::TagImageIO, via SimpleITK); the others through SimpleITK,
    compressed. Carried keywords (uid, chksum, ...) become metadata fields
    where the format keeps them (NRRD, MetaImage, .tag), and so does the
    options record (RECORD_KEY) in NRRD, ``.seg.nrrd`` and MetaImage. Raises
    OutputExistsError when ``destination`` exists and ``options.overwrite``
    is false. A one-slice tag on a reference grid whose z spacing is not its
    ``epais`` keeps that thickness: as the z spacing of a ``.tag``, as an
    ``epais`` field elsewhere (:func:`~itk_tag.batch.keywords.slice_thickness`).
    """
    keywords = carried_keywords(mask.keywords)
    grid = mask.grid
    thickness = slice_thickness(mask.keywords, grid.size[2], grid.spacing[2])
    if thickness and output_format == "tag":
        grid = replace(grid, spacing=(grid.spacing[0], grid.spacing[1], float(thickness["epais"])))
    else:
        keywords.update(thickness)
    if output_format in RECORDING_FORMATS:
        keywords[RECORD_KEY] = json.dumps(options.record(), sort_keys=True, separators=(",", ":"))
    with atomic_output(destination, output_format, options.overwrite) as temporary:
        if output_format == "dcm":
            write_dicom_seg(temporary, mask, options)
        elif output_format == "seg.nrrd":
            write_segmentation(temporary, mask.voxels, grid, options.labels, keywords)
        else:
            import SimpleITK

            image = to_image(mask.voxels, grid, keywords)
            compressed = output_format != "tag"
            spelled = itk_path(temporary)
            try:
                SimpleITK.WriteImage(image, spelled, compressed, COMPRESSION_LEVEL if compressed else -1)
            except RuntimeError as error:
                reason = itk_reason(error).replace(spelled, str(temporary))
                raise ValueError(f"cannot write {output_format}: {reason}") from error


def with_thickness(grid: Grid, fields: Mapping[str, object]) -> Grid:
    """``grid`` of an image read back, with the slice thickness its ``epais`` field carries as z spacing
    (one slice only; see :func:`write_mask`).
    """
    thickness = carried_thickness(fields, grid.size[2])
    if thickness is None:
        return grid
    return replace(grid, spacing=(grid.spacing[0], grid.spacing[1], thickness))


def ijk_to_lps(grid: Grid) -> np.ndarray:
    """Return the 4x4 matrix from voxel index (i, j, k) to LPS position."""
    matrix = np.eye(4)
    matrix[:3, :3] = grid.axes * np.asarray(grid.spacing)[None, :]
    matrix[:3, 3] = grid.origin
    return matrix


def _extent(mask: np.ndarray) -> list[int]:
    """Slicer's segment extent: first and last index along i, j, k (mask is (z, y, x)).

    From the projections on each axis: ``np.nonzero`` of the whole mask took a
    quarter of a ``.seg.nrrd`` conversion.
    """
    extent = []
    for axis in (2, 1, 0):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        extent += [int(present[0]), int(present[-1])]
    return extent


def write_segmentation(
    path: str | os.PathLike[str], voxels: np.ndarray, grid: Grid, labels: LabelTable, keywords: dict[str, str]
) -> None:
    """Write ``voxels`` (z, y, x) on ``grid`` as a 3D Slicer segmentation, one segment per label.

    Each label value becomes one segment (named and coloured from ``labels``)
    whose voxels keep that value in a single layer, so the file is also a plain
    label map; the segment records its value in a segment tag (LABEL_TAG).
    ``keywords`` become custom NRRD fields.
    """
    import slicerio

    segments = []
    for value in label_values(voxels):
        label = labels[value]
        segments.append(
            {
                "id": f"Segment_{value}",
                "name": label.name,
                "nameAutoGenerated": False,
                "color": list(label.color),
                "colorAutoGenerated": False,
                "labelValue": value,
                "layer": 0,
                "extent": _extent(voxels == value),
                "tags": {LABEL_TAG: str(value)},
            }
        )
    segmentation = {
        "voxels": voxels.transpose(2, 1, 0),
        "ijkToLPS": ijk_to_lps(grid),
        "segments": segments,
        "containedRepresentationNames": ["Binary labelmap"],
        "masterRepresentation": "Binary labelmap",
        "referenceImageExtentOffset": [0, 0, 0],
        **keywords,
    }
    slicerio.write_segmentation(os.fspath(path), segmentation, compression_level=COMPRESSION_LEVEL)


def _segment_value(segment: dict[str, object]) -> int:
    tagged = segment.get("tags", {}).get(LABEL_TAG)  # type: ignore[union-attr]
    return int(tagged) if tagged is not None else int(segment.get("labelValue", 1))  # type: ignore[arg-type]


def read_segmentation(path: str | os.PathLike[str]) -> tuple[np.ndarray, Grid, dict[str, str]]:
    """Read a Slicer segmentation as a label map: voxels (z, y, x), grid, carried keywords.

    Each segment's voxels get its ``SliceOmatic.Label`` value (else its label
    value). Overlapping segments (several layers) cannot be one label map and
    raise ValueError.
    """
    import slicerio

    segmentation = slicerio.read_segmentation(os.fspath(path))
    voxels = segmentation["voxels"]
    layers = voxels if voxels.ndim == 4 else voxels[np.newaxis]
    shape = layers.shape[1:]
    label_map = np.zeros(shape, dtype=np.uint16)
    taken = np.zeros(shape, dtype=bool)
    for segment in segmentation.get("segments", []):
        mask = layers[int(segment.get("layer", 0))] == int(segment.get("labelValue", 1))
        value = _segment_value(segment)
        if np.any(taken & mask):
            raise ValueError(f"{Path(path)}: segment {segment.get('name')!r} overlaps another segment")
        label_map[mask] = value
        taken |= mask
    if label_map.max(initial=0) <= 255:
        label_map = label_map.astype(np.uint8)
    columns = np.asarray(segmentation["ijkToLPS"], dtype=float)[:3, :3]
    spacing = np.linalg.norm(columns, axis=0)
    grid = Grid(
        size=tuple(int(v) for v in shape),  # type: ignore[arg-type]
        origin=tuple(float(v) for v in np.asarray(segmentation["ijkToLPS"])[:3, 3]),  # type: ignore[arg-type]
        spacing=tuple(float(v) for v in spacing),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in (columns / spacing[None, :]).ravel()),
    )
    fields = {k: v for k, v in segmentation.items() if k != "voxels"}
    return (
        np.ascontiguousarray(label_map.transpose(2, 1, 0)),
        with_thickness(grid, fields),
        carried_keywords(fields),
    )
