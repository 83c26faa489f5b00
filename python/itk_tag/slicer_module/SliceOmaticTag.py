"""SliceOmaticTag: sliceOmatic ``.tag`` files in 3D Slicer, read as named segmentations and written back.

A scripted module for every OS Slicer runs on: Slicer registers the classes
``SliceOmaticTagFileReader`` and ``SliceOmaticTagFileWriter`` of a module file
named ``SliceOmaticTag.py`` as a file reader and writer
(Base/QTCore/qSlicerScriptedFileReader.cxx and qSlicerScriptedFileWriter.cxx in
Slicer's source: they call ``description``, ``fileType``, ``extensions``,
``canLoadFile``, ``canLoadFileConfidence`` and ``load(properties)``, or
``canWriteObject``, ``canWriteObjectConfidence`` and ``write(properties)``, and
read ``self.parent.loadedNodes`` / ``writtenNodes`` afterwards).

It needs only Slicer's own Python (vtk, numpy, the ``slicer`` package) and the
``format`` folder of itk-tag (the ``.tag`` reader, writer, grid rule and label
conventions, standard library and numpy only), found beside this file: in
``SliceOmaticTagLib/format`` where ``itk-tag slicer install`` copied it, or in
``../format`` inside an installed itk-tag package (``itk-tag slicer
module-path``). Nothing else of itk-tag is imported.

It imports in a Python that has only Slicer's core (PyPI ``slicer-core``: no
Qt, no ``slicer.ScriptedLoadableModule``, no ``slicer.app``), which is how
itk-tag's tests run the reader and writer on Slicer's real MRML classes.

Geometry: a ``.tag`` header is in LPS (like DICOM and ITK); Slicer's nodes
are in RAS, so the x and y rows of every matrix change sign on the way in and
out.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

try:  # Slicer's application; absent where only Slicer's core is installed
    from slicer.ScriptedLoadableModule import ScriptedLoadableModule
except ImportError:  # pragma: no cover - depends on the host

    class ScriptedLoadableModule:  # type: ignore[no-redef]
        """Stand-in base where Slicer's Qt shell is absent: keeps ``parent`` only."""

        def __init__(self, parent: Any) -> None:
            self.parent = parent


FILE_TYPE = "SliceOmaticTagFile"
"""The file type Slicer's IO manager knows the reader and writer by."""
READ_CONFIDENCE = 0.6
"""Above the 0.54 Slicer gives any reader that lists ``*.tag`` (qSlicerFileReader::canLoadFileConfidence:
0.5 + 0.01 per matched extension character), so Slicer picks this reader for a ``.tag``."""
WRITE_CONFIDENCE_TAG_NODE = 0.6
"""For a node read from a ``.tag``: above the 0.5 default of a writer that can write the node."""
WRITE_CONFIDENCE_OTHER = 0.3
"""For other segmentations and labelmaps: below the default, so Slicer keeps its own format for them."""
KEYWORDS_ATTRIBUTE = "SliceOmaticTag.keywords"
"""Node attribute: the header keywords of the ``.tag`` a node was read from (JSON object), written back."""
LABEL_TAG = "SliceOmaticTag.label"
"""Segment tag: the label value a segment stands for in the ``.tag``."""
REFERENCE_VOLUME_PROPERTY = "referenceVolumeID"
"""``load`` property: the ID of the scalar volume the tag was drawn on (else the scene is searched)."""
LIB_FOLDER = "SliceOmaticTagLib"
_FORMAT_PACKAGE = "_sliceomatictag_format"
_RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0])


def _format_folder() -> Path:
    """The itk-tag ``format`` folder this module uses: the installed copy beside it, else the package's."""
    here = Path(__file__).resolve().parent
    for folder in (here / LIB_FOLDER / "format", here.parent / "format"):
        if (folder / "__init__.py").is_file():
            return folder
    raise ImportError(
        f"SliceOmaticTag: itk-tag's format folder is neither in {here / LIB_FOLDER} nor in {here.parent} "
        "(run `itk-tag slicer install SLICER_HOME` again)"
    )


def _format() -> ModuleType:
    """itk-tag's ``format`` package, imported from its folder under a private name (no ``itk_tag`` import)."""
    package = sys.modules.get(_FORMAT_PACKAGE)
    if package is None:
        folder = _format_folder()
        spec = importlib.util.spec_from_file_location(
            _FORMAT_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        package = importlib.util.module_from_spec(spec)
        sys.modules[_FORMAT_PACKAGE] = package
        try:
            spec.loader.exec_module(package)
        except BaseException:
            del sys.modules[_FORMAT_PACKAGE]
            raise
    return package


def _part(name: str) -> ModuleType:
    """A module of the ``format`` package: ``reader``, ``writer``, ``grid``, ``labels``."""
    _format()
    return importlib.import_module(f"{_FORMAT_PACKAGE}.{name}")


def is_tag_name(path: str) -> bool:
    """True for a ``.tag`` file name, in any case (``.tag``, ``.TAG``, ``.dcm.tag``)."""
    return str(path).lower().endswith(".tag")


def node_name(path: str) -> str:
    """The node name Slicer would give the file: its name without ``.tag`` (and ``.dcm`` before it)."""
    name = os.path.basename(path)
    for suffix in (".tag", ".dcm"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or "tag"


def ijk_to_ras(origin: Any, spacing: Any, direction: Any) -> vtk.vtkMatrix4x4:
    """The IJKToRAS matrix of an LPS grid (origin and spacing in mm, direction 3x3 row by row)."""
    axes = _RAS_FROM_LPS @ np.asarray(direction, dtype=float).reshape(3, 3)
    position = _RAS_FROM_LPS @ np.asarray(origin, dtype=float)
    matrix = vtk.vtkMatrix4x4()
    for row in range(3):
        for column in range(3):
            matrix.SetElement(row, column, axes[row, column] * float(spacing[column]))
        matrix.SetElement(row, 3, position[row])
    return matrix


def lps_geometry(matrix: vtk.vtkMatrix4x4) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
    """Origin (mm), spacing (mm) and direction (3x3, row by row) in LPS of an IJKToRAS matrix."""
    ras = np.array([[matrix.GetElement(row, column) for column in range(4)] for row in range(3)])
    spacing = np.linalg.norm(ras[:, :3], axis=0)
    axes = _RAS_FROM_LPS @ (ras[:, :3] / spacing)
    origin = _RAS_FROM_LPS @ ras[:, 3]
    return tuple(origin.tolist()), tuple(spacing.tolist()), tuple(axes.ravel().tolist())


def _volume_grid(volume: Any) -> Any:
    """The LPS grid (format.grid.Grid) of a Slicer volume node, or None if it holds no image."""
    image = volume.GetImageData()
    if image is None:
        return None
    matrix = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(matrix)
    origin, spacing, direction = lps_geometry(matrix)
    return _part("grid").Grid(tuple(image.GetDimensions()), origin, spacing, direction)


def _image(voxels: np.ndarray, matrix: vtk.vtkMatrix4x4) -> Any:
    """A vtkOrientedImageData holding a copy of ``voxels`` ((z, y, x), uint8 or uint16) at ``matrix``."""
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(voxels.shape[2], voxels.shape[1], voxels.shape[0])
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR if voxels.dtype == np.uint8 else vtk.VTK_UNSIGNED_SHORT, 1)
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = voxels.reshape(-1)
    image.SetImageToWorldMatrix(matrix)
    return image


def _messages(parent: Any) -> Any:
    """The parent's vtkMRMLMessageCollection (Slicer 5.4 and later), or None."""
    user_messages = getattr(parent, "userMessages", None)
    return user_messages() if callable(user_messages) else None


def _tell(parent: Any, event: int, text: str) -> None:
    """Adds ``text`` to the messages Slicer shows the user for this read or write, and to the log."""
    messages = _messages(parent)
    if messages is not None:
        messages.AddMessage(event, text)
    (logging.error if event == vtk.vtkCommand.ErrorEvent else logging.warning)(text)


class SliceOmaticTag(ScriptedLoadableModule):
    """The module: Slicer finds its reader and writer classes by this class's name."""

    def __init__(self, parent: Any) -> None:
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "SliceOmatic Tag"
        parent.categories = ["Segmentation"]
        parent.dependencies = []
        parent.contributors = ["itk-tag"]
        parent.helpText = (
            "Reads sliceOmatic .tag files as segmentations (one named segment per label; beside a CT "
            "already in the scene when the tag lies on its grid) and writes segmentations and labelmaps "
            "as .tag. Drop a .tag on Slicer or use Add Data; save with File > Save Data, format .tag."
        )
        parent.acknowledgementText = "itk-tag: sliceOmatic .tag files in the ITK world."
        # No panel of its own: it only adds a file type.
        parent.hidden = True
        self.parent = parent


class _TagFileType:
    """What Slicer's reader and writer share: the parent (qSlicerScriptedFileReader/Writer) and the type."""

    def __init__(self, parent: Any) -> None:
        self.parent = parent

    def description(self) -> str:
        """The file type's name in Slicer's Add Data and Save Data dialogs."""
        return "sliceOmatic tag segmentation"

    def fileType(self) -> str:  # noqa: N802 - Slicer's name
        """The IO manager's name for it (``slicer.util.loadNodeFromFile(path, FILE_TYPE)``, ``saveNode``)."""
        return FILE_TYPE


class SliceOmaticTagFileReader(_TagFileType):
    """Reads a ``.tag`` into the scene: a segmentation, or a labelmap volume (``properties["labelmap"]``)."""

    def extensions(self) -> list[str]:
        """Qt name filters; Slicer matches them without regard to case (``.TAG`` too)."""
        return ["sliceOmatic tag (*.tag)"]

    def canLoadFile(self, filePath: str) -> bool:  # noqa: N802, N803 - Slicer's names
        """For Slicer before 5.4 (no confidence): a ``.tag`` file name of an existing file."""
        return is_tag_name(filePath) and os.path.isfile(filePath)

    def canLoadFileConfidence(self, filePath: str) -> float:  # noqa: N802, N803 - Slicer's names
        """READ_CONFIDENCE for a ``.tag``, so a broken one still reaches ``load`` and its message."""
        return READ_CONFIDENCE if self.canLoadFile(filePath) else 0.0

    def load(self, properties: dict[str, Any]) -> bool:
        """Reads ``properties["fileName"]``; True and ``self.parent.loadedNodes`` = [its node ID], or
        False with an error in ``self.parent.userMessages()`` and the scene as it was.

        Properties: ``name`` (node name), ``labelmap`` (True: a vtkMRMLLabelMapVolumeNode with the
        file's voxels), ``referenceVolumeID`` (the scalar volume the tag was drawn on), ``labels``
        (a label convention of itk-tag, e.g. ``alberta``; default: "Label N", as the CLI).
        """
        path = str(properties["fileName"])
        try:
            voxels, header = _part("reader").read_array(path)
            table = _label_table(properties.get("labels"))
        except (OSError, ValueError) as error:
            _tell(self.parent, vtk.vtkCommand.ErrorEvent, _reason(error, path))
            return False
        scene = slicer.mrmlScene
        name = properties.get("name") or scene.GenerateUniqueName(node_name(path))
        voxels, matrix, reference = self._placement(voxels, header, properties)
        keywords = json.dumps(header.keywords)
        added: list[Any] = []
        try:
            if properties.get("labelmap"):
                node = _labelmap_node(scene, name, voxels, matrix, added)
            else:
                node = _segmentation_node(scene, name, voxels, matrix, table, reference, added)
            node.SetAttribute(KEYWORDS_ATTRIBUTE, keywords)
        except Exception as error:  # a failure of Slicer's own code: leave the scene as it was
            for added_node in reversed(added):
                scene.RemoveNode(added_node)
            _tell(self.parent, vtk.vtkCommand.ErrorEvent, f'cannot load "{path}" into Slicer: {error}')
            return False
        self.parent.loadedNodes = [node.GetID()]
        return True

    def _placement(
        self, voxels: np.ndarray, header: Any, properties: dict[str, Any]
    ) -> tuple[np.ndarray, vtk.vtkMatrix4x4, Any]:
        """The voxels, their IJKToRAS and the reference volume (or None): the tag's own grid,
        or the exact grid of a scalar volume in the scene that the tag lies on (the ``--reference``
        rule, format/grid.py); a volume it does not lie on is not used, with a warning why.
        """
        grid_rules = _part("grid")
        own = ijk_to_ras(header.origin, header.spacing, header.direction)
        for volume in self._candidates(properties):
            grid = _volume_grid(volume)
            if grid is None:
                continue
            comparisons, reversed_slices, _ = grid_rules.compare_grids(header, grid, grid.slice_positions())
            wrong = [grid_rules.describe(c) for c in comparisons if not c.ok]
            if wrong:
                _tell(
                    self.parent,
                    vtk.vtkCommand.WarningEvent,
                    f'{header.path}: not placed on volume "{volume.GetName()}" ({volume.GetID()}): '
                    f"not on its grid: {'; '.join(wrong)}",
                )
                continue
            if reversed_slices:  # its slices run against dir_h x dir_v: same voxels, other order
                voxels = np.ascontiguousarray(voxels[::-1])
            matrix = vtk.vtkMatrix4x4()
            volume.GetIJKToRASMatrix(matrix)
            return voxels, matrix, volume
        return voxels, own, None

    def _candidates(self, properties: dict[str, Any]) -> list[Any]:
        """The volume named by ``referenceVolumeID``, else every scalar volume of the scene, newest first."""
        scene = slicer.mrmlScene
        wanted = properties.get(REFERENCE_VOLUME_PROPERTY)
        if wanted:
            node = scene.GetNodeByID(str(wanted))
            if node is None or not node.IsA("vtkMRMLScalarVolumeNode"):
                _tell(
                    self.parent, vtk.vtkCommand.WarningEvent, f"{wanted}: no such scalar volume in the scene"
                )
                return []
            return [node]
        volumes = scene.GetNodesByClass("vtkMRMLScalarVolumeNode")
        found = [volumes.GetItemAsObject(i) for i in range(volumes.GetNumberOfItems())]
        return [v for v in reversed(found) if not v.IsA("vtkMRMLLabelMapVolumeNode")]


def _reason(error: BaseException, path: str) -> str:
    """The message of a failed read: the format layer's (it names the file), else prefixed with it."""
    text = str(error)
    return text if path in text else f"{path}: {text}"


def _label_table(spec: Any) -> Any:
    """The label table of the ``labels`` property: an itk-tag convention name, or none ("Label N")."""
    labels = _part("labels")
    if not spec:
        return labels.LabelTable()
    table = labels.CONVENTIONS.get(str(spec).lower())
    if table is None:
        raise ValueError(f"labels: {spec!r} is not a label convention ({', '.join(labels.CONVENTIONS)})")
    return table


def _labelmap_node(scene: Any, name: str, voxels: np.ndarray, matrix: Any, added: list[Any]) -> Any:
    node = slicer.vtkMRMLLabelMapVolumeNode()
    node.SetName(name)
    image = _image(voxels, matrix)
    plain = vtk.vtkImageData()
    plain.ShallowCopy(image)  # the volume node carries the geometry, its image data none
    plain.SetOrigin(0.0, 0.0, 0.0)
    plain.SetSpacing(1.0, 1.0, 1.0)
    node.SetAndObserveImageData(plain)
    node.SetIJKToRASMatrix(matrix)
    scene.AddNode(node)
    added.append(node)
    node.CreateDefaultDisplayNodes()
    return node


def _segmentation_node(
    scene: Any, name: str, voxels: np.ndarray, matrix: Any, table: Any, reference: Any, added: list[Any]
) -> Any:
    node = slicer.vtkMRMLSegmentationNode()
    node.SetName(name)
    scene.AddNode(node)
    added.append(node)
    node.CreateDefaultDisplayNodes()
    image = _image(voxels, matrix)
    segmentation = node.GetSegmentation()
    if reference is not None:
        node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
    else:
        segmentation.SetConversionParameter(
            slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
            slicer.vtkSegmentationConverter.SerializeImageGeometry(image),
        )
    if voxels.any():
        logic = slicer.vtkSlicerSegmentationsModuleLogic()
        if not logic.ImportLabelmapToSegmentationNode(image, node, "", ""):
            raise RuntimeError("Slicer's segmentation logic refused the labels")
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        value = int(segment.GetLabelValue())
        label = table[value]
        segment.SetName(label.name)
        segment.SetColor(*label.color)
        segment.SetTag(LABEL_TAG, str(value))
    return node


class SliceOmaticTagFileWriter(_TagFileType):
    """Writes a segmentation or a labelmap volume as a ``.tag`` (itk-tag's format writer)."""

    def extensions(self, obj: Any) -> list[str]:
        """Qt name filters offered for ``obj``."""
        return ["sliceOmatic tag (*.tag)"]

    def canWriteObject(self, obj: Any) -> bool:  # noqa: N802 - Slicer's name
        """True for a segmentation node or a labelmap volume node."""
        return bool(obj.IsA("vtkMRMLSegmentationNode") or obj.IsA("vtkMRMLLabelMapVolumeNode"))

    def canWriteObjectConfidence(self, obj: Any) -> float:  # noqa: N802 - Slicer's name
        """Preferred for a node read from a ``.tag``; below Slicer's default for the others."""
        if not self.canWriteObject(obj):
            return 0.0
        return WRITE_CONFIDENCE_TAG_NODE if obj.GetAttribute(KEYWORDS_ATTRIBUTE) else WRITE_CONFIDENCE_OTHER

    def write(self, properties: dict[str, Any]) -> bool:
        """Writes the node ``properties["nodeID"]`` to ``properties["fileName"]``; True and
        ``self.parent.writtenNodes`` = [its ID], or False with an error in ``userMessages()``.

        A segmentation is written on its reference image geometry, each segment as its label value
        (the one it was read with, else the next free value); a labelmap as it is. The header
        keywords of the ``.tag`` the node was read from are written back, so a node read and
        written unchanged gives the same bytes.
        """
        path = str(properties["fileName"])
        node = slicer.mrmlScene.GetNodeByID(str(properties.get("nodeID")))
        try:
            if node is None or not self.canWriteObject(node):
                raise ValueError(f"node {properties.get('nodeID')!r} is no segmentation or labelmap volume")
            keywords = json.loads(node.GetAttribute(KEYWORDS_ATTRIBUTE) or "{}")
            if node.IsA("vtkMRMLSegmentationNode"):
                values, matrix = _segmentation_voxels(node)
            else:
                values, matrix = _labelmap_voxels(node)
            voxels = _tag_voxels(values, keywords)
            origin, spacing, direction = lps_geometry(matrix)
            if voxels.shape[0] == 1 and "epais" in keywords:
                # One slice: its thickness places no voxel, so a reference volume's (Slicer's
                # geometry for a CT slice) does not replace the one the tag was read with.
                spacing = (spacing[0], spacing[1], float(keywords["epais"]))
            _part("writer").write_tag(path, voxels, origin, spacing, direction, keywords)
        except (OSError, ValueError, RuntimeError) as error:
            _tell(self.parent, vtk.vtkCommand.ErrorEvent, f'cannot write "{path}": {_reason(error, path)}')
            return False
        self.parent.writtenNodes = [node.GetID()]
        return True


def _array(image: Any) -> np.ndarray:
    """The scalars of a vtkImageData as (z, y, x); a signed 16-bit array is read as the uint16 it holds."""
    columns, rows, slices = image.GetDimensions()
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(slices, rows, columns)
    # Slicer merges labels into a short image: 32768..65535 come back negative.
    return values.view(np.uint16) if values.dtype == np.int16 else values


def _labelmap_voxels(node: Any) -> tuple[np.ndarray, vtk.vtkMatrix4x4]:
    if node.GetImageData() is None:
        raise ValueError(f'labelmap "{node.GetName()}" holds no image')
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return _array(node.GetImageData()), matrix


def _segmentation_voxels(node: Any) -> tuple[np.ndarray, vtk.vtkMatrix4x4]:
    """All segments merged on the reference image geometry, each as its label value.

    Slicer merges into a 16-bit signed image, so the segments are merged as 1..N and
    turned into their label values (up to 65535) here.
    """
    segmentation = node.GetSegmentation()
    ids = vtk.vtkStringArray()
    labels: list[int] = []
    unvalued = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        value = _tag_value(segmentation.GetSegment(segment_id))
        if value is None or value in labels:
            unvalued.append(segment_id)
            continue
        ids.InsertNextValue(segment_id)
        labels.append(value)
    free = (v for v in range(1, 65536) if v not in labels)
    for segment_id in unvalued:
        ids.InsertNextValue(segment_id)
        labels.append(next(free))
    geometry = slicer.vtkOrientedImageData()
    serialized = segmentation.GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    )
    converter = slicer.vtkSegmentationConverter
    if not serialized or not converter.DeserializeImageGeometry(serialized, geometry, False):
        raise ValueError(f'segmentation "{node.GetName()}" has no reference image geometry')
    matrix = vtk.vtkMatrix4x4()
    geometry.GetImageToWorldMatrix(matrix)
    columns, rows, slices = geometry.GetDimensions()
    if not labels:
        return np.zeros((slices, rows, columns), np.uint8), matrix
    indices = vtk.vtkIntArray()
    for index in range(len(labels)):
        indices.InsertNextValue(index + 1)
    merged = slicer.vtkOrientedImageData()
    if not node.GenerateMergedLabelmapForAllSegments(
        merged, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY, geometry, ids, indices
    ):
        raise RuntimeError(f'Slicer could not merge the segments of "{node.GetName()}"')
    merged.GetImageToWorldMatrix(matrix)
    lookup = np.array([0, *labels], dtype=np.uint16)
    return lookup[_array(merged).astype(np.intp)], matrix


def _tag_value(segment: Any) -> int | None:
    """The label value a segment was read with (its tag), or None."""
    text = vtk.reference("")
    if not segment.GetTag(LABEL_TAG, text):
        return None
    try:
        value = int(str(text))
    except ValueError:
        return None
    return value if 1 <= value <= 65535 else None


def _tag_voxels(values: np.ndarray, keywords: dict[str, str]) -> np.ndarray:
    """``values`` as the voxels of a ``.tag``: BYTE where they fit and the source tag was not SHORT."""
    low, high = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if low < 0 or high > 65535:
        raise ValueError(f"label values {low}..{high} do not fit a .tag file (0..65535)")
    short = high > 255 or keywords.get("type", "").upper() == "SHORT"
    return np.ascontiguousarray(values, dtype=np.uint16 if short else np.uint8)
