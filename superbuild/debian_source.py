"""Debian's ITK orig tarball, downloaded by ``apt-get source`` and checked against a pinned SHA-256.

apt itself reports which archive serves ``bookworm main`` on this machine
(``apt-get indextargets``, which reads ``sources.list`` and ``sources.list.d`` in
both formats). A ``deb-src`` line for that archive goes into a private apt
configuration (own sources, lists and cache; the machine's update hooks cleared,
its proxy and key settings kept), so no mirror is named here and the machine's
apt state is left alone. Only the orig tarball is kept: ``dpkg-dev`` is not needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

from common import fail, log, run, sha256_file

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = "insighttoolkit5"
VERSION = "5.2.1-5+deb12u1"
SUITE = "bookworm"
COMPONENT = "main"
ITK_VERSION = "5.2.1"
TARBALL = "insighttoolkit5_5.2.1.orig.tar.xz"
TOP_FOLDER = "InsightToolkit-5.2.1"  # every member of the tarball is below it
SIZE = 282_723_808
SHA256 = "a267fe9b37921cecbe85aa3f6ca64185c602d7a8ca3f148a705a4971f1b88202"
# A machine's hooks (e.g. cleaning /var/cache/apt) are not for our private lists.
UPDATE_HOOKS = ("APT::Update::Pre-Invoke", "APT::Update::Post-Invoke", "APT::Update::Post-Invoke-Success")


def is_genuine(path: Path) -> bool:
    """Tell whether ``path`` has the pinned size and SHA-256 (logs the mismatch)."""
    size = path.stat().st_size
    if size != SIZE:
        log(f"{path.name}: size {size} != {SIZE}")
        return False
    digest = sha256_file(path)
    if digest != SHA256:
        log(f"{path.name}: SHA-256 {digest} != {SHA256}")
        return False
    return True


def orig_tarball(downloads: Path, scratch: Path) -> Path:
    """Return the checked tarball in ``downloads``, downloading it first (via ``scratch``) if needed.

    A cached file that fails the check is deleted. Raises SuperbuildError when apt
    has no source for it or the download is not the pinned file.
    """
    cached = downloads / TARBALL
    if cached.is_file():
        if is_genuine(cached):
            return cached
        log(f"removing corrupt {cached}")
        cached.unlink()
    log(f"fetching Debian source package {PACKAGE} {VERSION}")
    fetched = apt_get_source(scratch)
    if not is_genuine(fetched):
        fail(f"{fetched.name} from apt is not the expected file (SHA-256 {SHA256})")
    downloads.mkdir(parents=True, exist_ok=True)
    os.replace(fetched, cached)  # scratch is inside the cache: one file system
    return cached


def archive_uri() -> str:
    """The URI of the machine's apt entry for ``bookworm main``, as apt reports it."""
    if shutil.which("apt-get") is None:
        fail("apt-get is not available")
    query = ["apt-get", "indextargets", "--format", "$(REPO_URI)", f"Release: {SUITE}"]
    found = subprocess.run([*query, f"Component: {COMPONENT}"], capture_output=True, text=True).stdout.split()
    uris = [uri for uri in dict.fromkeys(found) if not uri.startswith("cdrom:")]
    if not uris:
        fail(f"no apt source serving '{SUITE} {COMPONENT}' (apt-get indextargets lists none)")
    return uris[0]


def apt_get_source(root: Path) -> Path:
    """Download the orig tarball into ``root`` with a private apt configuration there."""
    uri = archive_uri()
    for folder in ("lists/partial", "cache/archives/partial", "sources.list.d", "download"):
        (root / folder).mkdir(parents=True)
    (root / "sources.list").write_text(f"deb-src {uri} {SUITE} {COMPONENT}\n", encoding="utf-8")
    settings = {
        "Dir::Etc::SourceList": root / "sources.list",
        "Dir::Etc::SourceParts": root / "sources.list.d",
        "Dir::State::Lists": root / "lists",
        "Dir::Cache": root / "cache",
        "Acquire::Languages": "none",
    }
    if os.geteuid() == 0:
        settings["APT::Sandbox::User"] = "root"  # apt's sandbox user cannot write our folders
    # -c reads this file after the machine's configuration: proxies and keys stay.
    config = root / "apt.conf"
    clears = "".join(f"#clear {hook};\n" for hook in UPDATE_HOOKS)
    config.write_text(clears + "".join(f'{k} "{v}";\n' for k, v in settings.items()), encoding="utf-8")
    apt = ["apt-get", "-q", "-c", str(config)]
    env = {**os.environ, "LC_ALL": "C"}
    run([*apt, "update"], env=env)
    run([*apt, "source", "--download-only", f"{PACKAGE}={VERSION}"], cwd=root / "download", env=env)
    fetched = root / "download" / TARBALL
    if not fetched.is_file():
        fail(f"apt-get source did not produce {TARBALL}")
    return fetched
