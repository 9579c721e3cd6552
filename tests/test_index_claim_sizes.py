"""An index claim that swaps two indices of equal range (m = n): evaluated and reported as failing.

At the file's sizes ``d f / d X[i,j] = a[j] b[i]`` is well formed; the search for the smallest
sizes where it fails tries m ≠ n, where the two sides give ``i`` and ``j`` different ranges.
The diagnosis used to take each side's ranges on its own and index past the end (an internal error)."""
from tensorcalc.cli import main

MODEL = """\
tensorcalc: 1
layout: numerator
dims: {n: 3, m: 3}
tensors:
  a: vector(m)
  b: vector(n)
  X: matrix(m, n)
forward:
  f: a^T X b
  v: X b
claims:
  - d f / d X[i,j] = a[i] b[j]
  - claim: d f / d X[i,j] = a[j] b[i]
    expect: fails
  - claim: d v[i] / d b[j] = X[j,i]
    expect: fails
"""


def test_swapped_indices_of_equal_range_fail_without_an_internal_error(tmp_path, capsys):
    path = tmp_path / "swap.yaml"
    path.write_text(MODEL)
    code = main(["check", "--format", "json", str(path)])
    out = capsys.readouterr().out
    assert "internal error" not in out
    assert code == 0, out
