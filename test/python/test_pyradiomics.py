"""The pyradiomics recipe of docs/cli.md: a real client accepts the aligned mask, and agrees with measure.

pyradiomics refuses the raw ``.tag`` beside its CT (the header's 4-decimal spacing, and its z
spacing is ``epais``, not the DICOM's); ``itk_tag.read(mask, reference=ct)`` gives it the CT's grid.
"""

from __future__ import annotations

import itk_tag
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS

radiomics = pytest.importorskip("radiomics", reason="pyradiomics: installed by scripts/test.sh")

MEANS = {"barbell2-10.tag": 45.7188, "sandbox-test01.dcm.tag": 39.4922}
"""firstorder Mean of label 1 (muscle) as pyradiomics 3.0.1 gives it, 4 decimals (issue 18)."""


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_firstorder_mean_equals_measure(tag_name: str) -> None:
    from radiomics import featureextractor

    ct_path = DATA / REAL_TAGS[tag_name]
    # The recipe, as docs/cli.md shows it:
    ct = SimpleITK.ReadImage(str(ct_path))
    mask = itk_tag.read(DATA / tag_name, reference=ct_path)
    extractor = featureextractor.RadiomicsFeatureExtractor()
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(firstorder=["Mean"])
    features = extractor.execute(ct, mask, label=1)

    mean = float(features["original_firstorder_Mean"])
    rows = itk_tag.measure_file(DATA / tag_name, reference="auto", labels="alberta")
    muscle = next(row for row in rows if row["label"] == 1)
    assert mean == pytest.approx(muscle["hu_mean"], abs=1e-9)
    assert round(mean, 4) == MEANS[tag_name]
