"""Nothing shared changes under a check: the model is read-only, each chain-rule program
owns its shapes, caches are keyed by value, and importing tensorcalc leaves a host
process's jax settings alone."""
import os
import pickle
import subprocess
import sys

import pytest

from tensorcalc.core.derive import COTANGENT, gradient_program
from tensorcalc.core.expr import Expr, IdentityMap, node, num, var
from tensorcalc.verdicts.check import check_file
from tests.helpers import deriv_expr, model_from

TWO_JACOBIANS = """\
tensorcalc: 1
layout: numerator
dims: {d: 3, h: 4, n: 2}
tensors:
  x: vector(d)
  W1: matrix(h, d)
  W2: matrix(n, h)
  s: vector(h)
forward:
  z: W1 x
  r: W2 s
claims:
  - d (W1 x) / d x = W1
  - d (W2 s) / d s = W2
  - d (W1 x) / d x = W1
"""


def test_a_cached_program_keeps_its_own_cotangent_shape(tmp_path):
    """The third claim reuses the first claim's program after a program with another
    cotangent shape was built: it used to read that one's shape (invalid input, exit 2)."""
    path = tmp_path / "two.yaml"
    path.write_text(TWO_JACOBIANS)
    result = check_file(str(path))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds", "holds", "holds"]


def test_a_wrong_claim_after_another_jacobian_still_fails(tmp_path):
    path = tmp_path / "wrong.yaml"
    claims = "  - d (W2 s) / d s = W2\n  - claim: d (W1 x) / d x = 2 W1\n    expect: fails\n"
    path.write_text(TWO_JACOBIANS.split("claims:")[0] + "claims:\n" + claims)
    result = check_file(str(path))
    assert result.error is None, result.error
    assert [c.verdict for c in result.claims] == ["holds", "fails"]


def test_programs_own_their_shapes_and_leave_the_model_alone():
    model = model_from(TWO_JACOBIANS)
    before = dict(model.shapes)
    first = gradient_program(model, deriv_expr(model, "W1 x"), "x")
    second = gradient_program(model, deriv_expr(model, "W2 s"), "s")
    assert dict(model.shapes) == before
    assert first.shapes[COTANGENT] != second.shapes[COTANGENT]
    assert model.numeric_shape(first.shapes[COTANGENT]) == (4, 1)
    assert model.numeric_shape(second.shapes[COTANGENT]) == (2, 1)


def test_the_model_is_read_only_once_built():
    model = model_from(TWO_JACOBIANS)
    with pytest.raises(TypeError):
        model.shapes["@G"] = ()
    with pytest.raises(TypeError):
        model.defs["y"] = var("x")
    with pytest.raises(AttributeError):
        model.shapes = {}
    assert "@G" not in model.shapes and "y" not in model.defs


def test_equal_expressions_are_one_key_and_hash_once():
    a = node("add", var("x"), num(1))
    b = node("add", var("x"), num(1))
    assert a is not b and a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert a != node("add", var("y"), num(1)) and a != node("sub", var("x"), num(1))
    deep = var("x")
    for _ in range(20_000):  # deeper than the recursion limit: built, hashed and compared without recursion
        deep = node("neg", deep)
    same = var("x")
    for _ in range(20_000):
        same = node("neg", same)
    assert deep == same and hash(deep) == hash(same)


def test_an_expression_from_another_process_is_equal_to_ours():
    """String hashes differ between processes: an unpickled expression must hash as built here."""
    code = "import pickle, sys; from tensorcalc.core.expr import node, var, num; sys.stdout.buffer.write(pickle.dumps(node('add', var('x'), num(1))))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, check=True, cwd=os.getcwd()).stdout
    theirs = pickle.loads(out)
    assert theirs == node("add", var("x"), num(1)) and hash(theirs) == hash(node("add", var("x"), num(1)))


def test_identity_map_keeps_equal_objects_apart():
    a, b = var("x"), var("x")
    marks = IdentityMap()
    marks[a] = "grouped"
    assert a in marks and b not in marks
    assert marks.get(a) == "grouped" and marks.get(b) is None
    assert isinstance(a, Expr)


# --- jax: a host process keeps its settings; tensorcalc's own compile cache heals itself

HOST = """
import json, os, sys
import jax, jax.numpy as jnp

def settings():
    return {"x64": jax.config.jax_enable_x64, "platforms": jax.config.jax_platforms, "xla_flags": os.environ.get("XLA_FLAGS"),
            "dtype": str(jnp.ones(1).dtype), "cache": jax.config.jax_compilation_cache_dir,
            "cache_min_secs": jax.config.jax_persistent_cache_min_compile_time_secs}

before = settings()
import tensorcalc, tensorcalc.pytest_plugin, tensorcalc.oracles.jaxbackend
from tensorcalc.verdicts.check import check_file
result = check_file(sys.argv[1])
claims = [(c.verdict, c.as_expected, max(i.max_rel_error for i in c.instances)) for c in result.claims]
print(json.dumps({"before": before, "after": settings(), "error": str(result.error) if result.error else None, "claims": claims}))
"""


def _clean_env(cache) -> dict:
    """The environment of a process that never set any jax option."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    return {**env, "TENSORCALC_CACHE": str(cache)}


def test_a_host_process_keeps_its_jax_settings_and_the_oracle_still_uses_float64(root, tmp_path):
    import json

    run = subprocess.run([sys.executable, "-c", HOST, str(root / "derivations/shallow.yaml")], capture_output=True, text=True,
                         env=_clean_env(tmp_path / "cache"), cwd=root, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["before"]["dtype"] == "float32" and out["before"]["xla_flags"] is None
    assert out["after"] == out["before"]
    assert out["error"] is None and out["claims"]
    assert all(verdict == "holds" and expected for verdict, expected, _err in out["claims"])
    assert max(err for _v, _e, err in out["claims"]) < 1e-12  # float64; float32 would give about 1e-7


THREE_PROGRAMS = TWO_JACOBIANS.replace("  s: vector(h)\n", "  s: vector(h)\n  u: vector(n)\n").split("claims:")[0] + """claims:
  - d (W1 x) / d x = W1
  - d (W2 s) / d s = W2
  - d (W2^T u) / d u = W2^T
"""


def _check_command(path, cache):
    return subprocess.run([sys.executable, "-m", "tensorcalc", "check", "-q", str(path)], capture_output=True, text=True,
                          env=_clean_env(cache), cwd=os.path.dirname(os.path.dirname(__file__)), timeout=300)


def test_a_broken_compile_cache_is_discarded_and_rewritten(tmp_path):
    """A zero-byte entry, another program's entry under a key, and a truncated one: the
    verdicts stay right, nothing crashes, and the run after that is quiet."""
    path = tmp_path / "three.yaml"
    path.write_text(THREE_PROGRAMS)
    cache = tmp_path / "cache"
    first = _check_command(path, cache)
    assert first.returncode == 0, first.stdout + first.stderr
    entries = sorted((cache / "jax").iterdir())
    assert len(entries) == 3
    zeroed, swapped, truncated = entries
    content = truncated.read_bytes()
    zeroed.write_bytes(b"")
    swapped.write_bytes(content)  # another program's executable under this key
    truncated.write_bytes(content[: len(content) // 2])
    for run in (_check_command(path, cache), _check_command(path, cache)):
        assert run.returncode == 0, run.stdout + run.stderr
        assert "3 hold" in run.stdout
        assert "Traceback" not in run.stderr and "Error" not in run.stderr
    assert "warn" not in run.stderr.lower(), run.stderr  # the second run after the damage
    assert all(e.stat().st_size > 0 for e in (cache / "jax").iterdir())
