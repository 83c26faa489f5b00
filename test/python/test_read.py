"""``itk_tag.read``: the SimpleITK image of a tag, read in one copy (into the image's own buffer)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import itk_tag
import numpy as np
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS, raw_voxels, run_python
from itk_tag.batch.reference import flip_slices
from itk_tag.hosts import sample
from itk_tag.hosts.image_buffer import image_of, read_voxels, writable_voxels


def check_image(image: SimpleITK.Image, path: Path) -> None:
    header = itk_tag.read_header(path)
    array = SimpleITK.GetArrayViewFromImage(image)
    assert array.dtype == header.dtype and array.shape == header.shape
    assert np.array_equal(array.ravel(), raw_voxels(path).view(header.dtype)[: array.size])
    assert image.GetOrigin() == header.origin
    assert image.GetSpacing() == header.spacing
    assert image.GetDirection() == header.direction
    assert {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()} == header.keywords


@pytest.mark.parametrize("name", sorted(REAL_TAGS))
def test_real_samples(name: str) -> None:
    check_image(itk_tag.read(DATA / name), DATA / name)


def test_generated_volumes(generated: dict) -> None:
    for spec, path in generated.values():
        image = itk_tag.read(path)
        check_image(image, path)
        assert np.array_equal(SimpleITK.GetArrayViewFromImage(image), spec.voxels())


def test_bundled_sample() -> None:
    image = itk_tag.read(sample.PATH)
    view = SimpleITK.GetArrayViewFromImage(image)
    facts = {
        "size": list(image.GetSize()),
        "origin": list(image.GetOrigin()),
        "spacing": list(image.GetSpacing()),
        "direction": list(image.GetDirection()),
        "dtype": str(view.dtype),
        "sha256": hashlib.sha256(view.tobytes()).hexdigest(),
    }
    assert sample.differences(facts) == []


def test_the_image_is_the_buffer_the_voxels_were_read_into(generated: dict) -> None:
    path = generated["multi-slice"][1]
    voxels = read_voxels(path, itk_tag.read_header(path))
    image = image_of(voxels)
    assert image is not None
    address = SimpleITK.GetArrayViewFromImage(image).__array_interface__["data"][0]
    assert voxels.__array_interface__["data"][0] == address
    # A part, or a copy, of the voxels is not the image.
    assert image_of(voxels[1:]) is None and image_of(voxels.copy()) is None


def test_the_view_keeps_its_image_alive() -> None:
    # Nothing but the view holds the image; were its memory freed, the
    # zero-filled images made next would take it.
    voxels = writable_voxels(SimpleITK.Image(64, 64, 64, SimpleITK.sitkUInt16))
    voxels[...] = 7
    others = [SimpleITK.Image(64, 64, 64, SimpleITK.sitkUInt16) for _ in range(4)]
    assert int(voxels.sum()) == 7 * 64**3 and len(others) == 4


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_flip_slices_in_place(depth: int) -> None:
    voxels = np.arange(depth * 3 * 4, dtype=np.uint16).reshape(depth, 3, 4)
    expected = voxels[::-1].copy()
    flip_slices(voxels)
    assert np.array_equal(voxels, expected)


def test_simpleitk_without_the_plugin_reads_the_same(generated: dict) -> None:
    # SimpleITK imported with the hook off: itk_tag.read fills a SimpleITK.Image itself.
    paths = [str(DATA / name) for name in sorted(REAL_TAGS)] + [str(path) for _, path in generated.values()]
    code = f"""
import hashlib, json, warnings
import SimpleITK
warnings.simplefilter("ignore")
import itk_tag
from itk_tag.hosts import image_buffer
assert not image_buffer._simpleitk_has_plugin()
for path in {paths!r}:
    image = itk_tag.read(path)
    print(json.dumps([path, image.GetSize(), image.GetOrigin(), image.GetDirection(),
                      hashlib.sha256(SimpleITK.GetArrayViewFromImage(image).tobytes()).hexdigest()]))
"""
    result = run_python(code, env={"ITK_TAG_NO_AUTOLOAD": "1"})
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        path, size, origin, direction, digest = json.loads(line)
        image = itk_tag.read(path)
        assert (tuple(size), tuple(origin), tuple(direction)) == (
            image.GetSize(),
            image.GetOrigin(),
            image.GetDirection(),
        )
        assert digest == hashlib.sha256(SimpleITK.GetArrayViewFromImage(image).tobytes()).hexdigest()
    assert len(result.stdout.splitlines()) == len(paths)
