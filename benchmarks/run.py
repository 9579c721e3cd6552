"""Performance targets of tensorcalc, measured on this machine; prints a table and writes
``benchmarks/results.md`` and ``benchmarks/performance.png``.

  1. cold start   ``check derivations/shallow.yaml`` wall time / ``python -c "import jax, sympy"``
  2. depth        check time of a generated depth-L MLP derivation, L = 8, 16, 32, 64
  3. gradient     the module ``derive --emit numpy`` prints, imported and timed side by side
                  with hand-written numpy backprop (alternating, medians), and jax.jit(jax.grad),
                  widths 128..2048, depth 8, batch 64; peak memory; the naive I ⊗ a contraction
  4. corpus       ``check derivations/`` (all files, default jobs)

Every figure is the median of ``--runs`` runs (min–max beside it); timings are wall-clock
and the machine may be shared: the load average is printed. ``--quick`` runs tiny sizes
once (a smoke test of this script) and writes nothing unless ``--out`` is given.

    pip install -e ".[bench]"; python benchmarks/run.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

DEPTH_FILE = """tensorcalc: 1
title: depth {L} MLP, squared loss, recursive deltas
layout: mixed
dims:
  L: [{L}]
  n[l]: 3..5
functions: {{mu: sigmoid}}
tensors:
  x: vector(n[0])
  y: vector(n[L])
  W[l]: matrix(n[l], n[l-1])  for l in 1..L
  b[l]: vector(n[l])          for l in 1..L
forward:
  a[0]: x
  z[l]: W[l] a[l-1] + b[l]    for l in 1..L
  a[l]: mu(z[l])              for l in 1..L
  C: norm(a[L] - y)^2
claims:
  - delta[l] := d C / d z[l]
  - delta[L] = 2 (a[L] - y) ⊙ mu'(z[L])
  - delta[l-1] = mu'(z[l-1]) ⊙ W[l]^T delta[l]   for l in 2..L
  - d C / d W[l] = delta[l] a[l-1]^T              for l in 1..L
  - d C / d b[l] = delta[l]                       for l in 1..L
"""

BATCH_FILE = """tensorcalc: 1
title: depth {L} MLP on a batch
layout: numerator
dims:
  L: [{L}]
  N: [{N}]
  n[l]: [{n}]
functions: {{mu: sigmoid}}
tensors:
  x: matrix(n[0], N)
  y: matrix(n[L], N)
  W[l]: matrix(n[l], n[l-1])  for l in 1..L
  b[l]: vector(n[l])          for l in 1..L
forward:
  a[0]: x
  z[l]: W[l] a[l-1] + b[l] ones(N)^T   for l in 1..L
  a[l]: mu(z[l])                       for l in 1..L
  C: 1/2 norm(a[L] - y)^2
claims:
  - d C / d b[L] = ((a[L] - y) ⊙ mu'(z[L])) ones(N)
"""


class Series:
    """Repeated measurements of one quantity."""

    def __init__(self, values: list[float]):
        self.values = values

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def __str__(self) -> str:
        return f"{self.median:.3g} ({min(self.values):.3g}–{max(self.values):.3g}, n={len(self.values)})"


def wall(cmd: list[str], runs: int, env: dict | None = None, fresh_cache: bool = False) -> Series:
    out = []
    for _ in range(runs):
        run_env = dict(os.environ, **(env or {}))
        with tempfile.TemporaryDirectory() as cache:
            if fresh_cache:
                run_env["TENSORCALC_CACHE"] = cache
            start = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, env=run_env, capture_output=True, text=True)
            out.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return Series(out)


# --- 1 and 4: the command line ----------------------------------------------------------------------


def cold_start(runs: int) -> dict:
    imports = wall([sys.executable, "-c", "import jax, sympy"], runs)
    warm = wall([sys.executable, "-m", "tensorcalc", "check", "derivations/shallow.yaml"], runs)
    cold = wall([sys.executable, "-m", "tensorcalc", "check", "derivations/shallow.yaml"], runs, fresh_cache=True)
    return {"imports": imports, "check": warm, "check_no_cache": cold}


def corpus(runs: int) -> dict:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "derivations").rglob("*.y*ml"))
    cmd = [sys.executable, "-m", "tensorcalc", "check", "derivations/", "-q", "-o", os.devnull]
    return {"files": len(files), "parallel": wall(cmd, runs), "sequential": wall(cmd + ["--jobs", "1"], max(1, runs // 2))}


def depth(depths: list[int], runs: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for L in depths:
            path = Path(tmp) / f"depth{L}.yaml"
            path.write_text(DEPTH_FILE.format(L=L), encoding="utf-8")
            out[L] = wall([sys.executable, "-m", "tensorcalc", "check", str(path)], runs, fresh_cache=True)
    return out


# --- 3: lowered gradient ----------------------------------------------------------------------------


def batch_model(width: int, layers: int, batch: int):
    from tensorcalc.core.model import Model, Prepared
    from tensorcalc.core.sizes import size_sets
    from tensorcalc.frontends import load_spec
    from tensorcalc.frontends import spec as spec_module

    spec_module.MAX_DIM = max(spec_module.MAX_DIM, width, batch)  # a model to lower, not a file to check exactly
    spec = load_spec("batch.yaml", BATCH_FILE.format(L=layers, N=batch, n=width))
    prepared = Prepared(spec)
    return Model(prepared, size_sets(spec.dims, 0)[0])


def leaves_for(model, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for name, (_kind, shape, _flags) in model.leaves.items():
        dims = model.numeric_shape(shape)
        scale = 1.0 / np.sqrt(dims[1]) if name.startswith("W") else 1.0
        out[name] = rng.standard_normal(dims) * scale
    return out


def params_of(model) -> list[str]:
    return [n for n in model.leaves if n.startswith(("W[", "b["))]


def tensorcalc_gradient(model):
    """The chain-rule programs of derive.py (one per parameter, adjoint steps shared), run by
    evaluate.py's numpy algebra. Returns f(leaves) -> {param: gradient}."""
    from tensorcalc.core.derive import gradient_program
    from tensorcalc.core.expr import var
    from tensorcalc.oracles.evaluate import Evaluator, forward_env, numpy_algebra

    alg = numpy_algebra(model.functions)
    programs = {p: gradient_program(model, var(model.loss), p) for p in params_of(model)}

    def grad(leaves):
        env = forward_env(model, alg, leaves)
        out = {}
        for p, prog in programs.items():
            ev = Evaluator(model, alg, env, names=prog.shapes)  # the program's own names (adjoints)
            for name, expr in prog.steps:
                if name not in env:
                    env[name] = ev.evaluate(expr)
            out[p] = ev.evaluate(prog.result)
        return out

    return grad, programs


def emitted_gradient(model, folder: str):
    """The module ``derive --emit numpy`` prints for the model, imported from ``folder``.
    Returns f(leaves) -> {param: gradient}, each shaped like its parameter."""
    import importlib.util

    from tensorcalc.core.layouts import effective
    from tensorcalc.outputs.emit import emit_numpy, identifier

    path = Path(folder) / f"emitted_{len(list(Path(folder).iterdir()))}.py"
    wrt = [f"{base}[l]" for base in ("W", "b")]  # what hand-written backprop computes: no gradient of the data
    path.write_text(emit_numpy(model.prepared, model=model, wrt=wrt), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # code tensorcalc generated, just written above
    names = {k: identifier(k) for k in model.leaves}
    params = set(params_of(model))
    rows = effective(model.layout, ()) == "numerator"  # d C / d W as W's transpose: back to W's shape (a view)

    def grad(leaves):
        out = module.gradients(**{names[k]: v for k, v in leaves.items()})
        return {k: v.T if rows else v for k, v in out.items() if k in params}

    return grad


def _backprop(leaves, layers: int, weight_gradient):
    """Backprop for the benchmark network (sigmoid, 1/2 squared loss); ``weight_gradient(delta,
    a_prev)`` computes d loss / d W[l] from the layer's delta and input activations."""
    a = [leaves["x"]]
    for l in range(1, layers + 1):
        z = leaves[f"W[{l}]"] @ a[-1] + leaves[f"b[{l}]"]
        a.append(1.0 / (1.0 + np.exp(-z)))
    out = {}
    delta = (a[-1] - leaves["y"]) * a[-1] * (1 - a[-1])
    for l in range(layers, 0, -1):
        out[f"W[{l}]"] = weight_gradient(delta, a[l - 1])
        out[f"b[{l}]"] = delta.sum(axis=1, keepdims=True)
        if l > 1:
            delta = (leaves[f"W[{l}]"].T @ delta) * a[l - 1] * (1 - a[l - 1])
    return out


def numpy_backprop(layers: int):
    """Hand-written backprop for the same network: d loss / d W = delta aᵀ."""
    return lambda leaves: _backprop(leaves, layers, lambda delta, a_prev: delta @ a_prev.T)


def jax_gradient(layers: int):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def loss(params, x, y):
        a = x
        for l in range(1, layers + 1):
            a = jax.nn.sigmoid(params[f"W[{l}]"] @ a + params[f"b[{l}]"])
        return 0.5 * jnp.sum((a - y) ** 2)

    g = jax.jit(jax.grad(loss))

    def grad(leaves):
        params = {k: v for k, v in leaves.items() if k.startswith(("W[", "b["))}
        return jax.block_until_ready(g(params, leaves["x"], leaves["y"]))

    return grad


def naive_gradient(layers: int):
    """Backprop that materialises d z / d W = I ⊗ a (n × n × n_prev per sample) and contracts
    it with delta, as the matrix-calculus formula reads literally."""

    def weight_gradient(delta, a_prev):
        n, m = delta.shape[0], a_prev.shape[0]
        eye = np.eye(n)
        g = np.zeros((n, m))
        for s in range(delta.shape[1]):
            three = eye[:, :, None] * a_prev[None, None, :, s]  # [k, i, j] = I[k, i] a[j]
            g += np.tensordot(delta[:, s], three, axes=1)
        return g

    return lambda leaves: _backprop(leaves, layers, weight_gradient)


def timed(fn, leaves, runs: int, memory: bool = True) -> tuple[Series, int]:
    fn(leaves)  # warm up (jax compiles here)
    times, peak = [], 0
    for _ in range(runs):
        if memory:
            tracemalloc.start()
        start = time.perf_counter()
        fn(leaves)
        times.append(time.perf_counter() - start)
        if memory:
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    return Series(times), peak


def side_by_side(mine, hand, leaves, runs: int):
    """Both gradients timed alternately in one loop (the machine is shared: a slow moment hits both
    alike); peak memory measured in separate runs, so tracing does not slow the timed ones."""
    (_t, mine_peak), (_u, hand_peak) = timed(mine, leaves, 1), timed(hand, leaves, 1)
    mine_times, hand_times = [], []
    for _ in range(runs):
        for fn, times in ((mine, mine_times), (hand, hand_times)):
            start = time.perf_counter()
            fn(leaves)
            times.append(time.perf_counter() - start)
    return Series(mine_times), mine_peak, Series(hand_times), hand_peak


def gradient(widths: list[int], naive_widths: list[int], layers: int, batch: int, runs: int, check_width: int) -> dict:
    out = {"widths": {}, "naive": {}, "layers": layers, "batch": batch}
    folder = tempfile.mkdtemp(prefix="tensorcalc-emitted-")
    for width in widths:
        model = batch_model(width, layers, batch)
        leaves = leaves_for(model)
        interpreted, programs = tensorcalc_gradient(model)
        mine = emitted_gradient(model, folder)
        if width == check_width:
            reference = numpy_backprop(layers)(leaves)
            got = mine(leaves)
            out["max_rel_diff"] = max(
                float(np.max(np.abs(np.reshape(got[p], reference[p].T.shape).T - reference[p]) if got[p].shape != reference[p].shape
                             else np.abs(got[p] - reference[p]))) / float(np.max(np.abs(reference[p])))
                for p in reference
            )
            out["steps"] = {p: len(prog.steps) for p, prog in programs.items()}
            out["largest_value_ndim"] = _largest_ndim(interpreted, leaves)
        params = sum(v.nbytes for k, v in leaves.items() if k.startswith(("W[", "b[")))
        activations = 2 * layers * width * batch * 8
        row = {"params_bytes": params, "activation_bytes": activations}
        hand = numpy_backprop(layers)
        row["tensorcalc"], row["tensorcalc_peak"], row["numpy"], row["numpy_peak"] = side_by_side(mine, hand, leaves, runs)
        row["jax"], _ = timed(jax_gradient(layers), leaves, runs, memory=False)
        out["widths"][width] = row
    for width in naive_widths:
        model = batch_model(width, layers, batch)
        leaves = leaves_for(model)
        row = {}
        row["naive"], row["naive_peak"] = timed(naive_gradient(layers), leaves, max(1, runs // 2))
        out["naive"][width] = row
    return out


def _largest_ndim(grad, leaves) -> int:
    """Largest number of axes of any array the lowered program computes (2: no 3-tensor)."""
    from tensorcalc.oracles import evaluate

    seen = [0]
    original = evaluate.Evaluator.evaluate

    def spy(self, e):
        value = original(self, e)
        seen[0] = max(seen[0], np.ndim(value))
        return value

    evaluate.Evaluator.evaluate = spy
    try:
        grad(leaves)
    finally:
        evaluate.Evaluator.evaluate = original
    return seen[0]


# --- report -------------------------------------------------------------------------------------


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def report(results: dict, quick: bool) -> str:
    lines = []
    load = os.getloadavg()
    lines.append(f"Machine: {os.cpu_count()} cores, load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
                 "(other jobs were running: timings are noisy). Figures: median (min–max, n = runs), seconds.")
    if quick:
        lines.append("**--quick run: tiny sizes, not the targets.**")
    lines.append("")
    lines.append("| target | measured ratio | goal | met | figures |")
    lines.append("|---|---|---|---|---|")
    cs = results.get("cold_start")
    if cs:
        r = cs["check"].median / cs["imports"].median
        r0 = cs["check_no_cache"].median / cs["imports"].median
        lines.append(f"| 1. cold start: check shallow.yaml / import jax, sympy | {r:.2f} (empty compile cache: {r0:.2f}) | ≤ 1.5 | "
                     f"{'yes' if r <= 1.5 else 'no'}{'' if r0 <= 1.5 else ' (not with an empty cache)'} | "
                     f"check {cs['check']}; with an empty cache {cs['check_no_cache']}; imports {cs['imports']} |")
    dp = results.get("depth")
    if dp:
        ds = sorted(dp)
        ratio = dp[ds[-1]].median / dp[ds[-2]].median if len(ds) > 1 else float("nan")
        last = dp[ds[-1]].median
        figures = "; ".join(f"L={L}: {dp[L]}" for L in ds)
        lines.append(f"| 2. depth: t(L={ds[-1]}) / t(L={ds[-2]}) | {ratio:.2f} | ≤ 2.2, L=64 < 30 s | "
                     f"{'yes' if ratio <= 2.2 and last < 30 else 'no'} | {figures} (whole command, empty compile cache) |")
    gr = results.get("gradient")
    if gr:
        w = max(gr["widths"])
        row = gr["widths"][w]
        r_jax = row["tensorcalc"].median / row["jax"].median
        ref = row["params_bytes"] + row["activation_bytes"]
        r_mem = row["tensorcalc_peak"] / ref
        ratios = {width: r["tensorcalc"].median / r["numpy"].median for width, r in sorted(gr["widths"].items())}
        worst = max(ratios.values())
        lines.append(f"| 3a. emitted gradient / numpy backprop, every width (depth {gr['layers']}, batch {gr['batch']}) | "
                     f"{worst:.2f} (largest) | ≤ 1.05 | {'yes' if worst <= 1.05 else 'no'} | "
                     f"{'; '.join(f'width {width}: {r:.2f}' for width, r in ratios.items())} |")
        lines.append(f"| 3b. emitted gradient / jax.jit(jax.grad), width {w} | {r_jax:.2f} | ≤ 2 | {'yes' if r_jax <= 2 else 'no'} | jax {row['jax']} |")
        lines.append(f"| 3c. peak memory / (parameters + activations) | {r_mem:.2f} | ≤ 1.5 | {'yes' if r_mem <= 1.5 else 'no'} | "
                     f"peak allocated during the gradient {mib(row['tensorcalc_peak'])} (numpy backprop {mib(row['numpy_peak'])}); "
                     f"parameters {mib(row['params_bytes'])} + activations {mib(row['activation_bytes'])}; largest array computed: "
                     f"{gr.get('largest_value_ndim', '?')} axes |")
    co = results.get("corpus")
    if co:
        t = co["parallel"].median
        lines.append(f"| 4. corpus: check derivations/ ({co['files']} files) | {t:.1f} s | ≤ 10 s | {'yes' if t <= 10 else 'no'} | "
                     f"default jobs {co['parallel']}; --jobs 1 {co['sequential']} |")
    if gr:
        lines.append("")
        lines.append(f"Emitted gradient (`derive --emit numpy`, imported), depth {gr['layers']}, batch {gr['batch']} (seconds per "
                     "gradient of every W[l], b[l], timed alternately with numpy backprop; peak = memory allocated during the "
                     "gradient, parameters excluded):")
        lines.append("")
        lines.append("| width | tensorcalc (emitted) | numpy backprop | ratio | jax.jit(grad) | tensorcalc peak | numpy peak | params + activations |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for w, row in sorted(gr["widths"].items()):
            ratio = row["tensorcalc"].median / row["numpy"].median
            lines.append(f"| {w} | {row['tensorcalc']} | {row['numpy']} | {ratio:.2f} | {row['jax']} | {mib(row['tensorcalc_peak'])} | "
                         f"{mib(row['numpy_peak'])} | {mib(row['params_bytes'] + row['activation_bytes'])} |")
        lines.append("")
        lines.append("Naive: d z/d W = I ⊗ a materialised (n × n × n per sample, per layer) and contracted with δ:")
        lines.append("")
        lines.append("| width | time | peak | one 3-tensor (bytes, 8 n³) | all samples of a batch at once (8 N n³) |")
        lines.append("|---|---|---|---|---|")
        widths = sorted(set(gr["naive"]) | {512, 1024, 2048})
        for w in widths:
            row = gr["naive"].get(w)
            one, batch = 8 * w**3, 8 * gr["batch"] * w**3
            measured = f"{row['naive']} | {mib(row['naive_peak'])}" if row else "not run | —"
            lines.append(f"| {w} | {measured} | {mib(one)} | {mib(batch)} |")
        budget = 24 * 2**30
        per_sample = int((budget / 8) ** (1 / 3))
        per_batch = int((budget / (8 * gr["batch"])) ** (1 / 3))
        lines.append("")
        lines.append(f"On this 24 GiB machine one 3-tensor stops fitting at width ≈ {per_sample}, a batch of {gr['batch']} of them at "
                     f"width ≈ {per_batch} (estimated from 8 n³ bytes, not allocated). Width 2048 would need "
                     f"{8 * 2048**3 / 2**30:.0f} GiB per sample.")
        if "max_rel_diff" in gr:
            lines.append(f"Emitted gradient vs hand-written backprop: max relative difference {gr['max_rel_diff']:.1e}; "
                         f"chain-rule steps per parameter W[1]..W[{gr['layers']}]: "
                         f"{', '.join(str(gr['steps'][f'W[{l}]']) for l in range(1, gr['layers'] + 1))}.")
    return "\n".join(lines)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    dp = results.get("depth", {})
    if dp:
        ds = sorted(dp)
        med = [dp[L].median for L in ds]
        left.errorbar(ds, med, yerr=[[m - min(dp[L].values) for L, m in zip(ds, med)], [max(dp[L].values) - m for L, m in zip(ds, med)]],
                      marker="o", capsize=3, label="check (wall, whole command)")
        slope = med[-1] / ds[-1]
        left.plot(ds, [slope * L for L in ds], "--", color="gray", label="linear through the last point")
        left.set_xlabel("depth L")
        left.set_ylabel("seconds")
        left.set_title("check time vs depth (δ-recursion MLP, widths 3..5)")
        left.legend()
    gr = results.get("gradient")
    if gr:
        ws = sorted(gr["widths"])
        for key, label in (("tensorcalc", "tensorcalc (emitted numpy module)"), ("numpy", "numpy backprop"), ("jax", "jax.jit(jax.grad)")):
            right.plot(ws, [gr["widths"][w][key].median for w in ws], marker="o", label=label)
        nw = sorted(gr["naive"])
        if nw:
            right.plot(nw, [gr["naive"][w]["naive"].median for w in nw], marker="x", label="naive I ⊗ a 3-tensor")
        right.set_xscale("log", base=2)
        right.set_yscale("log")
        right.set_xlabel("width")
        right.set_ylabel("seconds per gradient")
        right.set_title(f"gradient time vs width (depth {gr['layers']}, batch {gr['batch']})")
        right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def output_folder(out: str | None, quick: bool) -> Path | None:
    """Where results.md and the plot go: ``--out``, else benchmarks/ for a full run and nowhere for ``--quick``."""
    if out is not None:
        return Path(out)
    return None if quick else HERE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run each: a smoke test")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["cold", "depth", "gradient", "corpus"], action="append")
    parser.add_argument("--out", help="folder for results.md and performance.png (default: benchmarks/, "
                        "or nowhere with --quick: a smoke test never overwrites the committed results)")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    parts = args.only or ["cold", "depth", "gradient", "corpus"]
    results: dict = {}
    if "cold" in parts:
        results["cold_start"] = cold_start(runs)
    if "depth" in parts:
        results["depth"] = depth([2, 4] if args.quick else [8, 16, 32, 64], runs)
    if "gradient" in parts:
        if args.quick:
            results["gradient"] = gradient([16, 32], [8, 16], 2, 4, runs, check_width=32)
        else:
            results["gradient"] = gradient([128, 256, 512, 1024, 2048], [16, 32, 64, 128], 8, 64, runs, check_width=256)
    if "corpus" in parts:
        results["corpus"] = corpus(runs)
    text = report(results, args.quick)
    print(text)
    out = output_folder(args.out, args.quick)
    if out is None:
        return 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.md").write_text("# Performance results\n\nWritten by `python benchmarks/run.py`"
                                    f"{' --quick' if args.quick else ''}.\n\n" + text + "\n", encoding="utf-8")
    try:
        plot(results, out / "performance.png")
    except ImportError:
        print("(matplotlib not installed: no plot; pip install -e '.[bench]')", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
