"""The ``itk-tag`` command, run as a user runs it: in its own process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import itk_tag  # noqa: F401 - before SimpleITK
import numpy as np
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS
from tag_samples import body_labels, raw_label_counts, run_cli, write_tag

BROKEN = {
    "broken-truncated.tag": b"x:32 y:32 z:1 type:BYTE\n\f" + bytes(100),
    "broken-no-z.tag": b"x:32 y:32 type:BYTE\n\f" + bytes(32 * 32),
    "broken-mni.tag": b"MNI Tag Point File\nVolumes = 1;\nPoints =\n 1 2 3;\n",
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """200 tags in nested folders, 3 of them broken."""
    root = tmp_path_factory.mktemp("batch") / "tags"
    for number in range(197):
        folder = root / f"patient{number // 20:02d}"
        write_tag(
            folder / f"slice{number:03d}.tag", body_labels((1, 32, 32), seed=number), (-50.0, -60.0, number)
        )
    for name, data in BROKEN.items():
        (root / "patient03" / name).write_bytes(data)
    return root


def output_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_batch_of_200_with_3_broken(batch: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    started = time.monotonic()
    result = run_cli("convert", batch, "-o", out, "--jobs", "2")
    elapsed = time.monotonic() - started
    print(f"200 tags -> nrrd with --jobs 2: {elapsed:.1f} s")
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, result.stderr
    for name in BROKEN:
        assert sum(str(batch / "patient03" / name) in line for line in errors) == 1, (name, errors)
    assert any('"z" is missing' in line for line in errors)
    assert result.stdout.strip().splitlines()[-1] == "197 written, 3 failed"
    outputs = output_files(out)
    assert len(outputs) == 197 and all(p.suffix == ".nrrd" and not p.name.startswith(".") for p in outputs)
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal
    sample = out / "patient05" / "slice100.nrrd"
    image = SimpleITK.ReadImage(str(sample))
    np.testing.assert_array_equal(SimpleITK.GetArrayFromImage(image), body_labels((1, 32, 32), seed=100))
    assert image.GetOrigin() == (-50.0, -60.0, 100.0)

    stamps = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in outputs}
    rerun = run_cli("convert", batch, "-o", out)
    assert rerun.returncode == 1
    assert rerun.stdout.strip().splitlines()[-1] == (
        "0 written, 197 skipped (output exists; --overwrite replaces), 3 failed"
    )
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in output_files(out)} == stamps


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_leaves_only_whole_files(batch: Path, tmp_path: Path, jobs: str) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "itk_tag",
            "convert",
            str(batch),
            "-o",
            str(out),
            "--format",
            "seg.nrrd",
            "-j",
            jobs,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and len(output_files(out)) < 20:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the parent and its workers
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        raise
    assert process.returncode in (130, 1), stderr  # 1: it finished before the signal
    if process.returncode == 130:
        assert "interrupted" in stderr and "Traceback" not in stderr
    for path in output_files(out):
        assert not path.name.startswith("."), f"temporary file left: {path}"
        assert SimpleITK.ReadImage(str(path)).GetSize() == (32, 32, 1)


def run_on_terminal(*args: str | os.PathLike[str]) -> tuple[int, str, str]:
    """Runs ``itk-tag ARGS`` with stderr on a pseudo-terminal of 100 columns; (exit code, stdout, stderr)."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "itk_tag", *map(str, args)], stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    terminal = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        terminal += chunk
    os.close(master)
    stdout = process.stdout.read().decode() if process.stdout else ""
    return process.wait(timeout=60), stdout, terminal.decode(errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal test")
def test_progress_bar_with_eta_on_a_terminal_only(batch: Path, tmp_path: Path) -> None:
    code, stdout, terminal = run_on_terminal("convert", batch, "-o", tmp_path / "out", "--jobs", "2")
    assert code == 1 and stdout.strip() == "197 written, 3 failed"
    frames = [frame for frame in terminal.split("\r") if "file" in frame and "|" in frame]
    assert frames and "200/200" in frames[-1] and "<" in frames[-1], terminal[-500:]  # count and ETA
    assert sum("error: " in line for line in terminal.splitlines()) == 3
    piped = run_cli("convert", batch, "-o", tmp_path / "out", "--progress")
    assert "200/200" in piped.stderr  # --progress forces it where there is no terminal
    quiet = run_cli("convert", batch, "-o", tmp_path / "out")
    assert "200/200" not in quiet.stderr and "%|" not in quiet.stderr


def test_demo_command_main_job(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    out = tmp_path / "samples"
    args = ["convert", data, "--reference", "auto", "--labels", "alberta", "--format", "seg.nrrd"]
    result = run_cli(*args, "--overwrite", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2 written, 0 failed"
    assert sorted(p.name for p in output_files(out)) == ["barbell2-10.seg.nrrd", "sandbox-test01.seg.nrrd"]
    for tag_name, dicom_name in REAL_TAGS.items():
        dicom = SimpleITK.ReadImage(str(data / dicom_name))
        stem = tag_name.removesuffix(".tag").removesuffix(".dcm")
        statistics = SimpleITK.LabelStatisticsImageFilter()
        statistics.Execute(dicom, SimpleITK.ReadImage(str(out / f"{stem}.seg.nrrd")))
        counts = {int(v): int(statistics.GetCount(v)) for v in statistics.GetLabels() if v}
        assert counts == raw_label_counts(data / tag_name)
    again = run_cli(*args, "-o", out)
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "0 written, 2 skipped (output exists; --overwrite replaces), 0 failed",
    )
    info = run_cli("info", *sorted(data.glob("*.tag")))
    assert info.returncode == 0 and "area cm²" in info.stdout


def test_convert_without_reference_gives_a_mask_itk_refuses(tmp_path: Path) -> None:
    result = run_cli("convert", DATA / "barbell2-10.tag", "-o", tmp_path / "mask.nrrd")
    assert result.returncode == 0, result.stderr
    statistics = SimpleITK.LabelStatisticsImageFilter()
    with pytest.raises(RuntimeError, match="same physical space"):
        statistics.Execute(
            SimpleITK.ReadImage(str(DATA / "barbell2-10.dcm")),
            SimpleITK.ReadImage(str(tmp_path / "mask.nrrd")),
        )


def test_info_json_field_by_field() -> None:
    result = run_cli(
        "info", "--json", "--labels", "alberta", DATA / "barbell2-10.tag", DATA / "sandbox-test01.dcm.tag"
    )
    assert result.returncode == 0, result.stderr
    barbell, sandbox = (json.loads(line) for line in result.stdout.splitlines())
    fields = (
        "path size pixel_type spacing origin direction header_size file_size keywords spacing_from labels"
    )
    assert set(barbell) == set(fields.split())
    assert barbell["path"] == str(DATA / "barbell2-10.tag")
    assert barbell["size"] == [512, 512, 1]
    assert barbell["pixel_type"] == "uint8"
    assert barbell["spacing"] == [0.6758, 0.6758, 3.0]
    assert barbell["origin"] == [-207.0, -58.0, 293.1]
    assert barbell["direction"] == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    raw = (DATA / "barbell2-10.tag").read_bytes()
    assert barbell["header_size"] == raw.index(b"\f") + 1 == 259
    assert barbell["file_size"] == len(raw)
    assert barbell["keywords"]["org_z"] == "293.1000" and "uid" not in barbell["keywords"]
    assert list(barbell["keywords"])[:4] == ["x", "y", "z", "type"]
    counts = raw_label_counts(DATA / "barbell2-10.tag")
    assert [(label["value"], label["name"], label["voxels"]) for label in barbell["labels"]] == [
        (1, "muscle", counts[1]),
        (5, "VAT", counts[5]),
        (7, "SAT", counts[7]),
    ]
    for label in barbell["labels"]:  # cm², and no volume for one slice (as measure: issue 23)
        assert label["area_cm2"] == pytest.approx(label["voxels"] * 0.6758 * 0.6758 / 100)
        assert label["volume_cm3"] is None
    assert sandbox["header_size"] == 288
    assert (sandbox["keywords"]["uid"], sandbox["keywords"]["chksum"]) == ("EE9DCED7", "09E62542")
    assert sandbox["labels"] == [
        {"value": 1, "name": "muscle", "voxels": 23439, "area_cm2": pytest.approx(23439 * 0.7051**2 / 100),
         "volume_cm3": None}
    ]  # fmt: skip


def test_info_reports_a_broken_file_and_goes_on(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tag"
    broken.write_bytes(BROKEN["broken-no-z.tag"])
    result = run_cli("info", broken, DATA / "barbell2-10.tag")
    assert result.returncode == 1
    assert str(broken) in result.stderr and '"z" is missing' in result.stderr
    assert "barbell2-10.tag" in result.stdout


def test_check_command(tmp_path: Path) -> None:
    ok = run_cli("check", DATA / "barbell2-10.tag")
    assert ok.returncode == 0, ok.stderr
    assert "same grid" in ok.stdout and "barbell2-10.dcm" in ok.stdout
    shifted = write_tag(
        tmp_path / "shifted.tag",
        np.zeros((1, 512, 512), np.uint8),
        (-206.0, -58.0, 293.1),
        (0.6758, 0.6758, 3.0),
    )
    bad = run_cli("check", "--json", shifted, DATA / "barbell2-10.dcm")
    assert bad.returncode == 1
    verdict = json.loads(bad.stdout)
    assert verdict["ok"] is False
    assert [c["name"] for c in verdict["comparisons"] if not c["ok"]] == ["origin"]
    assert run_cli("check", shifted, DATA / "barbell2-10.dcm", "--origin-tolerance", "1.5").returncode == 0
    missing = run_cli("check", shifted)
    assert missing.returncode == 1 and "no reference image found" in missing.stderr


def test_convert_reports_geometry_mismatch_and_force(tmp_path: Path) -> None:
    shutil.copy(DATA / "barbell2-10.dcm", tmp_path / "case.dcm")
    write_tag(
        tmp_path / "case.dcm.tag", body_labels((1, 512, 512)), (-207.0, -58.0, 295.0), (0.6758, 0.6758, 3.0)
    )
    refused = run_cli(
        "convert", tmp_path / "case.dcm.tag", "--reference", "auto", "-o", tmp_path / "out.nrrd"
    )
    assert refused.returncode == 1 and "origin" in refused.stderr and "--force" in refused.stderr
    assert not (tmp_path / "out.nrrd").exists()
    forced = run_cli(
        "convert", tmp_path / "case.dcm.tag", "--reference", "auto", "--force", "-o", tmp_path / "out.nrrd"
    )
    assert forced.returncode == 0, forced.stderr
    assert SimpleITK.ReadImage(str(tmp_path / "out.nrrd")).GetOrigin()[2] == pytest.approx(293.100037)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args in (
        ["convert", tmp_path / "missing", "-o", tmp_path / "out"],
        ["convert", DATA, "-o", tmp_path / "out", "--format", "png"],
        ["convert", DATA, "-o", tmp_path / "out", "--jobs", "0"],
        ["convert", DATA, "-o", tmp_path / "out", "--labels", "nonsense"],
        ["convert", DATA],
        ["frobnicate"],
    ):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "usage:" in result.stderr or "error:" in result.stderr
    assert not (tmp_path / "out").exists()


def test_version_is_the_installed_distribution_s() -> None:
    from importlib.metadata import version

    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"itk-tag {version('itk-tag')}"


def test_help_documents_every_option() -> None:
    options = {
        "convert": ["--output", "--format", "--reference", "--labels", "--force", "--overwrite", "--jobs",
                    "--progress", "--no-progress", "--verbose", "--origin-tolerance", "--direction-tolerance",
                    "--spacing-tolerance", "--seg-type", "--seg-series-description"],
        "measure": ["--output", "--reference", "--labels", "--force", "--overwrite", "--jobs", "--progress",
                    "--no-progress", "--verbose", "--origin-tolerance", "--direction-tolerance",
                    "--spacing-tolerance"],
        "qc": ["--output", "--reference", "--labels", "--window", "--outlier-k", "--force", "--overwrite",
               "--jobs", "--progress", "--no-progress", "--verbose", "--origin-tolerance",
               "--direction-tolerance", "--spacing-tolerance"],
        "info": ["--json", "--labels"],
        "check": ["--json", "--origin-tolerance", "--direction-tolerance", "--spacing-tolerance"],
        "plugin-path": [],
    }  # fmt: skip
    top = run_cli("--help")
    for command, names in options.items():
        assert command in top.stdout
        text = run_cli(command, "--help").stdout
        for name in names:
            assert name in text, (command, name)
    readme = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    for names in options.values():
        for name in names:
            assert name in readme, name


def test_readme_main_job_has_measure_and_dicom_seg() -> None:
    root = Path(__file__).resolve().parents[2]
    for command in (
        "itk-tag measure test/data --reference auto --labels alberta -o out/metrics.csv",
        "itk-tag qc test/data --reference auto --labels alberta -o out/qc",
        "itk-tag convert test/data --reference auto --labels alberta --format dcm -o out/seg",
    ):
        assert command in (root / "README.md").read_text(), command
        assert command in (root / "docs" / "cli.md").read_text(), command
    demo = (root / "scripts" / "demo.sh").read_text()
    assert "measure" in demo and "--format dcm" in demo


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / ("itk-tag.exe" if os.name == "nt" else "itk-tag")
    if not script.exists():
        pytest.skip(f"no console script beside {sys.executable} (package not installed with pip)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "convert" in result.stdout
