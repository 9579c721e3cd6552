"""jax settings for the processes tensorcalc runs itself: the command line and the worker
processes it starts. Never applied when tensorcalc is imported as a library (the pytest
plugin, a user's script): a host process keeps its own jax defaults.

Everything goes through the environment before jax is imported, so workers inherit it:
fast compiling (the programs are tiny and run a handful of times), the CPU platform, and
the persistent compilation cache in tensorcalc's cache folder (``cache.py``). jax itself is
not imported here.
"""
from __future__ import annotations

import os
import sys

from ..cache import cache_dir

# compile fast rather than well: several times faster to build
FAST_COMPILE = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=0")


def configure_own_process() -> None:
    """Settings for a tensorcalc command; nothing the user set is overridden."""
    if "jax" in sys.modules:  # too late to take effect, and not ours to change
        return
    env = os.environ
    flags = env.get("XLA_FLAGS", "")
    for flag in FAST_COMPILE:
        if flag.split("=")[0] not in flags:
            flags += " " + flag
    env["XLA_FLAGS"] = flags.strip()
    env.setdefault("JAX_PLATFORMS", "cpu")
    folder = cache_dir("jax")
    if folder is None or env.get("JAX_COMPILATION_CACHE_DIR"):
        return
    discard_empty_entries(folder)
    env["JAX_COMPILATION_CACHE_DIR"] = folder
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


def own_cache_folder(configured: str | None) -> str | None:
    """``configured`` (jax's compilation cache folder) when it is tensorcalc's own, else None."""
    if not configured:
        return None
    folder = cache_dir("jax")
    return folder if folder is not None and os.path.realpath(folder) == os.path.realpath(configured) else None


def _entries(folder: str):
    try:
        with os.scandir(folder) as found:
            yield from (e for e in found if e.is_file(follow_symlinks=False))
    except OSError:
        return


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass  # gone already (another worker), or not ours to remove: jax compiles anew either way


def discard_empty_entries(folder: str) -> None:
    """Zero-byte entries (a full disk, a killed write): jax never rewrites an existing entry,
    so one would warn on every later run."""
    for entry in _entries(folder):
        try:
            empty = entry.stat(follow_symlinks=False).st_size == 0
        except OSError:
            continue
        if empty:
            _remove(entry.path)


def discard_all_entries(folder: str) -> None:
    """Every compiled program: an entry that does not load or run gives no hint which one it is."""
    for entry in _entries(folder):
        _remove(entry.path)
