"""itk_tag's own Python API: header, numpy reader, plugin folders."""

from __future__ import annotations

from pathlib import Path

import itk_tag
import numpy as np
import pytest
from conftest import DATA, raw_voxels


def test_read_header_of_a_real_file() -> None:
    header = itk_tag.read_header(DATA / "sandbox-test01.dcm.tag")
    assert header.size == (512, 512, 1)
    assert header.dtype == np.uint8
    assert header.origin == (-175.1475, -339.6475, -166.8)
    assert header.spacing == (0.7051, 0.7051, 1.5)
    assert header.direction == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert header.header_size == 288
    assert header.file_size == 288 + 512 * 512
    assert header.keywords["uid"] == "EE9DCED7"
    assert list(header.keywords)[:4] == ["x", "y", "z", "type"]
    assert header.shape == (1, 512, 512)


def test_read_array_matches_the_bytes_after_the_form_feed() -> None:
    for name in ("sandbox-test01.dcm.tag", "barbell2-10.tag"):
        array, header = itk_tag.read_array(DATA / name)
        assert array.shape == header.shape
        assert np.array_equal(array.ravel(), raw_voxels(DATA / name))


def test_read_array_of_generated_files(generated: dict) -> None:
    for spec, path in generated.values():
        array, header = itk_tag.read_array(path)
        assert array.dtype == spec.dtype
        assert np.array_equal(array, spec.voxels())
        np.testing.assert_allclose(np.reshape(header.direction, (3, 3)), spec.direction(), atol=1e-12)


def test_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        itk_tag.read_header(tmp_path / "missing.tag")
    with pytest.raises(IsADirectoryError):
        itk_tag.read_array(tmp_path)
    broken = tmp_path / "broken.tag"
    broken.write_bytes(b"x:4 y:3 z:1\n\f" + bytes(5))
    with pytest.raises(itk_tag.TagFileError, match="truncated data") as caught:
        itk_tag.read_array(broken)
    assert str(broken) in str(caught.value)
    assert isinstance(caught.value, RuntimeError) and isinstance(caught.value, ValueError)


def test_plugin_path_is_the_installed_folder() -> None:
    folder = itk_tag.plugin_path()
    assert folder == Path(itk_tag.__file__).parent / "plugins"
    assert (folder / "libIOTagPlugin.so").is_file()
