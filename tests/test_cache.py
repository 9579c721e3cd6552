"""The cache folder: the user's own, switched off by an empty TENSORCALC_CACHE."""
import os

from tensorcalc.cache import cache_dir


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORCALC_CACHE", str(tmp_path / "c"))
    assert cache_dir("jax") == str(tmp_path / "c" / "jax") and os.path.isdir(tmp_path / "c" / "jax")
    monkeypatch.setenv("TENSORCALC_CACHE", "")
    assert cache_dir("jax") is None


def test_unwritable_cache_folder_turns_caching_off(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TENSORCALC_CACHE", str(blocker))
    assert cache_dir("jax") is None
