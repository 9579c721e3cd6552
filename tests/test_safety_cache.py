"""Nothing is loaded from a cache folder another user can write: a planted lark pickle never
runs, and ``cache_dir`` (the jax compile cache) refuses folders that are not the user's own."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import lark
import pytest

from tensorcalc.cache import cache_dir
from tensorcalc.frontends import latex_input, parse

ROOT = Path(__file__).resolve().parents[1]
ANOTHER_USER = 4242


class _Payload:
    """Unpickling this touches ``marker``: what a planted cache file would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def _plant(folder: Path, marker: Path) -> None:
    """A world-writable cache folder holding a malicious pickle under both grammars' cache names
    (lark reads one line, then unpickles before it compares any hash)."""
    lark_folder = folder / "lark"
    lark_folder.mkdir(parents=True)
    for path in (folder, lark_folder):
        path.chmod(0o777)
    for name in ("grammar", "latex"):
        (lark_folder / f"{name}.cache").write_bytes(b"0" * 64 + b"\n" + pickle.dumps(_Payload(marker)))


def test_the_planted_pickle_is_live(tmp_path):
    """The payload works: lark itself runs it when handed the file as its cache."""
    marker = tmp_path / "ran"
    _plant(tmp_path / "cache", marker)
    lark.Lark('start: "a"', parser="lalr", cache=str(tmp_path / "cache" / "lark" / "grammar.cache"))
    assert marker.exists()


@pytest.mark.parametrize("module", [parse, latex_input])
def test_parsers_never_load_a_planted_cache(tmp_path, monkeypatch, module):
    marker = tmp_path / "ran"
    _plant(tmp_path / "cache", marker)
    monkeypatch.setenv("TENSORCALC_CACHE", str(tmp_path / "cache"))
    module._parser.cache_clear()
    try:
        assert isinstance(module._parser(), lark.Lark)
    finally:
        module._parser.cache_clear()
    assert not marker.exists()


def test_a_check_with_a_planted_cache_runs_nothing_and_caches_nothing(tmp_path):
    marker = tmp_path / "ran"
    _plant(tmp_path / "cache", marker)
    env = dict(os.environ, TENSORCALC_CACHE=str(tmp_path / "cache"), JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-m", "tensorcalc", "check", "derivations/shallow.yaml"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert not (tmp_path / "cache" / "jax").exists()
    warnings = [line for line in done.stderr.splitlines() if "cache off" in line]
    assert warnings and "writable by other users" in warnings[0] and "Traceback" not in done.stderr


def test_new_cache_folders_are_private_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORCALC_CACHE", str(tmp_path / "home" / ".cache" / "tensorcalc"))
    old = os.umask(0)
    try:
        where = cache_dir("jax")
    finally:
        os.umask(old)
    assert where == str(tmp_path / "home" / ".cache" / "tensorcalc" / "jax")
    for folder in (tmp_path / "home", tmp_path / "home" / ".cache", tmp_path / "home" / ".cache" / "tensorcalc", Path(where)):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def _refused(capsys, reason: str) -> None:
    assert cache_dir("jax") is None
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "cache off" in err and reason in err


@pytest.mark.parametrize("mode", [0o777, 0o775, 0o722])
def test_a_root_others_can_write_is_refused(tmp_path, monkeypatch, capsys, mode):
    root = tmp_path / "c"
    root.mkdir()
    root.chmod(mode)
    monkeypatch.setenv("TENSORCALC_CACHE", str(root))
    _refused(capsys, "writable by other users")
    assert not (root / "jax").exists()


def test_a_subfolder_others_can_write_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "c" / "jax").mkdir(parents=True, mode=0o700)
    (tmp_path / "c").chmod(0o700)
    (tmp_path / "c" / "jax").chmod(0o770)
    monkeypatch.setenv("TENSORCALC_CACHE", str(tmp_path / "c"))
    _refused(capsys, "writable by other users")


@pytest.mark.parametrize("linked", ["root", "part"])
def test_symbolic_links_are_not_followed(tmp_path, monkeypatch, capsys, linked):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    if linked == "root":
        (tmp_path / "c").symlink_to(private)
    else:
        (tmp_path / "c").mkdir(mode=0o700)
        (tmp_path / "c" / "jax").symlink_to(private)
    monkeypatch.setenv("TENSORCALC_CACHE", str(tmp_path / "c"))
    _refused(capsys, "is not a folder")


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root")
@pytest.mark.parametrize("owned", ["root", "part", "parent"])
def test_folders_of_another_user_are_refused(tmp_path, monkeypatch, capsys, owned):
    parent, root = tmp_path / "parent", tmp_path / "parent" / "c"
    (root / "jax").mkdir(parents=True, mode=0o700)
    os.chown({"root": root, "part": root / "jax", "parent": parent}[owned], ANOTHER_USER, ANOTHER_USER)
    monkeypatch.setenv("TENSORCALC_CACHE", str(root))
    _refused(capsys, "belongs to another user")


def test_a_shared_folder_above_the_root_is_refused_unless_sticky(tmp_path, monkeypatch, capsys):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # anyone could rename the cache root away and put their own in its place
    monkeypatch.setenv("TENSORCALC_CACHE", str(shared / "c"))
    _refused(capsys, "writable by other users")
    shared.chmod(0o1777)  # like /tmp: only the owner may rename
    assert cache_dir("jax") == str(shared / "c" / "jax")
