"""One measurement in a fresh process, for bench/run.py.

``python worker.py CASE JSON`` runs CASE with the arguments in JSON and prints
one JSON line. Each case imports only what it measures (and ``itk_tag``
before SimpleITK, as users must), runs its operation once to warm up (lazy
module loading, factory registration), then three times measured: wall time,
peak RSS above the RSS just before the operation, and bytes read (``rchar`` of
``/proc/self/io``, which counts page-cache hits too).
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
from typing import Any, Callable

Sample = tuple[int, int, int]


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _read_chars() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise RuntimeError("no rchar in /proc/self/io")


def _reset_peak() -> None:
    # Writing 5 makes VmHWM start again from the current RSS (Linux >= 4.0);
    # ru_maxrss cannot be reset and would still hold the warm-up's peak.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def measure(
    operation: Callable[[bool], Any], check: Callable[[Any], list[int]], repeats: int = 3
) -> dict[str, Any]:
    """Runs ``operation(True)`` to warm up, then ``operation(False)`` ``repeats`` times, measured.

    Returns the median time and bytes read, the largest peak RSS, and what
    ``check`` reads from the last result (voxels, for the caller to verify).
    """
    result = operation(True)
    del result
    seconds, peaks, chars, baselines = [], [], [], []
    for _ in range(repeats):
        result = None
        gc.collect()
        _reset_peak()
        baseline = _status_bytes("VmRSS")
        before = _read_chars()
        start = time.perf_counter()
        result = operation(False)
        seconds.append(time.perf_counter() - start)
        chars.append(_read_chars() - before)
        peaks.append(_status_bytes("VmHWM") - baseline)
        baselines.append(baseline)
    return {
        "seconds": statistics.median(seconds),
        "peak_extra": max(peaks),
        "baseline_rss": statistics.median(baselines),
        "rchar": statistics.median(chars),
        "samples": check(result),
    }


def _samples(array: Any, points: list[Sample]) -> list[int]:
    return [int(array[tuple(p)]) for p in points]


# Whole-volume reads. The checks take numpy *views* of the result (no copy)
# after the peak RSS has been read.


def case_numpy(args: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    if not args.get("hugepages", True):
        # numpy asks for transparent huge pages on large arrays; ITK's buffers
        # do not get them, so this row shows the limit without that advantage.
        core = getattr(np, "_core", None) or np.core
        core.multiarray._set_madvise_hugepage(False)
    count = args["size"][0] * args["size"][1] * args["size"][2]

    def operation(warmup: bool) -> Any:
        return np.fromfile(args["path"], dtype=np.uint8, count=count, offset=args["offset"])

    def check(voxels: Any) -> list[int]:
        return _samples(voxels.reshape(args["size"][::-1]), args["points"])

    return measure(operation, check)


def case_read_array(args: dict[str, Any]) -> dict[str, Any]:
    import itk_tag

    return measure(lambda warmup: itk_tag.read_array(args["path"])[0], lambda a: _samples(a, args["points"]))


def case_pure_read_array(args: dict[str, Any]) -> dict[str, Any]:
    from itk_tag import format as tag_format

    return measure(
        lambda warmup: tag_format.read_array(args["path"])[0], lambda a: _samples(a, args["points"])
    )


def case_native_read_voxels(args: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    from itk_tag import format as tag_format
    from itk_tag.hosts import native as _native

    def operation(warmup: bool) -> Any:
        # The header is parsed outside the native read, as itk_tag.read_array does.
        voxels = np.empty(tag_format.read_header(args["path"]).shape, dtype=np.uint8)
        _native.read_voxels_into(args["path"], voxels.ctypes.data, voxels.nbytes)
        return voxels

    return measure(operation, lambda a: _samples(a, args["points"]))


def case_itk(args: dict[str, Any]) -> dict[str, Any]:
    import itk

    return measure(
        lambda warmup: itk.imread(args["path"]),
        lambda image: _samples(itk.array_view_from_image(image), args["points"]),
    )


def case_sitk(args: dict[str, Any]) -> dict[str, Any]:
    import itk_tag  # noqa: F401 - before SimpleITK, so that SimpleITK loads the .tag plugin
    import SimpleITK

    return measure(
        lambda warmup: SimpleITK.ReadImage(args["path"]),
        lambda image: _samples(SimpleITK.GetArrayViewFromImage(image), args["points"]),
    )


def case_itk_tag_read(args: dict[str, Any]) -> dict[str, Any]:
    if args.get("itk_tag") is False:
        # SimpleITK without the plugin (run.py turns the startup hook off): itk_tag.read's other path.
        import warnings

        import SimpleITK

        warnings.simplefilter("ignore")
    import itk_tag
    import SimpleITK

    reference = args.get("reference")
    result = measure(
        lambda warmup: itk_tag.read(args["path"], reference),
        lambda image: _samples(SimpleITK.GetArrayViewFromImage(image), args["points"]),
    )
    if reference is not None:
        result["reversed_slices"] = itk_tag.check(args["path"], reference).reversed_slices
    return result


# Streamed reads of one slice (z = args["slice"]; the warm-up reads another).


def case_itk_slice(args: dict[str, Any]) -> dict[str, Any]:
    import itk

    def operation(warmup: bool) -> Any:
        image_type = itk.Image[itk.UC, 3]
        reader = itk.ImageFileReader[image_type].New(FileName=args["path"])
        reader.UseStreamingOn()
        reader.UpdateOutputInformation()
        region = reader.GetOutput().GetLargestPossibleRegion()
        index, size = region.GetIndex(), region.GetSize()
        index[2], size[2] = args["warmup_slice" if warmup else "slice"], 1
        region.SetIndex(index)
        region.SetSize(size)
        extract = itk.ExtractImageFilter[image_type, image_type].New(Input=reader.GetOutput())
        extract.SetExtractionRegion(region)
        extract.SetDirectionCollapseToIdentity()
        extract.Update()
        return extract.GetOutput()

    return measure(operation, lambda image: _samples(itk.array_view_from_image(image), args["points"]))


def case_sitk_slice(args: dict[str, Any]) -> dict[str, Any]:
    import itk_tag  # noqa: F401 - before SimpleITK, so that SimpleITK loads the .tag plugin
    import SimpleITK

    def operation(warmup: bool) -> Any:
        reader = SimpleITK.ImageFileReader()
        reader.SetFileName(args["path"])
        reader.ReadImageInformation()
        size = list(reader.GetSize())
        reader.SetExtractIndex([0, 0, args["warmup_slice" if warmup else "slice"]])
        reader.SetExtractSize([size[0], size[1], 1])
        return reader.Execute()

    return measure(operation, lambda image: _samples(SimpleITK.GetArrayViewFromImage(image), args["points"]))


# Many small files, read in one process: passes over all files, alternating
# formats so that both see the same machine load.


def case_per_file(args: dict[str, Any]) -> dict[str, Any]:
    reader = args["reader"]
    if reader == "sitk":
        if args.get("itk_tag", True):
            import itk_tag  # noqa: F401 - before SimpleITK, so that SimpleITK loads the .tag plugin
        import SimpleITK

        read: Callable[[str], Any] = SimpleITK.ReadImage
    elif reader == "itk":
        import itk

        read = itk.imread
    else:
        import itk_tag

        read = itk_tag.read_array
    lists: dict[str, list[str]] = args["files"]
    for paths in lists.values():
        for path in paths[:20]:
            read(path)
    passes: dict[str, list[float]] = {name: [] for name in lists}
    for _ in range(args["rounds"]):
        for name, paths in lists.items():
            start = time.perf_counter()
            for path in paths:
                read(path)
            passes[name].append(time.perf_counter() - start)
    return {"passes": passes, "files": {name: len(paths) for name, paths in lists.items()}}


def case_convert_loop(args: dict[str, Any]) -> dict[str, Any]:
    """ReadImage(.tag) + WriteImage(.nrrd) in a loop: what a batch costs without the CLI."""
    import itk_tag  # noqa: F401 - before SimpleITK, so that SimpleITK loads the .tag plugin
    import SimpleITK

    start = time.perf_counter()
    for source, destination in zip(args["sources"], args["destinations"]):
        SimpleITK.WriteImage(SimpleITK.ReadImage(source), destination)
    return {"seconds": time.perf_counter() - start}


# Import cost, timed from the first import to the end of the first read; the
# interpreter's own start-up is the same for every variant and left out.


def case_import(args: dict[str, Any]) -> dict[str, Any]:
    trace = None
    if "autoload_folder" in args:
        # As after `export ITK_AUTOLOAD_PATH=$(itk-tag plugin-path)`; the entry
        # library reports the time of its itkLoad() on stderr (fd 2, from C).
        os.environ["ITK_AUTOLOAD_PATH"] = args["autoload_folder"]
        os.environ["ITK_TAG_TRACE"] = "1"
        trace = tempfile.TemporaryFile()
        saved_stderr = os.dup(2)
        os.dup2(trace.fileno(), 2)
    start = time.perf_counter()
    variant = args["variant"]
    result: dict[str, Any] = {}
    if variant in ("sitk", "sitk-hook"):
        import SimpleITK

        result["seconds"] = time.perf_counter() - start
        # Without itk-tag (the hook off), or with the plugin through the startup hook alone,
        # or through the exported plugin folder alone.
        expect_plugin = variant == "sitk-hook" or "autoload_folder" in args
        if ("itk_tag" in sys.modules) != (variant == "sitk-hook") or (
            expect_plugin and "TagImageIO" not in SimpleITK.ImageFileReader().GetRegisteredImageIOs()
        ):
            raise RuntimeError(f"{variant}: itk_tag imported: {'itk_tag' in sys.modules}")
        if trace is not None:
            os.dup2(saved_stderr, 2)
            trace.seek(0)
            found = re.search(rb"itkLoad took ([0-9.]+) ms", trace.read())
            if found is None:
                raise RuntimeError("the entry library printed no itkLoad time")
            result["itkload_seconds"] = float(found.group(1)) / 1000
    elif variant == "itk_tag+sitk":
        import itk_tag  # noqa: F401
        import SimpleITK

        result["seconds"] = time.perf_counter() - start
        if "TagImageIO" not in SimpleITK.ImageFileReader().GetRegisteredImageIOs():
            raise RuntimeError("SimpleITK did not load the .tag plugin")
    elif variant == "itk":
        import itk

        itk.imread(args["path"])
        result["seconds"] = time.perf_counter() - start
        if itk.ImageIOFactory.CreateImageIO("x.tag", itk.CommonEnums.IOFileMode_WriteMode) is None:
            raise RuntimeError("ITK Python did not register the .tag factory")
    elif variant == "itk-without-tag":
        import importlib

        import itk
        from itk.support import base

        # ITK Python registers the ImageIO factories of every module it knows
        # on first use; forgetting IOTag before that gives ITK Python as it
        # is without itk-tag installed.
        base.itk_base_global_module_data.pop("IOTag", None)
        itk.imread(args["path"])
        result["seconds"] = time.perf_counter() - start
        # What the factory adds to that, measured directly (not a difference
        # of two noisy process times): the module ITK Python's loader would
        # import, and the registration it would call.
        start = time.perf_counter()
        importlib.import_module("itk.IOTagPython").itkTagImageIOFactory.RegisterOneFactory()
        result["factory_seconds"] = time.perf_counter() - start
        if itk.ImageIOFactory.CreateImageIO("x.tag", itk.CommonEnums.IOFileMode_WriteMode) is None:
            raise RuntimeError("the .tag factory was not registered")
    else:
        raise ValueError(variant)
    result["modules"] = len(sys.modules)
    return result


def main() -> None:
    case, arguments = sys.argv[1], json.loads(sys.argv[2])
    function = globals()[f"case_{case}"]
    print(json.dumps(function(arguments)), flush=True)


if __name__ == "__main__":
    main()
