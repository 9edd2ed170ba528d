"""End-to-end training-step speed: the same models on graphrep's layers (fused ops) and on PyG's layers.

A step is forward + loss + backward + optimiser step (Adam). Each case builds both models from one seed with the
same parameters (graphrep's layers subclass PyG's, so the state dict is copied), then times them with steps
alternating one by one (graphrep, PyG, PyG, graphrep, ...) so that load on a shared machine hits both alike, for at
least ``--seconds`` and ``--min-steps`` steps each after ``--warmup`` steps; a row reports the per-step time, median
and mean ± sample std (ddof=1), the speed-up PyG median / graphrep median, and the 1-minute load average. Inputs are the edge lists a user would pass (``[2, E]`` tensors): graphrep's layers
build a CSR per edge tensor once and cache it, so the full-graph cases reuse it across layers and steps, and each
molecule batch pays for its own.

Cases (synthetic graphs with the stated sizes, seeded):

- ``gcn``/``sage``/``gat`` on a citation-size graph (Cora's size: 2,708 nodes, 10,556 edges, 1,433 features,
  7 classes; 2 layers, hidden 64, GAT 8 heads x 8) and on a 1M-edge graph (100,000 nodes, 1,000,000 edges,
  64 features, hidden 64, GAT 2 heads x 32), node classification with cross-entropy;
- ``gin``/``gine`` on molecule-size batches (128 graphs of 12-38 atoms, about 1.1 bonds per atom, both directions;
  5 layers, hidden 64, sum pooling, regression), a new batch each step;
- ``graphshaper``: :class:`graphrep.models.GraphShaper` (gated euclidean + hyperbolic + spherical experts) with
  ``backend="graphrep"`` vs ``backend="pyg"`` on the citation-size graph with 384-d unit node features.

With ``--ceiling`` each node and molecule case also times PyG's model with its message passing removed
(``propagate`` returns the layer's input features, ``edge_updater`` nothing, GAT adds no self-loops): every dense
layer, the loss and Adam stay. PyG's step over that step bounds what *any* message-passing implementation can gain
in that model, the ceiling a faster kernel cannot pass. For GINE a second model keeps one thing more, what every GINE
layer must do: hand back a fresh ``[E, F]`` gradient for ``edge_attr`` (zeros), which autograd sums over the layers
and the bond embedding's backward reads.

Each row also gives the minor page faults per step (median), read from ``getrusage`` around each step: on a CPU a
step that frees and reallocates buffers above glibc's mmap or trim threshold gets fresh pages from the kernel every
time, and on this project's 2-core VM each such page costs microseconds, enough to move a step by 10-20%. With
``--keep-freed-memory`` the whole run (both implementations alike) keeps freed memory in the process
(:func:`graphrep.data.freed_memory.keeping_freed_memory`: both thresholds out of reach), which leaves the
computation alone.

Run: ``python benchmarks/model_speed.py`` (CPU; ``--device cuda`` on a GPU, e.g. ``--out-name model_speed_cuda``);
``python benchmarks/model_speed.py --ceiling --keep-freed-memory --only "GCN,GAT (8 heads),GIN" --out-name
model_speed_ceiling`` (the ceiling with freed memory kept: a model that allocates less could otherwise pass it by the
page faults it avoids);
``python benchmarks/model_speed.py --keep-freed-memory --out-name model_speed_kept``.
Writes ``benchmarks/results/<out-name>.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
import torch_geometric.nn as pyg
from torch import nn

import graphrep.nn.conv as gr
from graphrep.data import freed_memory
from graphrep.models import GraphShaper
from graphrep.nn.experts import PropagationGraph

RESULTS = Path(__file__).resolve().parent / "results"


# ----------------------------------------------------------------------------------------------------------- data
def random_graph(n: int, e: int, gen: torch.Generator, device) -> torch.Tensor:
    """``e`` directed edges: ``e/2`` random pairs in both directions (no self-loops)."""
    half = e // 2
    src = torch.randint(0, n, (half,), generator=gen)
    dst = (src + 1 + torch.randint(0, n - 1, (half,), generator=gen)) % n
    return torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1).to(device)


def molecule_batch(gen: torch.Generator, device, graphs: int = 128):
    """A batch of ``graphs`` random connected molecule-size graphs: a random tree plus ~10% ring-closing bonds."""
    srcs, dsts, batch, offset = [], [], [], 0
    for b in range(graphs):
        n = int(torch.randint(12, 39, (1,), generator=gen))
        parent = (torch.rand(n - 1, generator=gen) * torch.arange(1, n)).long()
        child = torch.arange(1, n)
        rings = max(1, n // 10)
        a, c = torch.randint(0, n, (rings,), generator=gen), torch.randint(0, n, (rings,), generator=gen)
        keep = a != c
        s = torch.cat([parent, a[keep]]) + offset
        d = torch.cat([child, c[keep]]) + offset
        srcs += [s, d]
        dsts += [d, s]
        batch.append(torch.full((n,), b))
        offset += n
    ei = torch.stack([torch.cat(srcs), torch.cat(dsts)])
    return ei.to(device), torch.cat(batch).to(device), offset


# ---------------------------------------------------------------------------------------------------------- models
class _NoMessagePassing:
    """Mixin for a PyG layer: no message passing at all (the ceiling's model, module docstring)."""

    def propagate(self, edge_index, size=None, **kwargs):
        x = kwargs["x"]
        return x[0] if isinstance(x, tuple) else x

    def edge_updater(self, edge_index, size=None, **kwargs):
        return None


class _NoMPGAT(_NoMessagePassing, pyg.GATConv):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, add_self_loops=False, **kwargs)


class _KeepEdgeGradient(torch.autograd.Function):
    """``x`` unchanged; backward gives ``edge_attr`` a fresh zero ``[E, F]`` gradient, the one tensor any GINE layer
    must hand back (autograd then sums it over the layers and the bond embedding's backward reads it)."""

    @staticmethod
    def forward(ctx, x, edge_attr):
        ctx.edge_shape = edge_attr.shape
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, grad.new_zeros(ctx.edge_shape)


class _EdgeGradientOnlyGINE(pyg.GINEConv):
    """GINE with no message passing that still returns ``edge_attr``'s gradient: the ceiling of a GINE layer."""

    def propagate(self, edge_index, size=None, **kwargs):
        x = kwargs["x"]
        return _KeepEdgeGradient.apply(x[0] if isinstance(x, tuple) else x, kwargs["edge_attr"])


#: PyG's layers without message passing, for ``--ceiling``
NO_MP = SimpleNamespace(GATConv=_NoMPGAT, **{name: type(f"_NoMP{name}", (_NoMessagePassing, getattr(pyg, name)), {})
                                              for name in ("GCNConv", "SAGEConv", "GINConv", "GINEConv")})


class NodeNet(nn.Module):
    """Two convolutions with ReLU and dropout between (node classification)."""

    def __init__(self, lib, kind: str, f_in: int, hidden: int, classes: int, heads: int = 8):
        super().__init__()
        if kind == "gcn":
            self.c1, self.c2 = lib.GCNConv(f_in, hidden), lib.GCNConv(hidden, classes)
        elif kind == "sage":
            self.c1, self.c2 = lib.SAGEConv(f_in, hidden), lib.SAGEConv(hidden, classes)
        else:
            self.c1 = lib.GATConv(f_in, hidden // heads, heads=heads)
            self.c2 = lib.GATConv(hidden, classes, heads=1)

    def forward(self, x, edge_index):
        h = F.dropout(F.relu(self.c1(x, edge_index)), 0.5, self.training)
        return self.c2(h, edge_index)


class MolNet(nn.Module):
    """GIN (or GINE with a bond embedding) with 5 layers, BatchNorm, sum pooling, a regression head."""

    def __init__(self, lib, kind: str, hidden: int = 64, layers: int = 5, bond_types: int = 4):
        super().__init__()
        self.kind = kind
        self.atom = nn.Embedding(16, hidden)
        self.bond = nn.Embedding(bond_types, hidden) if kind == "gine" else None
        mlp = lambda: nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),  # noqa: E731
                                    nn.Linear(hidden, hidden))
        conv = lib.GINEConv if kind == "gine" else lib.GINConv
        self.convs = nn.ModuleList(conv(mlp(), train_eps=True) for _ in range(layers))
        self.head = nn.Linear(hidden, 1)

    def forward(self, atoms, edge_index, bonds, batch, num_graphs):
        h = self.atom(atoms)
        e = self.bond(bonds) if self.bond is not None else None
        for conv in self.convs:
            h = F.relu(conv(h, edge_index, e) if e is not None else conv(h, edge_index))
        return self.head(pyg.global_add_pool(h, batch, num_graphs)).squeeze(-1)


# ----------------------------------------------------------------------------------------------------------- cases
def node_case(kind, n, e, f_in, hidden, classes, heads, device, seed, ceiling=False):
    gen = torch.Generator().manual_seed(seed)
    ei = random_graph(n, e, gen, device)
    x = torch.randn(n, f_in, generator=gen).to(device)
    y = torch.randint(0, classes, (n,), generator=gen).to(device)
    torch.manual_seed(seed)
    theirs = NodeNet(pyg, kind, f_in, hidden, classes, heads).to(device)
    ours = NodeNet(gr, kind, f_in, hidden, classes, heads).to(device)
    ours.load_state_dict(theirs.state_dict())

    def step_fn(model):
        return lambda _: F.cross_entropy(model(x, ei), y)

    impls = {"graphrep": (ours, step_fn(ours)), "pyg": (theirs, step_fn(theirs))}
    if ceiling:
        bare = NodeNet(NO_MP, kind, f_in, hidden, classes, heads).to(device)
        bare.load_state_dict(theirs.state_dict())
        impls["no_mp"] = (bare, step_fn(bare))
    return impls


def mol_case(kind, device, seed, batches: int = 8, ceiling=False):
    gen = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(batches):
        ei, batch, n = molecule_batch(gen, device)
        atoms = torch.randint(0, 16, (n,), generator=gen).to(device)
        bonds = torch.randint(0, 4, (ei.size(1),), generator=gen).to(device)
        y = torch.randn(int(batch.max()) + 1, generator=gen).to(device)
        data.append((atoms, ei, bonds, batch, y))
    torch.manual_seed(seed)
    theirs = MolNet(pyg, kind).to(device)
    ours = MolNet(gr, kind).to(device)
    ours.load_state_dict(theirs.state_dict())

    def step_fn(model):
        def step(i):
            atoms, ei, bonds, batch, y = data[i % len(data)]
            # a fresh edge tensor per step, as a DataLoader yields: graphrep builds its CSR once per batch
            return F.mse_loss(model(atoms, ei.clone(), bonds, batch, y.numel()), y)
        return step

    impls = {"graphrep": (ours, step_fn(ours)), "pyg": (theirs, step_fn(theirs))}
    if ceiling:
        bare = MolNet(NO_MP, kind).to(device)
        bare.load_state_dict(theirs.state_dict())
        impls["no_mp"] = (bare, step_fn(bare))
        if kind == "gine":
            edge_only = MolNet(SimpleNamespace(GINEConv=_EdgeGradientOnlyGINE), kind).to(device)
            edge_only.load_state_dict(theirs.state_dict())
            impls["edge_grad"] = (edge_only, step_fn(edge_only))
    return impls


def graphshaper_case(n, e, device, seed):
    gen = torch.Generator().manual_seed(seed)
    ei = random_graph(n, e, gen, device)
    x = F.normalize(torch.randn(n, 384, generator=gen), dim=-1).to(device)
    desc = torch.randn(n, 6, generator=gen).to(device)
    target = F.normalize(torch.randn(n, 384, generator=gen), dim=-1).to(device)
    models = {}
    for backend in ("graphrep", "pyg"):
        torch.manual_seed(seed)
        models[backend] = GraphShaper(384, 64, 64, variant="gated", backend=backend, zero_init=False).to(device)
    models["graphrep"].load_state_dict(models["pyg"].state_dict())
    graphs = {b: PropagationGraph.build(ei, n, b) for b in models}

    def step_fn(backend):
        model, graph = models[backend], graphs[backend]
        return lambda _: F.mse_loss(model(x, graph, desc).embedding, target)

    return {b: (models[b], step_fn(b)) for b in models}


def cases(args):
    d, s, c = args.device, args.seed, args.ceiling
    big_n, big_e = args.big_nodes, args.big_edges
    yield "GCN", "citation (2,708 nodes, 10,556 edges, 1,433 feat.)", lambda: node_case(
        "gcn", 2708, 10556, 1433, 64, 7, 8, d, s, c)
    yield "SAGE (mean)", "citation (2,708 nodes, 10,556 edges, 1,433 feat.)", lambda: node_case(
        "sage", 2708, 10556, 1433, 64, 7, 8, d, s, c)
    yield "GAT (8 heads)", "citation (2,708 nodes, 10,556 edges, 1,433 feat.)", lambda: node_case(
        "gat", 2708, 10556, 1433, 64, 7, 8, d, s, c)
    big = f"{big_n:,} nodes, {big_e:,} edges, 64 feat."
    yield "GCN", big, lambda: node_case("gcn", big_n, big_e, 64, 64, 7, 2, d, s, c)
    yield "SAGE (mean)", big, lambda: node_case("sage", big_n, big_e, 64, 64, 7, 2, d, s, c)
    yield "GAT (2 heads)", big, lambda: node_case("gat", big_n, big_e, 64, 64, 7, 2, d, s, c)
    yield "GIN (5 layers)", "molecule batches (128 graphs, ~3,200 atoms)", lambda: mol_case("gin", d, s, ceiling=c)
    yield "GINE (5 layers)", "molecule batches (128 graphs, ~3,200 atoms)", lambda: mol_case("gine", d, s, ceiling=c)
    yield "GraphShaper (gated, 3 experts)", "citation (2,708 nodes, 10,556 edges, 384-d text)", lambda: (
        graphshaper_case(2708, 10556, d, s))


# ---------------------------------------------------------------------------------------------------------- timing
def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def time_case(impls, args):
    """Per-step seconds of each implementation, steps alternating one by one.

    After ``--warmup`` steps each, the implementations take turns a single step at a time, the first of each pair
    alternating (g p p g g p ...), so that load from other jobs on a shared machine hits both alike; this goes on until
    each has ``--min-steps`` steps and ``--seconds`` have passed, or each has ``--max-steps``.
    """
    opts = {k: torch.optim.Adam(m.parameters(), lr=1e-3) for k, (m, _) in impls.items()}
    counters = {k: 0 for k in impls}

    def run(k, steps):
        model, step = impls[k]
        model.train()
        for _ in range(steps):
            opts[k].zero_grad(set_to_none=True)
            loss = step(counters[k])
            loss.backward()
            opts[k].step()
            counters[k] += 1
        _sync(args.device)

    keys = list(impls)
    for k in keys:
        run(k, args.warmup)
    times = {k: [] for k in keys}
    faults = {k: [] for k in keys}
    end = time.perf_counter() + args.seconds
    turn = 0
    while True:
        done = len(times[keys[0]])
        if done >= args.max_steps or (done >= args.min_steps and time.perf_counter() >= end):
            break
        for k in (keys if turn % 2 == 0 else keys[::-1]):
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            run(k, 1)
            times[k].append(time.perf_counter() - t0)
            faults[k].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        turn += 1
    return times, faults


def fmt(values):
    """``(median, mean, std, "median", "mean ± std")`` in ms, std the sample std (ddof=1)."""
    ms = [v * 1e3 for v in values]
    med, mean = statistics.median(ms), statistics.mean(ms)
    std = statistics.stdev(ms) if len(ms) > 1 else float("nan")
    num = (lambda v: f"{v:.1f}") if mean < 100 else (lambda v: f"{v:.0f}")
    return med, mean, std, num(med), f"{num(mean)} ± {num(std)}"


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1: a shared machine)")
    p.add_argument("--seconds", type=float, default=40.0, help="time each case at least this long")
    p.add_argument("--min-steps", type=int, default=10, help="timed steps per implementation, at least")
    p.add_argument("--max-steps", type=int, default=150, help="timed steps per implementation, at most")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--big-nodes", type=int, default=100_000)
    p.add_argument("--big-edges", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default=None,
                   help="comma list: run only cases whose model name (e.g. 'GIN', 'GAT (8 heads)') contains one")
    p.add_argument("--ceiling", action="store_true",
                   help="also time PyG's model without message passing (module docstring): the most any kernel gains")
    p.add_argument("--keep-freed-memory", action="store_true",
                   help="keep freed memory in the process for the whole run (glibc; module docstring)")
    p.add_argument("--out-name", default="model_speed")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t_start = time.time()
    run = freed_memory.keeping_freed_memory(run_cases) if args.keep_freed_memory else run_cases
    rows = run(args)
    meta = {"device": args.device, "threads": args.threads, "seconds_per_case": args.seconds,
            "min_steps": args.min_steps, "max_steps": args.max_steps, "warmup_steps": args.warmup, "seed": args.seed,
            "ceiling": args.ceiling,
            "keep_freed_memory": bool(args.keep_freed_memory and freed_memory.supported()),
            "torch": torch.__version__, "torch_geometric": __import__("torch_geometric").__version__,
            "wall_s": round(time.time() - t_start)}
    if str(args.device).startswith("cuda"):
        meta["gpu"] = torch.cuda.get_device_name()
    else:
        meta["cpu"] = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                            if ln.startswith("model name")), "cpu")
        meta["cpu_cores"] = os.cpu_count()
    write(rows, meta, args.out_name)


def run_cases(args) -> list[dict]:
    """Times every case ``--only`` selects; one row each."""
    rows = []
    for model, graph, build in cases(args):
        if args.only and not any(o.strip().lower() in model.lower() for o in args.only.split(",")):
            continue
        impls = build()
        load0 = _load()
        times, faults = time_case(impls, args)
        g_med, g_mean, g_std, g_txt, g_ms = fmt(times["graphrep"])
        p_med, p_mean, p_std, p_txt, p_ms = fmt(times["pyg"])
        rows.append({"model": model, "graph": graph, "steps": len(times["graphrep"]),
                     "graphrep_ms": [v * 1e3 for v in times["graphrep"]], "pyg_ms": [v * 1e3 for v in times["pyg"]],
                     "graphrep": g_txt, "pyg": p_txt, "graphrep_mean_std": g_ms, "pyg_mean_std": p_ms,
                     "speedup": p_med / g_med, "load_1min": [load0, _load()],
                     "graphrep_faults": statistics.median(faults["graphrep"]),
                     "pyg_faults": statistics.median(faults["pyg"])})
        if "no_mp" in times:
            n_med, _, _, n_txt, _ = fmt(times["no_mp"])
            rows[-1].update({"no_mp_ms": [v * 1e3 for v in times["no_mp"]], "no_mp": n_txt, "ceiling": p_med / n_med,
                             "no_mp_faults": statistics.median(faults["no_mp"])})
        if "edge_grad" in times:
            e_med, _, _, e_txt, _ = fmt(times["edge_grad"])
            rows[-1].update({"edge_grad_ms": [v * 1e3 for v in times["edge_grad"]], "edge_grad": e_txt,
                             "ceiling_edge_grad": p_med / e_med})
        print(f"{model:32s} {graph:52s} graphrep {g_txt:>7s} ({g_ms:>13s}) ms  PyG {p_txt:>7s} ({p_ms:>13s}) ms  "
              f"x{p_med / g_med:.2f}  {len(times['graphrep'])} steps, load {load0}-{_load()}", flush=True)
        del impls
    return rows


def write(rows, meta, name):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    if meta["device"] == "cpu":
        loads = [v for r in rows for v in r["load_1min"]]
        where = (f"{meta['cpu']} ({meta['cpu_cores']} cores), {meta['threads']} torch thread(s); 1-minute load "
                 f"average {min(loads)}-{max(loads)} during the cases ("
                 + ("no other job ran: the load is the benchmark's own" if max(loads) <= meta["threads"] + 0.5
                    else "other jobs shared the machine") + ")")
    else:
        where = meta.get("gpu", meta["device"])
    kept = (" The whole run kept freed memory in the process (`--keep-freed-memory`: glibc's mmap and trim "
            "thresholds out of reach, for both implementations)." if meta.get("keep_freed_memory") else "")
    faults = all("graphrep_faults" in r for r in rows)
    lines = [f"Training step (forward, backward, Adam) on {where}. Steps of the two implementations alternate one by "
             f"one; per-step ms over at least {meta['min_steps']} steps each (at least {meta['seconds_per_case']:.0f} s "
             f"per case, at most {meta['max_steps']} steps); speed-up = PyG median / graphrep median; std is the sample "
             "std" + ("; faults: minor page faults per step (median)" if faults else "") + "." + kept, "",
             "| model | graph | graphrep ms (median) | PyG ms (median) | speed-up (PyG / graphrep) | graphrep ms "
             "(mean ± std) | PyG ms (mean ± std) | steps |" + (" graphrep faults | PyG faults |" if faults else ""),
             "| --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if faults else "")]
    lines += [f"| {r['model']} | {r['graph']} | {r['graphrep']} | {r['pyg']} | {r['speedup']:.2f}x | "
              f"{r['graphrep_mean_std']} | {r['pyg_mean_std']} | {r['steps']} |"
              + (f" {r['graphrep_faults']:.0f} | {r['pyg_faults']:.0f} |" if faults else "") for r in rows]
    if any("ceiling" in r for r in rows):
        lines += ["", "The ceiling: PyG's model with no message passing at all (no propagate, no edge updates, GAT "
                  "without self-loops; the dense layers, loss and Adam kept), timed in the same alternation. PyG's "
                  "step over that step is the most that any message-passing implementation can gain in this model.",
                  "", "| model | graph | PyG ms (median) | PyG without message passing ms (median) | share of PyG's "
                  "step in message passing | ceiling (PyG / no message passing) | graphrep's speed-up |"
                  + (" faults: graphrep / PyG / no message passing |" if faults else ""),
                  "| --- | --- | --- | --- | --- | --- | --- |" + (" --- |" if faults else "")]
        lines += [f"| {r['model']} | {r['graph']} | {r['pyg']} | {r['no_mp']} | {1 - 1 / r['ceiling']:.0%} | "
                  f"{r['ceiling']:.2f}x | {r['speedup']:.2f}x |"
                  + (f" {r['graphrep_faults']:.0f} / {r['pyg_faults']:.0f} / {r['no_mp_faults']:.0f} |"
                     if faults else "")
                  for r in rows if "ceiling" in r]
        edge = [r for r in rows if "ceiling_edge_grad" in r]
        if edge:
            lines += ["", "GINE's layer must also hand back `edge_attr`'s `[E, F]` gradient, which autograd sums over "
                      "the layers and the bond embedding's backward reads; the model without message passing has "
                      "none. The same model with each layer returning a zero `[E, F]` gradient for `edge_attr` (and "
                      "nothing else) bounds what any GINE layer can gain:", "",
                      "| model | graph | PyG ms (median) | without message passing, edge_attr's gradient kept ms "
                      "(median) | ceiling keeping that gradient | graphrep's speed-up |",
                      "| --- | --- | --- | --- | --- | --- |"]
            lines += [f"| {r['model']} | {r['graph']} | {r['pyg']} | {r['edge_grad']} | "
                      f"{r['ceiling_edge_grad']:.2f}x | {r['speedup']:.2f}x |" for r in edge]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    plot(rows, meta, RESULTS / f"{name}.png")


def plot(rows: list[dict], meta: dict, path: Path) -> None:
    """Speed-up per model and graph, from the rows and meta of ``<name>.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    labels = [f"{r['model']}\n{r['graph'].split(' (')[0]}" for r in rows]
    ax.barh(range(len(rows)), [r["speedup"] for r in rows], color="tab:blue", label="median PyG step / median graphrep step")
    if any("ceiling" in r for r in rows):
        ax.scatter([r.get("ceiling", float("nan")) for r in rows], range(len(rows)), marker="|", s=300, color="tab:red",
                   zorder=3, label="ceiling: PyG step / PyG step without message passing")
    if any("ceiling_edge_grad" in r for r in rows):
        ax.scatter([r.get("ceiling_edge_grad", float("nan")) for r in rows], range(len(rows)), marker="|", s=300,
                   color="tab:orange", zorder=3, label="GINE's ceiling keeping edge_attr's gradient")
    ax.axvline(1.0, color="k", lw=0.8, label="parity (1x)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("training-step speed-up of graphrep's layers over PyG's (x, >1: graphrep faster)")
    ax.set_title(f"Training step, {meta['device']}, {meta['threads']} thread(s)" if meta["device"] == "cpu"
                 else f"Training step, {meta.get('gpu', meta['device'])}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
