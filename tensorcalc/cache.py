"""Where tensorcalc keeps work between runs: compiled jax programs.

``TENSORCALC_CACHE`` names the folder (default ``~/.cache/tensorcalc``); an empty value
turns caching off. Cached programs are native code, so a cache folder is used only when
no other user can have put files in it: its folders are created with mode 0700, and each
existing one from the cache root down must be a real folder (not a symbolic link) owned by
this user and not writable by group or others; the folders above the root must not let
others rename it (owned by this user or root, and not writable by others unless sticky,
like /tmp). Otherwise caching is off for the run, with one warning line on stderr.
Parser tables are not cached at all (see ``parse.py``).
"""
from __future__ import annotations

import os
import stat
import sys


def cache_dir(part: str) -> str | None:
    """The cache subfolder ``part``, created if needed; None when caching is off or unsafe."""
    where = os.environ.get("TENSORCALC_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "tensorcalc"))
    if not where:
        return None
    root = os.path.abspath(where)
    path = os.path.join(root, part)
    try:
        problem = _unsafe_ancestor(os.path.dirname(root)) or _make_private(root) or _make_private(path)
    except OSError as err:
        problem = f"{err.strerror or err}: {err.filename or path}"
    if problem:
        from .outputs.escape import terminal

        print(f"tensorcalc: cache off for this run: {terminal(problem)}", file=sys.stderr)
        return None
    return path


def _make_private(folder: str) -> str | None:
    """Create ``folder`` with mode 0700 unless it exists; why it is unsafe, or None."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    return _not_private(folder, os.lstat(folder))


def _not_private(folder: str, info: os.stat_result) -> str | None:
    if not stat.S_ISDIR(info.st_mode):
        return f"{folder} is not a folder"
    if info.st_uid != os.getuid():
        return f"{folder} belongs to another user"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{folder} is writable by other users"
    return None


def _unsafe_ancestor(folder: str) -> str | None:
    """Why another user could replace something inside ``folder`` or above it, or None.
    The parent of the cache root is created (0700) if missing, like ``~/.cache``."""
    if not os.path.isdir(folder):
        problem = _unsafe_ancestor(os.path.dirname(folder))
        return problem or _make_private(folder)
    real = os.path.realpath(folder)
    while True:
        info = os.stat(real)
        if info.st_uid not in (0, os.getuid()):
            return f"{real} belongs to another user"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
            return f"{real} is writable by other users"
        if real == os.path.dirname(real):
            return None
        real = os.path.dirname(real)
