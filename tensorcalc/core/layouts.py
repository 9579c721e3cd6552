"""Where the axes of a derivative go, per layout.

The full derivative of Y with respect to X has axes ``shape(Y) + shape(X)``
(J[y..., x...] = ∂Y[y...]/∂X[x...], the jax convention). A layout arranges it:
  numerator    Y's axes, then X's axes reversed   (∂y/∂x is m×n, ∂ℓ/∂W is the shape of Wᵀ)
  denominator  X's axes, then Y's axes reversed   (∂ℓ/∂W is the shape of W, ∂y/∂x is n×m)
  mixed        denominator when Y is a scalar, numerator otherwise
then drops axes of size 1 while more than two remain (seed 001 §1 item 4).
"""
from __future__ import annotations

from .shapes import is_scalar, squeeze


def effective(layout: str, out_shape: tuple) -> str:
    if layout == "mixed":
        return "denominator" if is_scalar(out_shape) else "numerator"
    return layout


def permutation(layout: str, out_ndim: int, in_ndim: int) -> list[int]:
    """Axis order applied to the full derivative (axes 0..out_ndim-1 are Y's)."""
    outs = list(range(out_ndim))
    ins = list(range(out_ndim, out_ndim + in_ndim))
    if layout == "numerator":
        return outs + ins[::-1]
    return ins + outs[::-1]


def arranged_shape(layout: str, out_shape: tuple, in_shape: tuple) -> tuple:
    """Static shape of d Y / d X in ``layout`` (a 1×1 Y counts as a scalar)."""
    out_shape = () if is_scalar(out_shape) else tuple(out_shape)
    layout = effective(layout, out_shape)
    full = tuple(out_shape) + tuple(in_shape)
    return squeeze(tuple(full[i] for i in permutation(layout, len(out_shape), len(in_shape))))
