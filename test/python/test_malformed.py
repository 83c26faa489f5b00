"""Malformed inputs through every Python entry point, and the writers on a
read-only folder and a full disk.

The table is ``malformed_cases.py`` (the C++ reader and the plugin host run
it in ctest, ``itkTagMalformedTest``). Entry points: ``itk_tag.read_array``,
``itk.imread``, ``sitk.ReadImage`` after ``import itk_tag``, and the
``itk-tag info`` / ``itk-tag convert`` commands.

Every read runs in a child process with a timeout and a memory limit: a
crash, a hang or a runaway allocation fails the case, not the test run. The
API entry points read all cases in one child each (one import of ITK), with
an address-space limit a little above what the child uses after reading a
valid file; the child reports each case as it goes, so a crash points at
its case. Each command-line call is a process of its own.

What each entry point must say: the file's name always; the precise problem
where the entry point can know it. ``read_array`` and the command line ask
the itk-tag reader directly. ITK Python and SimpleITK only hand the files
``TagImageIO::CanReadFile`` claims to it; for the few others (empty, binary,
MNI landmarks, a folder, an unreadable file) they report their own "no
reader" error, naming the file.

Permissions cannot be refused to root: as root, the cases about them run
without the capabilities that override file permissions (``setpriv``), so
root gets the owner's permissions like any user.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import malformed_cases
import pytest
from conftest import DATA
from malformed_cases import DIRECTORY, UNREADABLE, MalformedCase

CASES = malformed_cases.cases()
CASE_IDS = [case.name for case in CASES]

TIME_LIMIT = 60
"""Seconds one case may take (the largest file is 70 kB)."""

MEMORY_MARGIN = 512 << 20
"""Address space a child may add, over what reading a valid file needed."""

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
"""Run by scripts/sanitizers.sh --python (ASan preloaded, instrumented plugins).
ASan reserves terabytes of address space, so no RLIMIT_AS can be set: the
allocation cap in its ASAN_OPTIONS (max_allocation_size_mb) takes that role."""

CLI_MEMORY_LIMIT = 4 << 30
CLI_RSS_MARGIN_KIB = 256 << 10

VALID_TAG = DATA / "sandbox-test01.dcm.tag"

ROOT_WITHOUT_FILE_PERMISSION_OVERRIDE = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
]


# ------------------------------------------------------------ child processes
LIMIT_AND_EXEC = (
    "import os, resource, sys\n"
    "limit = int(sys.argv[1])\n"
    "resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
"""Runs ``argv[2:]`` with an address-space limit of ``argv[1]`` bytes."""


@dataclass
class Child:
    """What a child process did."""

    returncode: int
    stdout: str
    stderr: str
    max_rss_kib: int
    timed_out: bool

    def describe(self) -> str:
        """Exit status and output, for failure messages."""
        if self.timed_out:
            status = "killed after the time limit"
        elif self.returncode < 0:
            status = f"killed by {signal.Signals(-self.returncode).name}"
        else:
            status = f"exit code {self.returncode}"
        return f"{status}\n--- stdout\n{self.stdout[-3000:]}\n--- stderr\n{self.stderr[-3000:]}"


def permission_wrapper() -> list[str]:
    """The command prefix that makes file permissions apply to this user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip(
            "running as root and setpriv (util-linux) is missing: root cannot be refused a permission"
        )
    return ROOT_WITHOUT_FILE_PERMISSION_OVERRIDE


def run_child(
    argv: Sequence[str],
    timeout: float,
    memory_limit: int | None = None,
    env: dict[str, str] | None = None,
) -> Child:
    """Runs ``argv`` with an address-space limit and a timeout, and measures its peak memory.

    Output goes to files, not pipes, so that the child can be reaped with
    ``os.wait4``, which reports the peak resident memory of this child alone.
    """
    if memory_limit is not None and not UNDER_ASAN:
        # A small exec wrapper rather than preexec_fn, which is unsafe in a
        # process with threads (the timers below).
        argv = [sys.executable, "-c", LIMIT_AND_EXEC, str(memory_limit), *argv]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            process.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Child(
            returncode=process.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            max_rss_kib=usage.ru_maxrss,
            timed_out=expired.is_set(),
        )


# ------------------------------------------------------------ the case files
@pytest.fixture(scope="module")
def case_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("malformed")
    return {case.name: malformed_cases.write_case(case, folder) for case in CASES}


# ---------------------------------------------------------- API entry points
@dataclass(frozen=True)
class EntryPoint:
    """A Python API that reads a file: how to import it and how to call it."""

    name: str
    setup: str
    read: str
    precise: bool
    """True when it reports the reader's own message for every case."""
    exception: str
    """Name of the exception class (or a base of it) it raises."""


ENTRY_POINTS = [
    EntryPoint("read_array", "import itk_tag", "itk_tag.read_array(path)", True, "TagFileError"),
    EntryPoint("itk.imread", "import itk", "itk.imread(path)", False, "RuntimeError"),
    EntryPoint(
        "sitk.ReadImage",
        "import itk_tag\nimport SimpleITK as sitk",
        "sitk.ReadImage(path)",
        False,
        "RuntimeError",
    ),
]

# The same hosts with no native build handed to them: the Python-level path (itk_tag.hosts.dispatch),
# which reads every case with the format layer's precise message.
PYTHON_PATH_SETUP = "import os\nos.environ['ITK_TAG_NATIVE'] = '0'\n"
ENTRY_POINTS += [
    EntryPoint(f"{e.name} (Python path)", PYTHON_PATH_SETUP + e.setup, e.read, True, e.exception)
    for e in ENTRY_POINTS
    if e.name != "read_array"
]

FOLDER_EXCEPTIONS = {
    # An OSError, as open() raises for a folder.
    "read_array": "IsADirectoryError",
    # ITK Python reads a folder as a DICOM series: "no DICOMs in: <folder>".
    "itk.imread": "FileNotFoundError",
    "itk.imread (Python path)": "FileNotFoundError",
}
"""What an entry point raises for a folder named like a tag, where it differs."""

BATCH = """
import json, os, resource, signal, sys
{setup}

def read(path):
    return {read}

def address_space():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")

# Reading a valid file first loads everything a read needs; from then on a
# case may use little more address space than that.
read({warmup!r})
if not {under_asan}:
    limit = address_space() + {margin}
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
for name, path in json.loads(sys.argv[1]):
    # SIGALRM's default action ends the process, even inside C++.
    signal.alarm({time_limit})
    try:
        read(path)
        outcome = {{"name": name, "raised": None}}
    except BaseException as error:
        outcome = {{
            "name": name,
            "raised": type(error).__name__,
            "classes": [cls.__name__ for cls in type(error).__mro__],
            "message": str(error),
        }}
    signal.alarm(0)
    print(json.dumps(outcome), flush=True)
"""


def run_batch(entry: EntryPoint, cases: list[tuple[str, str]], wrapper: list[str]) -> dict[str, dict]:
    """Reads every (name, path) of ``cases`` with ``entry`` in one child; outcomes by name.

    A case missing from the result is the one the child died on.
    """
    code = BATCH.format(
        setup=entry.setup,
        read=entry.read,
        warmup=str(VALID_TAG),
        margin=MEMORY_MARGIN,
        time_limit=TIME_LIMIT,
        under_asan=UNDER_ASAN,
    )
    child = run_child(
        [*wrapper, sys.executable, "-c", code, json.dumps(cases)], timeout=TIME_LIMIT * len(cases) + 120
    )
    outcomes = {}
    for line in child.stdout.splitlines():
        if line.startswith("{"):
            outcome = json.loads(line)
            outcomes[outcome["name"]] = outcome
    culprit = None
    for name, _ in cases:
        if name not in outcomes:
            culprit = culprit or name
            reason = child.describe() if culprit == name else f"not reached: the child died reading {culprit}"
            outcomes[name] = {"name": name, "died": reason}
    return outcomes


@pytest.fixture(scope="module")
def api_outcomes(case_files: dict[str, Path]) -> dict[str, dict[str, dict]]:
    """Outcome of every case through every API entry point."""
    result = {}
    ordinary = [(case.name, str(case_files[case.name])) for case in CASES if case.kind != UNREADABLE]
    unreadable = [(case.name, str(case_files[case.name])) for case in CASES if case.kind == UNREADABLE]
    for entry in ENTRY_POINTS:
        result[entry.name] = run_batch(entry, ordinary, [])
        if unreadable:
            # Skipped (with the reason) below when permissions cannot be enforced.
            try:
                result[entry.name].update(run_batch(entry, unreadable, permission_wrapper()))
            except pytest.skip.Exception as skip:
                result[entry.name].update({name: {"name": name, "skip": str(skip)} for name, _ in unreadable})
    return result


def expected_problem(case: MalformedCase, precise: bool) -> str | None:
    """The problem the message must name, or None when the entry point cannot know it."""
    return case.problem if precise or case.claimed else None


@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=[entry.name for entry in ENTRY_POINTS])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_api_entry_point(
    entry: EntryPoint,
    case: MalformedCase,
    case_files: dict[str, Path],
    api_outcomes: dict[str, dict[str, dict]],
) -> None:
    outcome = api_outcomes[entry.name][case.name]
    if "skip" in outcome:
        pytest.skip(outcome["skip"])
    assert "died" not in outcome, f"{entry.name} died reading {case.name}: {outcome['died']}"
    assert outcome["raised"] is not None, f"{entry.name} read {case.name} without an error"
    path = str(case_files[case.name])
    message = outcome["message"]
    exception = (
        FOLDER_EXCEPTIONS.get(entry.name, entry.exception) if case.kind == DIRECTORY else entry.exception
    )
    assert exception in outcome["classes"], f"{outcome['raised']}: {message}"
    assert path in message, f"the message does not name the file: {message}"
    # The Python path hands a folder to the host untouched (ITK reads folders as DICOM series).
    precise = entry.precise and not (case.kind == DIRECTORY and entry.name.endswith("(Python path)"))
    problem = expected_problem(case, precise)
    if problem is not None:
        assert problem.lower() in message.lower(), f"the message does not say {problem!r}: {message}"


# ------------------------------------------------------------ command line
def itk_tag_command() -> str | None:
    """The ``itk-tag`` program of this environment, if it has ``info`` and ``convert``."""
    program = Path(sys.executable).with_name("itk-tag")
    if not program.exists():
        return None
    help_text = subprocess.run([str(program), "--help"], capture_output=True, text=True, timeout=120).stdout
    return str(program) if "info" in help_text and "convert" in help_text else None


@pytest.fixture(scope="module")
def itk_tag() -> str:
    program = itk_tag_command()
    if program is None:
        pytest.fail("the itk-tag command (with info and convert) is not installed in this environment")
    return program


@pytest.fixture(scope="module")
def cli_rss_budget_kib(itk_tag: str, tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak memory of converting a valid 512x512 tag, plus a margin."""
    out = tmp_path_factory.mktemp("cli-baseline") / "valid.nrrd"
    child = run_child(
        [itk_tag, "convert", str(VALID_TAG), "-o", str(out)], timeout=300, memory_limit=CLI_MEMORY_LIMIT
    )
    assert child.returncode == 0, child.describe()
    return child.max_rss_kib + CLI_RSS_MARGIN_KIB


CLI_COMMANDS = {
    "info": lambda path, out: ["info", path],
    "convert": lambda path, out: ["convert", path, "-o", out],
}

CLI_FOLDER_PROBLEMS = {
    # convert and info take folders and search them for tags (convert into an output folder).
    "convert": "no .tag files found in",
    "info": "no .tag files found in",
}
"""What a command says about a folder named like a tag, where it differs."""


@pytest.mark.parametrize("command", sorted(CLI_COMMANDS))
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_command_line(
    command: str,
    case: MalformedCase,
    case_files: dict[str, Path],
    itk_tag: str,
    cli_rss_budget_kib: int,
    tmp_path: Path,
) -> None:
    path = str(case_files[case.name])
    problem = case.problem
    out = tmp_path / "out.nrrd"
    if case.kind == DIRECTORY and command in CLI_FOLDER_PROBLEMS:
        problem = CLI_FOLDER_PROBLEMS[command]
        out = tmp_path / "out"
    wrapper = permission_wrapper() if case.kind == UNREADABLE else []
    child = run_child(
        [*wrapper, itk_tag, *CLI_COMMANDS[command](path, str(out))],
        timeout=TIME_LIMIT,
        memory_limit=CLI_MEMORY_LIMIT,
    )
    output = child.stdout + child.stderr
    assert not child.timed_out and child.returncode > 0, child.describe()
    assert "Traceback" not in output, f"a traceback instead of a message:\n{child.describe()}"
    assert path in output, f"the message does not name the file:\n{child.describe()}"
    assert problem.lower() in output.lower(), f"the message does not say {problem!r}:\n{child.describe()}"
    if not UNDER_ASAN:  # ASan's quarantine and shadow memory make peak memory meaningless
        assert child.max_rss_kib <= cli_rss_budget_kib, (
            f"peak memory {child.max_rss_kib} KiB for a broken file"
        )
    assert not out.exists(), "an output file was written for a broken input"


# ----------------------------------------------------------------- writers
WRITE_CHECK = """
import json, os, sys
{setup}
folder = sys.argv[1]
existing = os.path.join(folder, "existing.tag")
if {prepare}:
    # On the fresh tmpfs: the existing file, and proof that a small image fits.
    write(small(7), existing)
    write(small(9), os.path.join(folder, "fits.tag"))
with open(existing, "rb") as file:
    before = file.read()
entries = sorted(os.listdir(folder))
try:
    write(large(), existing)
    outcome = {{"raised": None}}
except BaseException as error:
    outcome = {{"raised": type(error).__name__, "message": str(error)}}
with open(existing, "rb") as file:
    outcome["intact"] = file.read() == before
outcome["entries_before"] = entries
outcome["entries_after"] = sorted(os.listdir(folder))
print(json.dumps(outcome), flush=True)
"""

WRITERS = {
    "itk.imwrite": """
import itk, numpy as np
def small(value):
    return itk.image_from_array(np.full((1, 3, 4), value, dtype=np.uint8))
def large():
    return itk.image_from_array(np.ones((2, 512, 512), dtype=np.uint8))
def write(image, path):
    itk.imwrite(image, path)
""",
    "sitk.WriteImage": """
import itk_tag
import SimpleITK as sitk
import numpy as np
def small(value):
    return sitk.GetImageFromArray(np.full((1, 3, 4), value, dtype=np.uint8))
def large():
    return sitk.GetImageFromArray(np.ones((2, 512, 512), dtype=np.uint8))
def write(image, path):
    sitk.WriteImage(image, path)
""",
    "itk-tag convert": """
import os, subprocess, tempfile
import numpy as np
import SimpleITK as sitk
def small(value):
    return np.full((1, 3, 4), value, dtype=np.uint8)
def large():
    return np.ones((2, 512, 512), dtype=np.uint8)
def write(array, path):
    with tempfile.TemporaryDirectory() as scratch:
        labels = os.path.join(scratch, "labels.nrrd")
        sitk.WriteImage(sitk.GetImageFromArray(array), labels)
        command = [os.environ["ITK_TAG_PROGRAM"], "convert", labels, "-o", path, "--overwrite"]
        result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # A crash (negative code) is not the clean failure expected.
        error = RuntimeError if result.returncode > 0 else SystemError
        raise error(f"exit code {result.returncode}: {result.stdout}{result.stderr}")
""",
}

for _name in ("itk.imwrite", "sitk.WriteImage"):
    WRITERS[f"{_name} (Python path)"] = PYTHON_PATH_SETUP + WRITERS[_name]


class FileNotNamedError(AssertionError):
    """The error message of a failed write does not name the file written."""


WRITER_PARAMS = sorted(WRITERS)


def writer_env(writer: str) -> dict[str, str]:
    """Environment of a writer's child: where the itk-tag program is."""
    if writer != "itk-tag convert":
        return {}
    program = itk_tag_command()
    if program is None:
        pytest.fail("the itk-tag command (with info and convert) is not installed in this environment")
    return {"ITK_TAG_PROGRAM": program}


def check_failed_write(child: Child, folder: str, reason: str) -> None:
    assert child.returncode == 0, child.describe()
    outcome = json.loads(child.stdout.strip().splitlines()[-1])
    assert outcome["raised"] is not None, "the write did not fail"
    assert outcome["raised"] == "RuntimeError", outcome
    assert reason in outcome["message"], outcome["message"]
    assert outcome["intact"], "the existing file was changed"
    assert outcome["entries_after"] == outcome["entries_before"], "a temporary file was left behind"
    if os.path.join(folder, "existing.tag") not in outcome["message"]:
        raise FileNotNamedError(outcome["message"])


@pytest.mark.parametrize("writer", WRITER_PARAMS)
def test_write_into_read_only_folder(writer: str, tmp_path: Path) -> None:
    wrapper = permission_wrapper()
    folder = tmp_path / "read-only"
    folder.mkdir()
    code = WRITE_CHECK.format(setup=WRITERS[writer], prepare=True)
    # The existing file is written with write access, then the folder is locked.
    env = writer_env(writer)
    prepared = run_child(
        [sys.executable, "-c", code.replace("write(large(), existing)", "pass"), str(folder)], 300, env=env
    )
    assert prepared.returncode == 0, prepared.describe()
    folder.chmod(0o555)
    try:
        child = run_child(
            [
                *wrapper,
                sys.executable,
                "-c",
                WRITE_CHECK.format(setup=WRITERS[writer], prepare=False),
                str(folder),
            ],
            300,
            env=env,
        )
    finally:
        folder.chmod(0o755)
    check_failed_write(child, str(folder), "Permission denied")


def tmpfs_wrapper(folder: Path) -> list[str]:
    """A command prefix running the command with a 64 KiB tmpfs on ``folder``,
    in a mount namespace of its own; skips when this machine allows none."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing: cannot make a full disk")
    namespace = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        namespace.insert(1, "--map-root-user")
    probe = subprocess.run(
        [*namespace, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {probe.stderr.strip()}")
    script = 'mount -t tmpfs -o size=64k tmpfs "$0" && exec "$@"'
    return [*namespace, "sh", "-c", script, str(folder)]


@pytest.mark.parametrize("writer", WRITER_PARAMS)
def test_write_on_full_disk(writer: str, tmp_path: Path) -> None:
    folder = tmp_path / "full-disk"
    folder.mkdir()
    wrapper = tmpfs_wrapper(folder)
    code = WRITE_CHECK.format(setup=WRITERS[writer], prepare=True)
    child = run_child([*wrapper, sys.executable, "-c", code, str(folder)], 300, env=writer_env(writer))
    check_failed_write(child, str(folder), "No space left on device")
    assert list(folder.iterdir()) == [], "the tmpfs was visible outside its namespace"


def test_file_in_a_folder_that_cannot_be_entered_is_a_permission_error(tmp_path: Path) -> None:
    # Regression: os.path.exists() said "No such file" for a file behind a folder without search permission.
    folder = tmp_path / "locked"
    folder.mkdir()
    shutil.copy(VALID_TAG, folder / "mask.tag")
    folder.chmod(0o000)
    code = (
        "import itk_tag\n"
        f"try:\n    itk_tag.read_header({str(folder / 'mask.tag')!r})\n"
        "except OSError as error:\n    print(type(error).__name__)\n"
    )
    try:
        child = run_child([*permission_wrapper(), sys.executable, "-c", code], timeout=60)
    finally:
        folder.chmod(0o755)
    assert child.returncode == 0, child.describe()
    assert child.stdout.strip() == "PermissionError"
