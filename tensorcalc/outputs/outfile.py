"""Writing a report or document to ``-o FILE``: never over an input, never half-written.

A regular file is written to a temporary file in the same folder and renamed into place,
so a failed write leaves the old file as it was; a rename replaces a symbolic link rather
than writing through it. A character device (``/dev/null``) is written directly. Every
problem is a ``TensorcalcError``: one line, exit code 2.
"""
from __future__ import annotations

import os
import stat
import tempfile

from ..errors import TensorcalcError


def check_target(target: str, inputs: list[str]) -> os.stat_result | None:
    """Refuse an output that is one of the inputs, a folder, in a missing folder, or a
    special file other than a character device; its stat when it exists, else None."""
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise TensorcalcError(f"cannot write {target}: no folder {folder}")
    try:
        found = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise TensorcalcError(f"cannot write {target}: {err.strerror}") from None
    if any(_same_file(target, path) for path in inputs):
        raise TensorcalcError(f"cannot write {target}: it is one of the input files")
    if stat.S_ISDIR(found.st_mode):
        raise TensorcalcError(f"cannot write {target}: it is a folder")
    if not (stat.S_ISREG(found.st_mode) or stat.S_ISCHR(found.st_mode)):
        raise TensorcalcError(f"cannot write {target}: not a regular file")
    return found


def write_output(target: str, text: str, inputs: list[str]) -> None:
    """Write ``text`` (UTF-8) to ``target`` after ``check_target``."""
    found = check_target(target, inputs)
    data = text.encode("utf-8", errors="backslashreplace")
    try:
        if found is not None and stat.S_ISCHR(found.st_mode):
            with open(target, "wb") as device:
                device.write(data)
        else:
            _replace(target, data, stat.S_IMODE(found.st_mode) if found else _default_mode())
    except OSError as err:
        raise TensorcalcError(f"cannot write {target}: {err.strerror or err}") from None


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _replace(target: str, data: bytes, mode: int) -> None:
    """Write a temporary file next to ``target``, then rename it over ``target``."""
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), prefix=".tensorcalc-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise


def _default_mode() -> int:
    """What a newly created file gets under the current umask (mkstemp's files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
