"""Every derivative rule against jax, over shapes that are all distinct, non-square, and include size 1.

One parametrised test: a forward expression using the primitive, a scalar loss that
weights every output entry differently, and the chain-rule program compared with jax.
"""
import numpy as np
import pytest

from tests.helpers import lowered_and_jax, model_from

# primitive -> (tensors, forward expression of the primitive); the loss is sum(C ⊙ out).
CASES = {
    "add": ("A: matrix(m, n)\n  B: matrix(m, n)", "A + B", "m, n"),
    "sub": ("A: matrix(m, n)\n  B: matrix(m, n)", "A - B", "m, n"),
    "neg": ("A: matrix(m, n)", "-A", "m, n"),
    "scalar broadcast": ("A: matrix(m, n)\n  c: scalar", "c * A + 1 - c", "m, n"),
    "hadamard": ("A: matrix(m, n)\n  B: matrix(m, n)", "A ⊙ B", "m, n"),
    "div": ("A: matrix(m, n)\n  c: scalar positive", "A / c", "m, n"),
    "elementwise div": ("A: matrix(m, n)\n  B: matrix(m, n) positive", "A / B", "m, n"),
    "matmul left": ("A: matrix(m, k)\n  B: matrix(k, n)", "A B", "m, n"),
    "matvec": ("A: matrix(m, k)\n  x: vector(k)", "A x", "m, 1"),
    "row times matrix": ("x: vector(m)\n  B: matrix(m, n)", "x^T B", "1, n"),
    "row times column": ("x: vector(m)\n  y: vector(m)", "x^T y", "1, 1"),
    "quadratic form": ("x: vector(m)\n  A: matrix(m, m)", "x^T A x + 1/m ones(m)^T x", "1, 1"),
    "1x1 product as a scalar factor": ("A: matrix(m, n)\n  x: vector(k)\n  y: vector(k)", "A (x^T y) + (x^T y) A", "m, n"),
    "kron": ("A: matrix(m, k)\n  B: matrix(n, m)", "kron(A, B)", "m*n, k*m"),
    "vec": ("A: matrix(m, n)", "vec(A) ones(k)^T", "m*n, k"),
    "symmetric input": ("A: matrix(m, m) symmetric\n  B: matrix(m, n)", "A B", "m, n"),
    "spd input": ("A: spd(m)", "logdet(A) ones(m) ones(n)^T + inv(A) ones(m) ones(n)^T", "m, n"),
    "max": ("A: matrix(m, n)", "max(A) ones(m) ones(n)^T + argmax(A)", "m, n"),
    "outer": ("x: vector(m)\n  y: vector(n)", "x y^T", "m, n"),
    "scalar times": ("c: scalar\n  A: matrix(m, n)", "c A", "m, n"),
    "transpose": ("A: matrix(n, m)", "A^T", "m, n"),
    "sigmoid": ("A: matrix(m, n)", "sigmoid(A)", "m, n"),
    "tanh": ("A: matrix(m, n)", "tanh(A)", "m, n"),
    "relu": ("A: matrix(m, n)", "relu(A)", "m, n"),
    "exp": ("A: matrix(m, n)", "exp(A)", "m, n"),
    "log": ("A: matrix(m, n) positive", "log(A)", "m, n"),
    "softplus": ("A: matrix(m, n)", "softplus(A)", "m, n"),
    "sigmoid'": ("A: matrix(m, n)", "sigmoid'(A)", "m, n"),
    "power": ("A: matrix(m, n)\n  c: scalar positive", "A.^3 + c^(1/2) + c^3", "m, n"),
    "elementwise division by a matrix": ("A: matrix(m, n)\n  B: matrix(m, n) positive", "A / B.^2", "m, n"),
    "inverse": ("A: matrix(m, m)", "inv(A) + A^{-T}", "m, m"),
    "matrix power": ("A: matrix(m, m)", "A^3 + A^{-2} + A^0", "m, m"),
    "det": ("A: matrix(m, m)", "det(A) ones(m) ones(n)^T", "m, n"),
    "logdet": ("A: matrix(m, m)", "logdet(A) ones(m) ones(n)^T", "m, n"),
    "diag of vector": ("x: vector(m)", "diag(x)", "m, m"),
    "diag of matrix": ("A: matrix(m, m)", "diag(A)", "m, 1"),
    "sum": ("A: matrix(m, n)", "sum(A) ones(m) ones(n)^T", "m, n"),
    "norm squared": ("A: matrix(m, n)", "norm(A)^2 ones(m) ones(n)^T", "m, n"),
    "norm": ("A: matrix(m, n)", "norm(A) ones(m) ones(n)^T", "m, n"),
    "trace": ("A: matrix(m, m)", "trace(A) ones(m) ones(n)^T", "m, n"),
    "softmax": ("A: matrix(m, n)", "softmax(A)", "m, n"),
    "softmax rows": ("A: matrix(m, n)", "softmax_rows(A)", "m, n"),
    "log_softmax": ("A: matrix(m, n)", "log_softmax(A)", "m, n"),
    "sum down the rows": ("A: matrix(m, n)", "ones(m) sum(A, 1)", "m, n"),
    "sum along each row": ("A: matrix(m, n)", "sum(A, 2) ones(n)^T", "m, n"),
    "mean": ("A: matrix(m, n)", "mean(A) ones(m) ones(n)^T + ones(m) mean(A, 1) + mean(A, 2) ones(n)^T", "m, n"),
    "norm1": ("A: matrix(m, n)", "norm1(A) ones(m) ones(n)^T", "m, n"),
    "abs sign sin cos": ("A: matrix(m, n)", "abs(A) + sign(A) ⊙ A + sin(A) + cos(A)", "m, n"),
    "row added to every row": ("A: matrix(m, n)\n  b: vector(n)", "A + b^T - 2 b^T", "m, n"),
    "column added to every column": ("A: matrix(m, n)\n  c: vector(m)", "c + A - c", "m, n"),
    "vstack": ("x: vector(m)", "'[x; 1] ones(n)^T'", "m + 1, n"),
    "hstack": ("A: matrix(m, k)\n  b: vector(m)", "[A | b]", "m, k + 1"),
}


@pytest.mark.parametrize("sizes", [{"m": 3, "n": 2, "k": 5}, {"m": 1, "n": 4, "k": 2}], ids=["3-2-5", "1-4-2"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_matches_jax(name, sizes):
    tensors, forward, out_shape = CASES[name]
    dims = ", ".join(f"{k}: {v}" for k, v in sizes.items())
    text = f"""
tensorcalc: 1
dims: {{{dims}}}
tensors:
  {tensors}
  C: matrix({out_shape})
forward:
  out: {forward}
  loss: sum(C ⊙ out)
claims: []
"""
    model = model_from(text)
    inputs = [k for k in model.leaves if k != "C"]
    for wrt in inputs:
        mine, truth = lowered_and_jax(model, f"d loss / d {wrt}")
        np.testing.assert_allclose(mine, truth, rtol=1e-10, atol=1e-12, err_msg=f"{name}: d loss / d {wrt}")
        # and the full Jacobian of the primitive's output (non-scalar `of`: unit cotangents)
        mine, truth = lowered_and_jax(model, f"d out / d {wrt}")
        np.testing.assert_allclose(mine, truth, rtol=1e-10, atol=1e-12, err_msg=f"{name}: d out / d {wrt}")
