#!/usr/bin/env bash
# The main job on the bundled sample data: install itk-tag, then convert the
# sample .tag masks to Slicer segmentations (.seg.nrrd) on their DICOM's grid,
# measure them (areas, HU) and write them as DICOM SEG.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

out="${1:-$ITK_TAG_ROOT/out/samples}"
results="$(dirname "$out")"
itk_tag_log "itk-tag convert test/data --reference auto --labels alberta -o $out --format seg.nrrd"
"$ITK_TAG_VENV/bin/itk-tag" convert "$ITK_TAG_ROOT/test/data" --reference auto --labels alberta \
  --format seg.nrrd --overwrite -o "$out"
"$ITK_TAG_VENV/bin/itk-tag" info --labels alberta "$ITK_TAG_ROOT"/test/data/*.tag
itk_tag_log "itk-tag measure test/data --reference auto --labels alberta -o $results/metrics.csv"
"$ITK_TAG_VENV/bin/itk-tag" measure "$ITK_TAG_ROOT/test/data" --reference auto --labels alberta \
  --overwrite -o "$results/metrics.csv"
cat "$results/metrics.csv"
itk_tag_log "itk-tag convert test/data --reference auto --labels alberta --format dcm -o $results/seg"
"$ITK_TAG_VENV/bin/itk-tag" convert "$ITK_TAG_ROOT/test/data" --reference auto --labels alberta \
  --format dcm --overwrite -o "$results/seg"
