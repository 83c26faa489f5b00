"""Differential fuzzing of the two ``.tag`` header parsers: C++ and pure Python.

Each case is the start of a file and the file's size, mutated from the corpus
(fuzz/make_corpus.py seeds, which hold test/data and the malformed table, plus
fuzz/regressions/): byte flips, inserted and deleted runs, splices of the tokens
of fuzz/tag.dict, and numeric edge values put in place of a value. Both parsers
get the same bytes (C++ ``TagHeader::FromFileStart`` through the plugin library's
``itk_tag_parse_header``, Python ``itk_tag.format.parse_header``) and must agree:
both accept with the same size, type, origin, spacing, direction, keywords and
header size, or both reject with the same message.

    python fuzz/differential.py --count 100000 --seconds 90 --seed 15 [--save DIR]

Exit status 0 when all cases agreed and --count ran within --seconds; 1 on a
disagreement (the case is printed, and written to DIR with --save) or when time ran
out first. test/python/test_conformance.py runs it in CI.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FUZZ = Path(__file__).resolve().parent
sys.path.insert(0, str(FUZZ))

import make_corpus  # noqa: E402
from itk_tag.format import TagFileError, TagHeader, parse_header  # noqa: E402
from itk_tag.hosts import native as _native  # noqa: E402

# Parsers only look at the first 64 KiB; a little more keeps the cap in play.
_PREFIX = 64 * 1024 + 512
_NUMBERS = [
    b"0",
    b"-0",
    b"1",
    b"-1",
    b"0.0000",
    b"-0.0000",
    b"1e-12",
    b"1e-13",
    b"9.99e-13",
    b"1e308",
    b"1.7976931348623157e308",
    b"1.797693134862316e308",
    b"4.9e-324",
    b"2.5e-324",
    b"1e-400",
    b"2147483648",
    b"2147483647",
    b"2147483649",
    b"4294967296",
    b"00000000002147483648",
    b"99999999999",
    b"9999999999",
    b"0x10",
    b"1e",
    b"1e+",
    b".",
    b".5",
    b"5.",
    b"+.5e-3",
    b"-.e1",
    b"0e5",
    b"1.5.3",
    b"1,5",
    b"inf",
    b"nan",
    b"-nan",
    b"+1",
    b"--1",
    b"1e5.3",
    b"0.001",
    b"0.0009",
    b"1000000",
    b"BYTE",
    b"SHORT",
    b"byte",
    b"Short",
    b"FLOAT",
    b"",
]


def _dictionary_tokens() -> list[bytes]:
    """The quoted tokens of fuzz/tag.dict (libFuzzer dictionary syntax, with hex escapes)."""
    tokens = []
    for line in (FUZZ / "tag.dict").read_text(encoding="ascii").splitlines():
        if "=" in line and not line.startswith("#"):
            quoted = line.split("=", 1)[1].strip()[1:-1]
            tokens.append(quoted.encode("ascii").decode("unicode_escape").encode("latin-1"))
    return tokens


def corpus() -> list[tuple[str, bytes, int]]:
    """(name, first bytes, file size) of every seed and regression."""
    files = dict(make_corpus.seeds())
    for path in sorted((FUZZ / "regressions").iterdir()):
        files[f"regression-{path.name}"] = path.read_bytes()
    return [(name, content[:_PREFIX], len(content)) for name, content in sorted(files.items())]


def mutate(rng: random.Random, data: bytes, file_size: int, tokens: list[bytes]) -> tuple[bytes, int]:
    """One to four stacked mutations of ``data``; ``file_size`` follows the length change,
    and is sometimes set to an edge value of its own.
    """
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        position = rng.randint(0, len(buffer))
        if choice < 0.25 and buffer:
            index = min(position, len(buffer) - 1)
            buffer[index] = rng.choice((rng.randrange(256), buffer[index] ^ (1 << rng.randrange(8))))
        elif choice < 0.4:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice < 0.55 and buffer:
            del buffer[position : position + rng.randint(1, 16)]
        elif choice < 0.75:
            buffer[position:position] = rng.choice(tokens)
        else:
            # A value replaced: the text after a ':' up to the next separator.
            colon = buffer.find(b":", position)
            if colon < 0:
                colon = buffer.find(b":")
            if colon >= 0:
                end = colon + 1
                while end < len(buffer) and buffer[end] not in b" ,\t\v\r\n\f*":
                    end += 1
                if rng.random() < 0.5:
                    value = rng.choice(_NUMBERS)
                else:  # the number grammar's own characters, at random
                    value = bytes(rng.choice(b"0123456789+-.eE") for _ in range(rng.randint(1, 8)))
                buffer[colon + 1 : end] = value
    size = max(file_size + len(buffer) - len(data), len(buffer))
    edge = rng.random()
    if edge < 0.05:
        size = len(buffer)
    elif edge < 0.1:
        size = len(buffer) + rng.randint(0, 300)
    return bytes(buffer), size


def native_problem(error: Exception) -> str:
    """The C++ message without the "ITK ERROR: " that ITK's exception macro puts first."""
    return str(error).removeprefix("ITK ERROR: ")


def _python_view(data: bytes, file_size: int, name: str) -> tuple[str, Any]:
    try:
        header = parse_header(data, file_size, name)
    except TagFileError as error:
        return "reject", str(error)
    return "accept", _fields(header)


def _native_view(data: bytes, file_size: int, name: str) -> tuple[str, Any]:
    try:
        fields = _native.parse_header_fields(data, file_size, name)
    except TagFileError as error:
        return "reject", native_problem(error)
    columns = fields["direction"]
    return "accept", {
        "size": tuple(fields["size"]),
        "dtype": fields["component_type"],
        "origin": tuple(float(v) for v in fields["origin"]),
        "spacing": tuple(float(v) for v in fields["spacing"]),
        "direction": tuple(float(columns[col][row]) for row in range(3) for col in range(3)),
        "header_size": fields["header_size"],
        "file_size": fields["file_size"],
        "keywords": [tuple(pair) for pair in fields["keywords"]],
    }


def _fields(header: TagHeader) -> dict[str, Any]:
    return {
        "size": header.size,
        "dtype": str(header.dtype),
        "origin": header.origin,
        "spacing": header.spacing,
        "direction": header.direction,
        "header_size": header.header_size,
        "file_size": header.file_size,
        "keywords": list(header.keywords.items()),
    }


def compare(data: bytes, file_size: int, name: str = "case.tag") -> tuple[bool, Any, Any]:
    """(agree, C++ view, Python view) of one case; a view is ("accept", fields) or ("reject", message)."""
    native = _native_view(data, file_size, name)
    python = _python_view(data, file_size, name)
    return native == python, native, python


def cases(seed: int) -> Iterator[tuple[bytes, int]]:
    """The endless, reproducible stream of mutated cases of ``seed``: the corpus first, as is."""
    rng = random.Random(seed)
    seeds = corpus()
    tokens = _dictionary_tokens()
    for _, data, size in seeds:
        yield data, size
    while True:
        _, data, size = rng.choice(seeds)
        yield mutate(rng, data, size, tokens)


def run(count: int, seconds: float, seed: int, save: Path | None = None) -> int:
    """Compares ``count`` cases of ``seed``, for at most ``seconds``; returns the exit status."""
    start = time.monotonic()
    done = accepted = 0
    disagreements = 0
    for data, size in cases(seed):
        if done >= count or time.monotonic() - start > seconds:
            break
        agree, native, python = compare(data, size)
        done += 1
        accepted += native[0] == "accept"
        if not agree:
            disagreements += 1
            print(
                f"DISAGREE case {done} (file size {size}): {data[:300]!r}\n"
                f"  C++:    {native}\n  Python: {python}"
            )
            if save is not None:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"seed{seed}-case{done}").write_bytes(data)
    elapsed = time.monotonic() - start
    print(
        f"differential fuzz: seed {seed}, {done} cases ({accepted} accepted by C++) in {elapsed:.1f} s, "
        f"{disagreements} disagreements"
    )
    if disagreements:
        return 1
    if done < count:
        print(f"only {done} of {count} cases ran within {seconds} s")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="cases to compare (default 100000)")
    parser.add_argument("--seconds", type=float, default=90.0, help="time budget (default 90)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    parser.add_argument("--save", type=Path, default=None, help="folder for the disagreeing inputs")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    return run(args.count, args.seconds, seed, args.save)


if __name__ == "__main__":
    sys.exit(main())
