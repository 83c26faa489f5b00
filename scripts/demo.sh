#!/usr/bin/env bash
# The main job on the bundled sample data: install itk-tag, then convert the
# sample .tag masks to Slicer segmentations (.seg.nrrd) on their DICOM's grid,
# measure them (areas, HU), write them as DICOM SEG, and draw the qc report
# (an overlay per mask and out/qc/index.html, which opens in any browser).
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
itk_tag_log "itk-tag qc test/data --reference auto --labels alberta -o $results/qc"
"$ITK_TAG_VENV/bin/itk-tag" qc "$ITK_TAG_ROOT/test/data" --reference auto --labels alberta \
  --overwrite -o "$results/qc"
echo "open $results/qc/index.html in a browser"
