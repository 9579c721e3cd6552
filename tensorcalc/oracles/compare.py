"""Are two values equal? Exactly (rationals), or within a relative error (float64).

``proportional`` compares up to one positive scale (claims written ``A ≈ B``).
"""
from __future__ import annotations

import numpy as np


def relative_error(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return float("inf")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return float("nan")
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    if scale == 0.0:
        return 0.0
    return float(np.max(np.abs(a - b), initial=0.0)) / scale


def exact_equal(left, right, proportional: bool) -> bool:
    left, right = np.asarray(left, dtype=object), np.asarray(right, dtype=object)
    if left.size != right.size:
        return False
    left, right = left.reshape(-1), right.reshape(-1)
    if not proportional:
        return all(a == b for a, b in zip(left, right))
    pairs = [(a, b) for a, b in zip(left, right) if a != 0 or b != 0]
    if not pairs or any(a == 0 or b == 0 for a, b in pairs):
        return not pairs
    ratio = pairs[0][0] / pairs[0][1]
    return ratio > 0 and all(a == ratio * b for a, b in pairs)


def numeric_error(left, right, proportional: bool) -> float:
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if left.size != right.size:
        return float("inf")
    left, right = left.reshape(-1), right.reshape(-1)
    if proportional:
        denom = float(right @ right)
        scale = float(left @ right) / denom if denom else 0.0
        if scale <= 0:
            return float("inf") if np.any(left) or np.any(right) else 0.0
        right = scale * right
    err = relative_error(left, right)
    return err if err == err else float("inf")
