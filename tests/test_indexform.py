"""The proof for all sizes (oracles/indexform.py): what it proves, that it never proves a false
claim (hypothesis: chain-rule claims and single edits of them, against the numeric oracle),
and how the report and the JSON output say how far a proof reaches."""
import json
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorcalc.core.indices import index_ranges
from tensorcalc.core.model import Model, Prepared
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.explain.mutations import claim_edits, context_of
from tensorcalc.frontends import load_spec
from tensorcalc.frontends.parse import parse_claim
from tensorcalc.oracles.compare import numeric_error
from tensorcalc.oracles.indexform import OutsideFragment, prove_all_sizes
from tensorcalc.oracles.points import numeric_points
from tensorcalc.outputs.report import to_json
from tensorcalc.verdicts.check import check_file

CHAIN = """\
tensorcalc: 1
layout: numerator
dims: {d: 3, h: 4, n: 2}
functions: {sigma: sigmoid}
tensors: {x: vector(d), W1: matrix(h, d), b1: vector(h), W2: matrix(n, h), b2: vector(n), M: matrix(h, h)}
forward:
  z: W1 x + b1
  s: sigma(z)
  r: W2 s + b2
  loss: 1/2 norm(r)^2
claims:
  - d z / d W1 = I(h) ⊗ x
"""
STEPS = ["loss", "r", "s", "z"]  # the forward chain, last definition first
SIZES = [{"d": 3, "h": 4, "n": 2}, {"d": 2, "h": 5, "n": 3}]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    path = tmp_path_factory.mktemp("indexform") / "chain.yaml"
    path.write_text(CHAIN)
    prepared = Prepared(load_spec(str(path)))
    return prepared, [Model(prepared, sizes) for sizes in SIZES]


def _claim(text: str):
    parsed = parse_claim(text, Pos("claim", 1, 1))
    return parsed.lhs, parsed.rhs


def _proved(model, lhs_raw, rhs_raw) -> bool | None:
    scope = dict(model.scope)
    try:
        lhs, rhs = model.resolve(lhs_raw, scope), model.resolve(rhs_raw, scope)
        return prove_all_sizes(model, lhs, rhs)
    except (TensorcalcError, OutsideFragment):
        return None


def _numerically_equal(model, lhs_raw, rhs_raw) -> bool:
    scope = dict(model.scope)
    lhs, rhs = model.resolve(lhs_raw, scope), model.resolve(rhs_raw, scope)
    points = numeric_points(model, lhs, rhs, index_ranges(model, lhs, rhs), 3, 0)
    return all(numeric_error(left, right, False) <= 1e-9 for p in points for left, right in zip(p.lhs, p.rhs))


def test_shallow_claims_are_proved_for_all_sizes(root):
    prepared = Prepared(load_spec(str(root / "derivations" / "shallow.yaml")))
    model = Model(prepared, {"d": 3, "h": 4, "n": 2})
    for claim in prepared.claims:
        assert _proved(model, claim.lhs, claim.rhs) is True, claim.text


@pytest.mark.parametrize("text, proved", [
    ("trace(I(h)) = h", True),  # a size as a coefficient
    ("trace(W1^T W1) = sum(W1 ⊙ W1)", True),
    ("(W2 W1)^T = W1^T W2^T", True),
    ("(W2 W1)^T = W2^T W1^T", None),  # ill-formed
    ("trace(M) = trace(M^T)", True),
    ("trace(M M) = trace(M^T M)", None),  # false
    ("sum(ones(h)) = h", True),
    ("sum(ones(h)) = d", None),
    ("d loss / d b1 = r^T W2 diag(sigma'(z))", True),
    ("d loss / d b1 = r^T W2 diag(sigma(z))", None),
    ("d loss / d b1 = r^T W2 diag(sigmoid'(z))", True),  # sigma is bound to sigmoid
    ("d loss / d b1 = 2 r^T W2 diag(sigma'(z))", None),
    ("sigma'(z) = sigma(z) ⊙ (ones(h) - sigma(z))", True),  # σ' = σ(1 - σ), from the formula
    ("sigma'(z) = sigma(z) ⊙ sigma(z)", None),
    ("inv(M^T) = inv(M)^T", True),
    ("inv(M^T) = inv(M)", None),
    ("d softmax(z) / d z = diag(softmax(z)) - softmax(z) softmax(z)^T", True),
    ("d softmax(z) / d z = diag(softmax(z))", None),
])
def test_small_identities(chain, text, proved):
    _prepared, models = chain
    result = _proved(models[0], *_claim(text))
    assert result is True if proved else result is None


def test_operators_outside_the_fragment_say_which(chain):
    _prepared, models = chain
    model = models[0]
    lhs, rhs = _claim("[z; z] = [z; z]")
    scope = dict(model.scope)
    with pytest.raises(OutsideFragment, match="vstack"):
        prove_all_sizes(model, model.resolve(lhs, scope), model.resolve(rhs, scope))


def _chain_claim(draw) -> str:
    """``d A / d B = (d A / d C)(d C / d B)…`` through a random subset of the steps between."""
    start = draw(st.integers(0, len(STEPS) - 1))
    wrt = draw(st.sampled_from(STEPS[start + 1:] + ["b1", "W1", "x"] if start < len(STEPS) - 1 else ["b1", "W1", "x"]))
    between = STEPS[start + 1:STEPS.index(wrt)] if wrt in STEPS else STEPS[start + 1:]
    kept = [s for s in between if draw(st.booleans())]
    path = [STEPS[start], *kept, wrt]
    factors = "".join(f"(d {a} / d {b})" for a, b in zip(path, path[1:]))
    return f"d {STEPS[start]} / d {wrt} = {factors}"


def _check_a_chain_claim_and_an_edit(chain, data) -> None:
    """True claims from the chain rule and single edits of them: whatever the proof says
    "equal for every size" is equal in float64 at two size sets, and the chain-rule claims
    themselves are proved."""
    prepared, models = chain
    text = _chain_claim(data.draw)
    lhs, rhs = _claim(text)
    assert _proved(models[0], lhs, rhs) is True, text
    edits = claim_edits(lhs, rhs, context_of(prepared))
    edit = data.draw(st.sampled_from(edits))
    mutant = (edit.expr, rhs) if edit.side == "lhs" else (lhs, edit.expr)
    if _proved(models[0], *mutant):
        for model in models:
            assert _numerically_equal(model, *mutant), (text, edit.description)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_false_claim_is_never_proved_for_all_sizes(chain, data):
    _check_a_chain_claim_and_an_edit(chain, data)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_many_false_claims_are_never_proved_for_all_sizes(chain, data):
    _check_a_chain_claim_and_an_edit(chain, data)


YAML = """\
tensorcalc: 1
layout: numerator
dims: {n: 3}
tensors: {x: vector(n), A: matrix(n, n)}
forward:
  p: softmax(x)
  f: x^T A x
claims:
  - d f / d x = x^T (A + A^T)
  - "[x; x]^T [x; x] = 2 x^T x"
  - claim: d f / d x = x^T A
    expect: fails
"""


def test_json_says_how_far_each_proof_reaches(tmp_path):
    path = tmp_path / "proofs.yaml"
    path.write_text(textwrap.dedent(YAML))
    result = check_file(str(path))
    claims = json.loads(to_json([result]))["files"][0]["claims"]
    assert [c["proof"] for c in claims] == ["all sizes", "sampled sizes", None]
    assert claims[0]["how"].startswith("proved for all n; ")
    assert "not proved for all sizes: vstack is outside" in claims[1]["how"]


def _corpus_mutants(root, per_claim: int):
    """(model, models, lhs, rhs, label): every claim of derivations/ outside loops, and up to
    ``per_claim`` single edits of each."""
    from tensorcalc.core.sizes import size_sets

    for path in sorted((root / "derivations").rglob("*.yaml")):
        spec = load_spec(str(path))
        prepared = Prepared(spec)
        models = [Model(prepared, sizes) for sizes in size_sets(spec.dims, spec.check.seed)[:2]]
        ctx = context_of(prepared)
        for claim in prepared.claims:
            if claim.kind != "equation" or claim.loop:
                continue
            yield models, claim.lhs, claim.rhs, f"{path.name}: {claim.text}"
            for edit in claim_edits(claim.lhs, claim.rhs, ctx)[:per_claim]:
                mutant = (edit.expr, claim.rhs) if edit.side == "lhs" else (claim.lhs, edit.expr)
                yield models, *mutant, f"{path.name}: {claim.text} with {edit.description}"


@pytest.mark.slow
def test_no_claim_or_edit_of_the_corpus_is_proved_wrongly(root):
    """Every claim of derivations/ and single edits of it: no exception but ``OutsideFragment``
    or an ill-formed side, and whatever is proved for all sizes is equal in float64."""
    proved = 0
    for models, lhs, rhs, label in _corpus_mutants(root, 6):
        if _proved(models[0], lhs, rhs):
            proved += 1
            for model in models:
                assert _numerically_equal(model, lhs, rhs), label
    assert proved > 50


def test_a_proof_the_oracles_contradict_is_an_internal_error(tmp_path, monkeypatch):
    import tensorcalc.verdicts.check as check
    from tensorcalc.verdicts.decide import ALL_SIZES_CONTRADICTS

    monkeypatch.setattr(check, "prove_all_sizes", lambda model, lhs, rhs: True)
    path = tmp_path / "wrong.yaml"
    path.write_text(CHAIN.replace("d z / d W1 = I(h) ⊗ x", "d z / d b1 = 2 I(h)"))
    (claim,) = check_file(str(path)).claims
    assert claim.verdict == "error" and claim.reason.startswith(ALL_SIZES_CONTRADICTS), claim.reason
