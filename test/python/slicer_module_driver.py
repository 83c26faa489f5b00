"""Runs the SliceOmaticTag module's reader and writer on Slicer's real MRML, as Slicer calls them.

Run by test_slicer_module.py in a Python that has only Slicer's core (PyPI
``slicer-core``: Linux venv, or the Windows CPython under wine), never in the
test process (a crash of Slicer's code must fail a test, not the run):

    python slicer_module_driver.py MODULE_FOLDER PLAN.json RESULTS.json

MODULE_FOLDER holds SliceOmaticTag.py (itk-tag's ``slicer module-path``, or a
``qt-scripted-modules`` folder ``itk-tag slicer install`` filled). Each case of
the plan gets a new ``vtkMRMLScene`` as ``slicer.mrmlScene`` and a ``parent``
like qSlicerScriptedFileReader/Writer (Base/QTCore/qSlicerScriptedFileReader.cxx):
``loadedNodes``, ``writtenNodes`` and ``userMessages()`` returning a real
``vtkMRMLMessageCollection``. Only numpy, vtk and slicer are used here, so the
results are facts for the test to compare: voxel digests, matrices, messages,
the scene's node IDs before and after.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

# A Windows Python with a ._pth file leaves the script's folder off sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from voxel_facts import facts  # noqa: E402


class Parent:
    """What qSlicerScriptedFileReader/Writer give the Python class as ``parent``."""

    def __init__(self) -> None:
        self.loadedNodes: list[str] = []
        self.writtenNodes: list[str] = []
        self._messages = slicer.vtkMRMLMessageCollection()

    def userMessages(self) -> Any:  # noqa: N802 - Slicer's name
        return self._messages

    def messages(self) -> list[list[Any]]:
        """[[kind, text], ...]: kind "error" or "warning"."""
        kinds = {vtk.vtkCommand.ErrorEvent: "error", vtk.vtkCommand.WarningEvent: "warning"}
        return [
            [kinds.get(self._messages.GetNthMessageType(i), "other"), self._messages.GetNthMessageText(i)]
            for i in range(self._messages.GetNumberOfMessages())
        ]


def matrix_of(node_or_image: Any) -> list[float]:
    """IJKToRAS of a volume node, or ImageToWorld of an oriented image, row by row (12 values)."""
    matrix = vtk.vtkMatrix4x4()
    if hasattr(node_or_image, "GetIJKToRASMatrix"):
        node_or_image.GetIJKToRASMatrix(matrix)
    else:
        node_or_image.GetImageToWorldMatrix(matrix)
    return [matrix.GetElement(row, column) for row in range(3) for column in range(4)]


def array_of(image: Any) -> np.ndarray:
    columns, rows, slices = image.GetDimensions()
    values = numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(slices, rows, columns)
    return values.view(np.uint16) if values.dtype == np.int16 else values


def load_volume(path: str) -> Any:
    """What Add Data does for a volume: vtkMRMLVolumeArchetypeStorageNode.ReadData into a scalar volume."""
    scene = slicer.mrmlScene
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", Path(path).stem)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(path)
    storage.SetSingleFile(True)
    volume.SetAndObserveStorageNodeID(storage.GetID())
    if not storage.ReadData(volume):
        raise RuntimeError(f"{path}: Slicer's archetype storage node did not read it")
    return volume


def node_ids() -> list[str]:
    scene = slicer.mrmlScene
    return [scene.GetNthNode(i).GetID() for i in range(scene.GetNumberOfNodes())]


def segmentation_facts(node: Any, result: dict[str, Any]) -> None:
    """Segments, reference volume, and all segments exported on the reference geometry as their labels."""
    segmentation = node.GetSegmentation()
    segments = []
    for index in range(segmentation.GetNumberOfSegments()):
        segment = segmentation.GetNthSegment(index)
        label = vtk.reference("")
        segment.GetTag("SliceOmaticTag.label", label)
        segments.append({"name": segment.GetName(), "color": list(segment.GetColor()), "label": str(label)})
    result["segments"] = segments
    result["reference_volume"] = node.GetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole())
    # Slicer's export (Segmentations module, "Export to labelmap"): segment i becomes value i + 1.
    labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    logic = slicer.vtkSlicerSegmentationsModuleLogic()
    if segments:
        ok = logic.ExportAllSegmentsToLabelmapNode(
            node, labelmap, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY
        )
        if not ok:
            raise RuntimeError("ExportAllSegmentsToLabelmapNode failed")
        exported = array_of(labelmap.GetImageData())
        lookup = np.zeros(len(segments) + 1, dtype=np.uint16)
        lookup[1:] = [int(s["label"]) for s in segments]
        result["voxels"] = facts(lookup[exported])
        result["ijk_to_ras"] = matrix_of(labelmap)
    geometry = slicer.vtkOrientedImageData()
    serialized = segmentation.GetConversionParameter(
        slicer.vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
    )
    slicer.vtkSegmentationConverter.DeserializeImageGeometry(serialized, geometry, False)
    result["reference_geometry"] = matrix_of(geometry)
    result["reference_dimensions"] = list(geometry.GetDimensions())


def run_case(module: Any, case: dict[str, Any], out: Path) -> dict[str, Any]:
    slicer.mrmlScene = slicer.vtkMRMLScene()
    result: dict[str, Any] = {"name": case["name"]}
    properties = dict(case.get("properties", {}))
    if case.get("volume"):
        volume = load_volume(case["volume"])
        result["volume_id"] = volume.GetID()
        result["volume_ijk_to_ras"] = matrix_of(volume)
        if properties.get("referenceVolumeID") == "<volume>":
            properties["referenceVolumeID"] = volume.GetID()
    reader_parent = Parent()
    reader = module.SliceOmaticTagFileReader(reader_parent)
    result["confidence"] = reader.canLoadFileConfidence(case["file"])
    result["can_load"] = reader.canLoadFile(case["file"])
    before = node_ids()
    properties["fileName"] = case["file"]
    result["loaded"] = reader.load(properties)
    result["messages"] = reader_parent.messages()
    result["scene_unchanged"] = node_ids() == before
    result["loaded_nodes"] = list(reader_parent.loadedNodes)
    if not result["loaded"]:
        return result
    node = slicer.mrmlScene.GetNodeByID(reader_parent.loadedNodes[0])
    result["class"] = node.GetClassName()
    result["node_name"] = node.GetName()
    if node.IsA("vtkMRMLSegmentationNode"):
        segmentation_facts(node, result)
    else:
        result["voxels"] = facts(array_of(node.GetImageData()))
        result["ijk_to_ras"] = matrix_of(node)
    writer_parent = Parent()
    writer = module.SliceOmaticTagFileWriter(writer_parent)
    result["write_confidence"] = writer.canWriteObjectConfidence(node)
    written = out / (case["name"] + ".tag")
    before = node_ids()
    result["written"] = writer.write({"nodeID": node.GetID(), "fileName": str(written)})
    result["write_messages"] = writer_parent.messages()
    result["written_nodes"] = list(writer_parent.writtenNodes)
    result["write_scene_unchanged"] = node_ids() == before
    if result["written"]:
        result["written_file"] = str(written)
    return result


def main(argv: list[str]) -> int:
    module_folder, plan_file, results_file = argv[1:4]
    # `import slicer` may have imported itk_tag already: the startup hook of an itk-tag installed
    # beside slicer-core does (the zero-step native read, test_slicer_core.py). The module must not.
    imported_before = "itk_tag" in sys.modules
    sys.path.insert(0, module_folder)
    import SliceOmaticTag  # noqa: PLC0415 - from the folder given

    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    out = Path(plan["out"])
    out.mkdir(parents=True, exist_ok=True)
    cases = [run_case(SliceOmaticTag, case, out) for case in plan["cases"]]
    module_parent = types.SimpleNamespace()  # qSlicerScriptedLoadableModule's place
    SliceOmaticTag.SliceOmaticTag(module_parent)
    results = {
        "module_title": module_parent.title,
        "module_file": SliceOmaticTag.__file__,
        "format_file": sys.modules["_sliceomatictag_format"].__file__,
        "itk_tag_imported": "itk_tag" in sys.modules and not imported_before,
        "no_shell": not hasattr(slicer, "app"),
        "cases": cases,
    }
    Path(results_file).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
