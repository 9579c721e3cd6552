"""The command line's jax programs must not produce NaN where the forward pass is finite.

At `--xla_backend_optimization_level=0` (one of the fast-compile flags the command line sets,
`oracles/jaxsetup.py`) the derivative of this small softmax classifier comes out NaN in some
networks, which are then dropped as "overflowed" although every value is of order 1: the numeric
oracle silently checks fewer networks (all of them dropped would make a true claim inconclusive).
With the flag at 1 or 2 no network is dropped, so a program with a value that is not finite is
compiled again at the default level (`jaxbackend.CAREFUL`) before a network is dropped."""
import json
import os
import subprocess
import sys

import pytest

FILE = """\
tensorcalc: 1
layout: denominator
dims: {d: 1, h: 1, k: 2, N: 2}
tensors:
  X: matrix(d, N)
  Y: onehot(k, N)
  W1: matrix(h, d)
  b1: vector(h)
  W2: matrix(k, h)
  b2: vector(k)
forward:
  H: tanh(W1 X + b1 ones(N)^T)
  Z: W2 H + b2 ones(N)^T
  P: softmax(Z)
  L: -1/N sum(Y ⊙ log(P))
claims:
  - d L / d W2 = 1/N (P - Y) H^T
"""


@pytest.mark.slow
def test_no_network_is_dropped_when_every_value_is_finite(tmp_path):
    path = tmp_path / "classifier.yaml"
    path.write_text(FILE)
    env_cache = {"TENSORCALC_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "tensorcalc", "check", str(path), "--format", "json"],
                         capture_output=True, text=True, timeout=300, env={**os.environ, **env_cache})
    (claim,) = json.loads(run.stdout)["files"][0]["claims"]
    assert claim["verdict"] == "holds"
    assert "overflowed" not in claim["how"], claim["how"]
