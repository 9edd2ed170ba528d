"""Aggregation kernels side by side: graphrep.ops.aggregate vs PyG's default gather+scatter vs torch's CSR product
(sums only: ``torch.sparse.mm(A, x)`` as torch_csr and, on CPU, ``torch.sparse.mm(A, x, "sum")`` as torch_csr_reduce)
vs torch-scatter (when importable), for sum, weighted sum (sum_w), mean and max, forward and forward+backward, on
uniform and heavy-tailed in-degrees (destinations drawn with weights rand(N) ** -1.2). Reports time (min over
repeats; the methods of a row run interleaved, a, b, c, a, b, c, ..., so load on a shared machine hits all alike) and
peak extra memory, and on CUDA the memory-traffic floor of the forward pass (bytes moved / measured copy bandwidth).

    PYTHONPATH=$PWD python benchmarks/kernel_timings.py --device cpu                      # N=100K, E=1.6M, F=64
    PYTHONPATH=$PWD python benchmarks/kernel_timings.py --device cuda                     # N=1M,E=16M,F=128 and N=2M,E=64M,F=64
    PYTHONPATH=$PWD python benchmarks/kernel_timings.py --device cpu --small --out /tmp/x  # dry run of the whole script

Writes ``<out>/kernels_<device>[_small].{json,md,png}``.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch

from graphrep.data import freed_memory
from graphrep.ops import CSR, aggregate

REDUCES = ("sum", "sum_w", "mean", "max")
METHODS = ("graphrep", "pyg", "torch_csr", "torch_csr_reduce", "torch_scatter")
DEFAULT_SIZES = {"cpu": ["100000,1600000,64"], "cuda": ["1000000,16000000,128", "2000000,64000000,64"]}
SMALL_SIZES = ["2000,16000,24"]


# ------------------------------------------------------------------------------------------------ measurement
class _AllocPeak:
    """Peak bytes of CPU tensor memory allocated while the block runs, above what was live when it began.

    Counts every allocation and free of torch's CPU allocator (the profiler's memory events, in time order), so
    it also sees memory that the allocator reuses after a free, which resident-set growth cannot.
    """

    def __enter__(self):
        from torch.profiler import ProfilerActivity, profile

        self._prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        self._prof.__enter__()
        return self

    def __exit__(self, *exc):
        self._prof.__exit__(*exc)
        events = [e for e in self._prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        live = peak = 0
        for e in sorted(events, key=lambda e: e.start_ns()):
            live += e.nbytes()
            peak = max(peak, live)
        self.extra = peak


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn: Callable[[], None], device: str, repeats: int, warmup: int) -> Dict[str, float]:
    return measure_interleaved({"fn": fn}, device, repeats, warmup)["fn"]


def measure_interleaved(fns: Dict[str, Callable[[], None]], device: str, repeats: int,
                        warmup: int) -> Dict[str, dict]:
    """Times every function ``repeats`` times, round-robin (a, b, c, a, b, c, ...), so that load from other jobs on a
    shared machine hits all methods alike; then the peak extra memory of one run of each. A method that raises (e.g.
    out of memory) gets an ``error`` entry and leaves the rotation."""
    res: Dict[str, dict] = {}
    live = dict(fns)
    times: Dict[str, List[float]] = {k: [] for k in fns}

    def attempt(name, fn):
        try:
            fn()
            return True
        except (RuntimeError, MemoryError) as err:
            res[name] = {"ms": None, "extra_mb": None, "error": str(err).splitlines()[0][:200]}
            live.pop(name)
            if device == "cuda":
                torch.cuda.empty_cache()
            return False

    for name, fn in list(live.items()):
        for _ in range(warmup):
            if not attempt(name, fn):
                break
    _sync(device)
    for _ in range(repeats):
        for name, fn in list(live.items()):
            _sync(device)
            t0 = time.perf_counter()
            if attempt(name, fn):
                _sync(device)
                times[name].append((time.perf_counter() - t0) * 1e3)
    for name, fn in live.items():
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            fn()
            torch.cuda.synchronize()
            extra = torch.cuda.max_memory_allocated() - base
        else:
            with _AllocPeak() as m:
                fn()
            extra = m.extra
        t = times[name]
        res[name] = {"ms": min(t), "ms_median": statistics.median(t), "ms_all": t, "extra_mb": extra / 2**20}
    return {k: res[k] for k in fns}


def copy_bandwidth(device: str) -> Optional[float]:
    """Measured device copy bandwidth in bytes/s (read + write), CUDA only."""
    if device != "cuda":
        return None
    src = torch.empty(2**28, dtype=torch.float32, device=device)  # 1 GiB
    dst = torch.empty_like(src)
    r = measure(lambda: dst.copy_(src), device, repeats=10, warmup=3)
    del src, dst
    return 2 * 2**30 / (r["ms"] / 1e3)


# ------------------------------------------------------------------------------------------------ graphs and methods
def make_graph(n: int, e: int, skewed: bool, device: str, seed: int = 0):
    """Uniform sources; destinations uniform or drawn with weights ``rand(N) ** -1.2`` (inverse-CDF sampling)."""
    g = torch.Generator(device=device).manual_seed(seed)
    src = torch.randint(0, n, (e,), generator=g, device=device)
    if skewed:
        w = torch.rand(n, generator=g, dtype=torch.float64, device=device).clamp_min(1e-12) ** -1.2
        cdf = torch.cumsum(w, 0)
        u = torch.rand(e, generator=g, dtype=torch.float64, device=device) * cdf[-1]
        dst = torch.searchsorted(cdf, u).clamp_max(n - 1)
        del w, cdf, u
    else:
        dst = torch.randint(0, n, (e,), generator=g, device=device)
    return torch.stack([src, dst])


def methods(edge_index, csr, n, reduce, backend):
    """name -> forward function x -> out (only the methods that support ``reduce``). ``sum_w`` is the weighted sum
    ``sum_j w_ji x_j`` (weights in [0.5, 1.5), not trained); torch's CSR product comes in its two kernels,
    ``torch_csr`` = ``torch.sparse.mm(A, x)`` and ``torch_csr_reduce`` = ``torch.sparse.mm(A, x, "sum")``."""
    src, dst = edge_index[0], edge_index[1]
    w = None
    op = reduce
    if reduce == "sum_w":
        op = "sum"
        w = torch.rand(csr.num_edges, generator=torch.Generator().manual_seed(1)).to(src.device) + 0.5
    out = {"graphrep": lambda x: aggregate(x, csr, op, w, backend=backend)}

    from torch_geometric.utils import scatter

    if w is None:
        out["pyg"] = lambda x: scatter(x[src], dst, 0, dim_size=n, reduce=op)
    else:
        out["pyg"] = lambda x: scatter(x[src] * w.unsqueeze(1), dst, 0, dim_size=n, reduce=op)
    if op == "sum":
        import warnings

        values = torch.ones(csr.num_edges, device=src.device) if w is None else w[csr.perm]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = torch.sparse_csr_tensor(csr.rowptr, csr.col, values, (n, n))
        out["torch_csr"] = lambda x: torch.sparse.mm(a, x)
        if src.device.type == "cpu":  # the reduce-argument kernel exists on CPU only
            out["torch_csr_reduce"] = lambda x: torch.sparse.mm(a, x, "sum")
    try:
        import torch_scatter

        if w is None:
            out["torch_scatter"] = lambda x: torch_scatter.scatter(x[src], dst, 0, dim_size=n, reduce=op)
    except ImportError:
        pass
    return out


def floor_bytes(n: int, e: int, f: int, elt: int) -> int:
    """Bytes a fused forward must move: one x row per edge, the column index per edge, rowptr, the output."""
    return e * f * elt + e * 8 + (n + 1) * 8 + n * f * elt


# ------------------------------------------------------------------------------------------------ run and report
def save(res: dict, stem: Path, with_plot: bool = True) -> str:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = to_markdown(res)
    stem.with_suffix(".md").write_text(md)
    if with_plot:
        plot(res, stem.with_suffix(".png"))
    return md


def run(args, stem: Path) -> dict:
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    sizes = args.size or (SMALL_SIZES if args.small else DEFAULT_SIZES[device])
    if device == "cuda":
        name = torch.cuda.get_device_name()
    else:
        model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")),
                     platform.processor())
        name = f"{model}, {torch.get_num_threads()} threads"
    bw = copy_bandwidth(device)
    res = {"device": device, "device_name": name, "threads": torch.get_num_threads(), "torch": torch.__version__,
           "copy_bandwidth_GBps":
           None if bw is None else bw / 1e9, "repeats": args.repeats, "interleaved": True,
           "keep_freed_memory": bool(getattr(args, "keep_freed_memory", False) and freed_memory.supported()), "rows": []}
    print(f"# {name} | torch {torch.__version__}" + ("" if bw is None else f" | copy bandwidth {bw / 1e9:.0f} GB/s"),
          flush=True)
    for size in sizes:
        n, e, f = (int(v) for v in size.split(","))
        for skewed in (False, True):
            ei = make_graph(n, e, skewed, device, seed=args.seed)
            csr = CSR.from_edge_index(ei, n)
            maxdeg = int(csr.degree().max())
            x = torch.randn(n, f, device=device)
            grad = torch.randn(n, f, device=device)
            dist = "heavy-tailed" if skewed else "uniform"
            for reduce in args.reduces:
                for mode in ("fwd", "fwd+bwd"):
                    fns = {name: _timed_fn(fwd, x, grad, mode) for name, fwd in methods(ei, csr, n, reduce,
                                                                                         args.backend).items()}
                    for mname, r in measure_interleaved(fns, device, args.repeats, args.warmup).items():
                        row = {"N": n, "E": e, "F": f, "degrees": dist, "max_in_degree": maxdeg, "reduce": reduce,
                               "pass": mode, "method": mname, **r}
                        if bw is not None and mode == "fwd":
                            row["floor_ms"] = floor_bytes(n, e, f, x.element_size()) / bw * 1e3
                        res["rows"].append(row)
                        ms = "error" if r["ms"] is None else f"{r['ms']:9.2f} ms"
                        mb = "" if r.get("extra_mb") is None else f"{r['extra_mb']:9.1f} MB"
                        print(f"N={n} E={e} F={f} {dist:12s} {reduce:5s} {mode:7s} {mname:16s} {ms} {mb}", flush=True)
            del ei, csr, x, grad
            gc.collect()
            if device == "cuda":
                torch.cuda.empty_cache()
        if device == "cpu":  # which of torch's two CSR sum kernels graphrep's "auto" settled on (graphrep.ops._cpu_sum)
            res["cpu_sum_kernel"] = {str(k): v for k, v in importlib.import_module("graphrep.ops._cpu_sum")
                                     .settled().items()}
        save(res, stem, with_plot=False)  # partial results survive an interrupted run
    return res


def _timed_fn(fwd: Callable, x: torch.Tensor, grad: torch.Tensor, mode: str) -> Callable[[], None]:
    if mode == "fwd":
        def fn():
            with torch.no_grad():
                fwd(x)
        return fn
    xg = x.detach().requires_grad_()

    def fn():
        xg.grad = None
        fwd(xg).backward(grad)
    return fn


def merge_runs(paths: List[Path]) -> dict:
    """One result from several runs' JSON files: a row of a later file replaces the row of an earlier one with the same
    (size, in-degree, reduce, pass, method); run metadata comes from the first file, and ``merged_from`` names them all.
    This is how a partial rerun (e.g. only the max rows after a kernel change) updates a table without hand edits."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    if len({r["device"] for r in runs}) != 1:
        raise SystemExit("--merge: the runs are from different devices")
    key = lambda r: (r["N"], r["E"], r["F"], r["degrees"], r["reduce"], r["pass"], r["method"])
    rows: Dict[tuple, dict] = {}
    for run_ in runs:
        for r in run_["rows"]:
            rows[key(r)] = r  # dicts keep first-insertion order, so the table keeps the first run's row order
    merged = {k: v for k, v in runs[0].items() if k != "rows"}
    merged.update(rows=list(rows.values()), merged_from=[Path(p).name for p in paths])
    return merged


def to_markdown(res: dict) -> str:
    rows = res["rows"]
    meths = [m for m in METHODS if any(r["method"] == m for r in rows)]
    cuda = res["device"] == "cuda"
    head = ["N / E / F", "in-degree", "reduce", "pass"] + [f"{m} ms" for m in meths]
    head += (["floor ms", "graphrep / floor"] if cuda else []) + ["PyG / graphrep", "graphrep vs its fwd"]
    head += [f"{m} MB" for m in meths]
    lines = [
        f"Device: {res['device_name']} (torch {res['torch']}"
        + ("" if res["copy_bandwidth_GBps"] is None else f", copy bandwidth {res['copy_bandwidth_GBps']:.0f} GB/s")
        + f"). Times: min of {res['repeats']} runs" + (", methods interleaved" if res.get("interleaved") else "")
        + "; memory: peak extra "
        + ("CUDA allocation" if cuda else "CPU tensor allocation (profiler memory events)") + " during one run."
        + (f" Merged from {', '.join(res['merged_from'])} (a later file's rows replace the earlier's)."
           if res.get("merged_from") else "")
        + (" The run kept freed memory in the process (`--keep-freed-memory`: glibc's mmap and trim thresholds out of"
           " reach, for every method), so no call maps and faults in its temporaries afresh."
           if res.get("keep_freed_memory") else "")
        + (f" graphrep's CPU sums ran on torch's \"{res['cpu_sum_kernel'][str(res['threads'])]}\" kernel (chosen by"
           " timing, see graphrep/ops/_cpu_sum.py)." if str(res.get("threads")) in res.get("cpu_sum_kernel", {}) else ""),
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    keys = []
    for r in rows:
        k = (r["N"], r["E"], r["F"], r["degrees"], r["reduce"], r["pass"])
        if k not in keys:
            keys.append(k)
    for k in keys:
        sel = {r["method"]: r for r in rows if (r["N"], r["E"], r["F"], r["degrees"], r["reduce"], r["pass"]) == k}
        fmt = lambda v, d=1: "—" if v is None else f"{v:.{d}f}"
        ms = {m: sel.get(m, {}).get("ms") for m in meths}
        cells = [f"{k[0]:,} / {k[1]:,} / {k[2]}", k[3], k[4], k[5]] + [fmt(ms[m], 2) for m in meths]
        if cuda:
            fl = sel.get("graphrep", {}).get("floor_ms")
            cells += [fmt(fl, 2), "—" if fl is None or ms["graphrep"] is None else f"{ms['graphrep'] / fl:.2f}x"]
        sp = None if ms.get("graphrep") in (None, 0) or ms.get("pyg") is None else ms["pyg"] / ms["graphrep"]
        cells += ["—" if sp is None else f"{sp:.1f}x"]
        fw = [r["ms"] for r in rows if r["method"] == "graphrep" and r["pass"] == "fwd"
              and (r["N"], r["E"], r["F"], r["degrees"], r["reduce"]) == k[:5]]
        ratio = None if k[5] == "fwd" or not fw or fw[0] is None or ms.get("graphrep") is None else ms["graphrep"] / fw[0]
        cells += ["—" if ratio is None else f"{ratio:.2f}x"]
        cells += [fmt(sel.get(m, {}).get("extra_mb"), 0) for m in meths]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in res["rows"] if r["ms"] is not None]
    sizes = sorted({(r["N"], r["E"], r["F"]) for r in rows})
    meths = [m for m in METHODS if any(r["method"] == m for r in rows)]
    fig, axes = plt.subplots(len(sizes), 1, figsize=(12, 3.6 * len(sizes)), squeeze=False)
    for ax, size in zip(axes[:, 0], sizes):
        groups = []
        for r in rows:
            k = (r["degrees"], r["reduce"], r["pass"])
            if (r["N"], r["E"], r["F"]) == size and k not in groups:
                groups.append(k)
        width = 0.8 / len(meths)
        for i, m in enumerate(meths):
            vals = []
            for k in groups:
                hit = [r["ms"] for r in rows if (r["N"], r["E"], r["F"]) == size and r["method"] == m
                       and (r["degrees"], r["reduce"], r["pass"]) == k]
                vals.append(hit[0] if hit else 0)
            ax.bar([g + i * width for g in range(len(groups))], vals, width, label=m)
        ax.set_yscale("log")
        ax.set_ylabel("time per call (ms, log scale)")
        ax.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
        ax.set_xticklabels([f"{d}\n{r} {p}" for d, r, p in groups], fontsize=7)
        ax.set_xlabel("in-degree distribution, reduction, pass")
        ax.set_title(f"N={size[0]:,} E={size[1]:,} F={size[2]} — {res['device_name']}", fontsize=9)
        ax.legend(fontsize=8, title="implementation", title_fontsize=8)
    fig.suptitle("Fused aggregation: time per call, graphrep vs the alternatives (lower is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", action="append", help="N,E,F (repeatable); default depends on --device")
    p.add_argument("--small", action="store_true", help="tiny sizes and few repeats: a dry run of the script")
    p.add_argument("--reduces", nargs="+", default=list(REDUCES), choices=REDUCES)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--backend", default=None, help="graphrep backend (default: auto)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="keep freed memory in the process (glibc; graphrep.data.freed_memory.keeping_freed_memory): "
                        "temporaries are not mapped and faulted in afresh per call; writes kernels_<device>_kept")
    p.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                   help="no timing: merge these runs' JSON files (later rows win) into --merge-name.{json,md,png}")
    p.add_argument("--merge-name", default=None, help="output stem for --merge (default: <first>_merged)")
    args = p.parse_args(argv)
    if args.merge:
        stem = args.out / (args.merge_name or f"{args.merge[0].stem}_merged")
        print(save(merge_runs(args.merge), stem))
        return
    if args.repeats is None:
        args.repeats = 2 if args.small else 5
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    stem = args.out / (f"kernels_{args.device}" + ("_kept" if args.keep_freed_memory else "")
                       + ("_small" if args.small else ""))
    if args.keep_freed_memory:
        res = freed_memory.keeping_freed_memory(run)(args, stem)
    else:
        res = run(args, stem)
    md = save(res, stem)
    print(md)
    print(f"wrote {stem}.json/.md/.png", file=sys.stderr)


if __name__ == "__main__":
    main()
