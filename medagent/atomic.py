"""Whole-or-absent files: write to a temporary name beside the target, fsync, rename.

The one copy of this helper (run folders, submissions, suites, shipped cohorts, adapter
programs use it). A reader never sees half a file: before the rename it sees the old file
(or none), after it the new one. The temporary name is unique per writer (process id and
a random part), so two writers of the same file never share one; the last rename wins.
A writer that fails removes its temporary file.

This module imports nothing of the project, so every package may use it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_file", "atomic_write"]


@contextmanager
def atomic_file(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through; it replaces ``path`` when the block ends
    without an exception (after an fsync unless ``fsync=False``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str, *, fsync: bool = True) -> Path:
    """Write ``data`` (str as UTF-8) to ``path`` whole or not at all; returns ``path``."""
    with atomic_file(path, fsync=fsync) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
