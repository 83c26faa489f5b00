#!/usr/bin/env bash
# Sourced by demo.sh and test.sh: installs what itk-tag needs on a fresh
# Debian 12 machine, then builds and installs itk-tag into ./.venv.
#   ITK_TAG_APT_PACKAGES  extra Debian packages to install (test.sh adds its own)
set -euo pipefail

ITK_TAG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ITK_TAG_VENV="${ITK_TAG_VENV:-$ITK_TAG_ROOT/.venv}"
export ITK_TAG_ROOT ITK_TAG_VENV

itk_tag_log() { printf '\n== %s\n' "$*" >&2; }

source "$ITK_TAG_ROOT/scripts/apt.sh"

# g++ builds the plugins and the private ITK; apt-get source (run by the
# superbuild) fetches Debian's ITK source when no ITK tree is given, and
# patch back-ports one ITK 5.4 declaration into it.
itk_tag_apt_install g++ xz-utils patch ${ITK_TAG_APT_PACKAGES:-}

if [ ! -x "$ITK_TAG_VENV/bin/python" ]; then
  itk_tag_log "creating $ITK_TAG_VENV"
  python3 -m venv "$ITK_TAG_VENV"
fi
itk_tag_log "pip install itk-tag (a cold build compiles the parts of a private ITK the plugins link, per ABI and ITK namespace: a few minutes on 2 cores)"
"$ITK_TAG_VENV/bin/python" -m pip install -q --upgrade pip
"$ITK_TAG_VENV/bin/python" -m pip install -q "$ITK_TAG_ROOT${ITK_TAG_PIP_EXTRAS:-}"
