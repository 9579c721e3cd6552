"""The ``derive`` and ``latex`` commands' work: derive each requested gradient, then hand the
results to a view (plain text, LaTeX, numpy code). Returns text and an exit status."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.model import Prepared
from ..errors import TensorcalcError
from ..explain.formulas import Derivation, helper_names, parameters
from ..explain.hessian import check_hessian_request, derive_hessian
from ..explain.jacobian_formulas import derive_any
from ..explain.members import request_problem
from ..frontends import load_spec
from ..suggest import did_you_mean


@dataclass
class Derived:
    """Every requested gradient of one file: derivations, and why others are not shown."""

    path: str
    prepared: Prepared
    layout: str
    derivations: list[Derivation] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (wrt, reason)


def derive_file(path: str, wrt: list[str] | None = None, layout: str | None = None, of: str | None = None,
                hessian: bool = False, steps: bool = False) -> Derived:
    """Every requested derivative of ``of`` (default: the loss), or with ``hessian`` the Hessians ∂²of/∂wrt² (each wrt
    a scalar or a vector); with ``steps`` also seed 001's chain of Jacobians."""
    prepared = Prepared(load_spec(path))
    _check_requested(prepared, wrt, of)
    if hessian:
        if not wrt:
            raise TensorcalcError("--hessian needs --wrt: the vector (or scalar) to take the Hessian by")
        for name in wrt:
            check_hessian_request(prepared, name, of)
    layout = layout or prepared.spec.layout
    out = Derived(path, prepared, layout)
    for name in wrt or parameters(prepared):
        try:
            d = derive_hessian(prepared, name, layout, of) if hessian else derive_any(prepared, name, layout, of, steps)
        except TensorcalcError as err:
            out.refused.append((name, err.message))
            continue
        if d.result.rhs.op == "zeros":
            continue  # the loss does not depend on it
        out.derivations.append(d)
    return out


def _check_requested(prepared: Prepared, wrt: list[str] | None, of: str | None) -> None:
    """``--of`` names a definition and each ``--wrt`` a tensor or definition of the file: else a bad argument (exit 2)."""
    spec = prepared.spec
    definitions = {key.split("[")[0] for key in spec.forward}
    names = definitions | {key.split("[")[0] for key in spec.tensors}
    for option, name, known in [("--of", of, definitions)] + [("--wrt", w, names) for w in wrt or ()]:
        if name is not None and name.split("[")[0].strip() not in known:
            listed = ", ".join(sorted(known))
            raise TensorcalcError(f"{option} {name!r}: not a {'definition' if option == '--of' else 'tensor or definition'} "
                                  f"of {spec.path}{did_you_mean(name, known)} (known: {listed})")
        problem = name and request_problem(prepared, name)
        if not problem and option == "--of" and name is not None and "[" in name:
            problem = "a member of a layer family cannot be differentiated here: name a definition without an index (the loss)"
        if problem:
            raise TensorcalcError(f"{option} {name!r}: {problem}")


def text_report(derived: Derived, steps: bool) -> str:
    from .escape import terminal
    from .pretty import derivation_text

    names = helper_names(derived.prepared, derived.layout)
    blocks = [derivation_text(d, names, steps) for d in derived.derivations]
    blocks += [f"d ... / d {terminal(wrt)}: not shown — {terminal(reason)}" for wrt, reason in derived.refused]
    footer = f"({derived.layout} layout; every formula above was checked by the exact and the jax oracle before printing)"
    return "\n\n".join(blocks + [footer]) if derived.derivations else "\n\n".join(blocks)
