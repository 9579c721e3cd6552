"""Where tensorcalc keeps work between runs: parser tables and compiled jax programs.

``TENSORCALC_CACHE`` names the folder (default ``~/.cache/tensorcalc``); an empty value
turns caching off. The folder is the user's own, not a shared temporary directory, since
cached parser tables are loaded with pickle.
"""
from __future__ import annotations

import os


def cache_dir(part: str) -> str | None:
    """The cache subfolder ``part``, created if needed; None when caching is off or impossible."""
    where = os.environ.get("TENSORCALC_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "tensorcalc"))
    if not where:
        return None
    path = os.path.join(where, part)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    return path


def parser_cache(name: str) -> str | bool:
    """A file for lark's cached parser tables (lark checks the grammar's hash on load)."""
    folder = cache_dir("lark")
    return os.path.join(folder, f"{name}.cache") if folder else False
