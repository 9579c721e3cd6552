"""Random values for the leaves of a model: exact rationals or float64 arrays.

Constrained inputs follow their declaration: ``onehot`` (one 1 per column),
``probability`` (positive, columns sum to 1), ``positive``, ``symmetric`` ((A + Aᵀ)/2) and
``spd`` (A Aᵀ / n + I, symmetric positive definite). With ``all_positive`` every
entry is drawn positive: for networks with a kinked function (relu) such a point has
every unit active, so a claim cannot pass only because random points switched units off.
"""
from __future__ import annotations

import random
from fractions import Fraction

import numpy as np

from ..core.model import Model


def exact_leaves(model: Model, rng: random.Random, all_positive: bool = False) -> dict[str, np.ndarray]:
    values = {}
    for name, (kind, shape, flags) in model.leaves.items():
        dims = model.numeric_shape(shape)
        out = np.empty(dims, dtype=object)
        for index in np.ndindex(*dims) if dims else [()]:
            out[index] = Fraction(rng.randint(-10**6, 10**6), rng.randint(1, 10**3))
            if all_positive or "positive" in flags or kind == "probability":
                out[index] = abs(out[index]) + Fraction(1, 7)
        values[name] = _constrain(kind, out, lambda n: rng.randrange(n), exact=True, flags=flags)
    return values


def float_leaves(model: Model, rng: np.random.Generator, all_positive: bool = False) -> dict[str, np.ndarray]:
    values = {}
    for name, (kind, shape, flags) in model.leaves.items():
        dims = model.numeric_shape(shape)
        out = rng.standard_normal(dims)
        if all_positive or "positive" in flags or kind == "probability":
            out = np.abs(out) + 0.1
        values[name] = _constrain(kind, np.asarray(out, dtype=float), lambda n: int(rng.integers(n)), exact=False, flags=flags)
    return values


def _constrain(kind: str, out: np.ndarray, randrange, exact: bool, flags=()) -> np.ndarray:
    if kind == "spd":  # A Aᵀ / n + I: symmetric, eigenvalues at least 1
        one = Fraction(1) if exact else 1.0
        n = out.shape[0]
        eye = np.zeros((n, n), dtype=object if exact else float)
        for i in range(n):
            eye[i, i] = one
        return out @ out.T * (one / n) + eye
    if "symmetric" in flags:
        return (out + out.T) * ((Fraction(1) if exact else 1.0) / 2)
    if kind == "onehot":
        zero, one = (Fraction(0), Fraction(1)) if exact else (0.0, 1.0)
        out[...] = zero
        for col in range(out.shape[1]):
            out[randrange(out.shape[0]), col] = one
    elif kind == "probability":
        out = out / out.sum(axis=0, keepdims=True)
    return out
