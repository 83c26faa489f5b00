"""Which libstdc++ ABI a host library was built with.

SimpleITK wheels are built with the old (pre-C++11) std::string ABI, ITK
Python wheels with the new one; a plugin built for the wrong one crashes its
host. The answer is read from the host binary: the string type it *imports*
from libstdc++ (``std::__cxx11::basic_string`` for the new ABI, ``std::string``
mangled ``Ss`` for the old). Defined symbols do not count: SimpleITK links
parts of libstdc++ statically and so defines symbols of both.
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

_SHT_DYNSYM = 11
_SYMBOL = struct.Struct("<IBBHQQ")  # Elf64_Sym: name, info, other, section, value, size
_NEW_ABI_MARKER = b"St7__cxx11"
_OLD_ABI_PREFIXES = (b"_ZNSs", b"_ZNKSs")  # std::string (COW) member functions


def _undefined_symbols(path: Path) -> list[bytes]:
    """Names of the symbols a 64-bit little-endian ELF shared library imports."""
    with path.open("rb") as elf:
        ident = elf.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2 or ident[5] != 1:
            raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
        section_offset = struct.unpack_from("<Q", ident, 0x28)[0]
        entry_size, count = struct.unpack_from("<HH", ident, 0x3A)
        elf.seek(section_offset)
        table = elf.read(entry_size * count)
        sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * entry_size) for i in range(count)]
        dynsym = next((s for s in sections if s[1] == _SHT_DYNSYM), None)
        if dynsym is None:
            raise ValueError(f"{path}: no dynamic symbol table")
        strings = sections[dynsym[6]]
        elf.seek(strings[4])
        names = elf.read(strings[5])
        elf.seek(dynsym[4])
        symbols = elf.read(dynsym[5])
    undefined = []
    for name, _info, _other, section, _value, _size in _SYMBOL.iter_unpack(symbols):
        if section == 0 and name:
            undefined.append(names[name : names.index(b"\0", name)])
    return undefined


@functools.cache
def library_abi(path: Path) -> str:
    """'new' or 'old': the libstdc++ string ABI the shared library at ``path`` uses."""
    imported = _undefined_symbols(path)
    if any(_NEW_ABI_MARKER in name for name in imported):
        return "new"
    if any(name.startswith(_OLD_ABI_PREFIXES) for name in imported):
        return "old"
    return "new"
