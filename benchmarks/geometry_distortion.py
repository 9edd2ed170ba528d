"""Embed graphs in Euclidean, hyperbolic (Poincare, Lorentz), spherical and product spaces by minimising distance
distortion; report mean distortion and neighbourhood-reconstruction MAP per geometry.

Graphs: a balanced binary tree (depth 6, 127 nodes), a cycle (64 nodes), an 8 x 8 grid and the largest connected
component of Cora's citation graph (read from ``<data-root>/tag/cora/edges.csv.gz``, header ``src,dst``).
For every graph, dimension (2, 10) and geometry, node positions are :class:`geoopt.ManifoldParameter` on the manifold
(learnable curvature) trained with :class:`geoopt.optim.RiemannianAdam` in float32 on the loss of Gu et al. (2019),
``mean |(d_emb / d_G) ** 2 - 1|`` over node pairs (all pairs for the small graphs, a fresh sample of pairs each step
for Cora). Metrics (Gu et al. 2019; Nickel & Kiela 2017):

- D_avg: mean over pairs of ``|d_emb - d_G| / d_G`` (all pairs; Cora: a fixed sample of 200k pairs);
- MAP: for each node, average precision of its graph neighbours when all other nodes are ranked by embedding
  distance, averaged over nodes (Cora: over 1,000 sampled nodes, ranked against all nodes).

Writes benchmarks/results/geometry_distortion.{json,md,png} (the png: the 2-d Poincare embedding of the tree).
One seed, one learning rate for every geometry (0.2; no per-geometry tuning), 400 steps (Cora: 250 steps of 4,096
sampled pairs): a small budget so that the whole run takes minutes on 2 CPU cores; longer runs lower every number.
Usage: ``python benchmarks/geometry_distortion.py [--steps 400] [--data-root ../shared/data] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import geoopt
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402
from scipy.sparse.csgraph import connected_components, shortest_path  # noqa: E402

import geometries as G  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


# --- graphs ---------------------------------------------------------------------------------------------------------
def _from_nx(g: nx.Graph) -> sp.csr_matrix:
    g = nx.convert_node_labels_to_integers(g)
    return nx.to_scipy_sparse_array(g, format="csr", dtype=np.float32)


def load_cora_lcc(data_root: Path) -> sp.csr_matrix:
    path = data_root / "tag" / "cora" / "edges.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"Cora edges not found at {path}; pass --data-root pointing at shared/data")
    edges = pd.read_csv(path)
    if list(edges.columns[:2]) != ["src", "dst"]:
        raise ValueError(f"{path}: expected header src,dst, got {list(edges.columns)}")
    src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
    keep = src != dst
    n = int(max(src.max(), dst.max())) + 1
    a = sp.coo_matrix((np.ones(keep.sum(), np.float32), (src[keep], dst[keep])), shape=(n, n)).tocsr()
    a = ((a + a.T) > 0).astype(np.float32)
    _, comp = connected_components(a, directed=False)
    largest = np.bincount(comp).argmax()
    idx = np.flatnonzero(comp == largest)
    return a[idx][:, idx].tocsr()


def graphs(data_root: Path, quick: bool) -> dict[str, sp.csr_matrix]:
    out = {
        "tree": _from_nx(nx.balanced_tree(2, 4 if quick else 6)),
        "cycle": _from_nx(nx.cycle_graph(24 if quick else 64)),
        "grid": _from_nx(nx.grid_2d_graph(5 if quick else 8, 5 if quick else 8)),
    }
    out["cora"] = load_cora_lcc(data_root)
    return out


# --- geometries -----------------------------------------------------------------------------------------------------
def make_manifold(name: str, dim: int) -> G.Manifold:
    if name == "Euclidean":
        return G.Euclidean()
    if name == "Poincare":
        return G.PoincareBall(1.0, learnable=True)
    if name == "Lorentz":
        return G.Lorentz(1.0, learnable=True)
    if name == "Sphere":
        return G.Sphere(1.0, learnable=True)
    if name == "Poincare x Sphere":
        h = dim // 2
        return G.Product((G.PoincareBall(1.0, learnable=True), h), (G.Sphere(1.0, learnable=True), dim - h))
    raise ValueError(name)


GEOMETRIES = ["Euclidean", "Poincare", "Lorentz", "Sphere", "Poincare x Sphere"]


def curvatures(m: G.Manifold) -> list[float]:
    if isinstance(m, G.Product):
        return [round(float(f.curvature), 4) for f in m.factors]
    return [round(float(m.curvature), 4)]


# --- metrics --------------------------------------------------------------------------------------------------------
def mean_average_precision(adj: sp.csr_matrix, emb_dist_rows, nodes: np.ndarray) -> float:
    """emb_dist_rows(nodes_chunk) -> (len(chunk), N) embedding distances."""
    aps = []
    for start in range(0, len(nodes), 256):
        chunk = nodes[start : start + 256]
        d = emb_dist_rows(chunk)
        for r, v in enumerate(chunk):
            neigh = adj.indices[adj.indptr[v] : adj.indptr[v + 1]]
            if len(neigh) == 0:
                continue
            row = d[r].copy()
            row[v] = np.inf
            # rank of each neighbour = 1 + number of nodes strictly closer; precision at that rank
            nd = np.sort(row[neigh])
            ranks = np.searchsorted(np.sort(row), nd, side="right")
            aps.append(np.mean(np.arange(1, len(neigh) + 1) / ranks))
    return float(np.mean(aps))


# --- training -------------------------------------------------------------------------------------------------------
def embed(adj, dist_g, manifold, dim, steps, seed, pair_batch, lr):
    torch.manual_seed(seed)
    n = adj.shape[0]
    dg = torch.from_numpy(dist_g)
    init = manifold.random(n, manifold.point_dim(dim), std=1e-2)
    x = geoopt.ManifoldParameter(init.detach(), manifold=manifold)
    opt = geoopt.optim.RiemannianAdam([x, *manifold.parameters()], lr=lr, stabilize=10)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr / 10)
    if pair_batch is None:
        iu = torch.triu_indices(n, n, 1)
    for _ in range(steps):
        if pair_batch is not None:
            i, j = torch.randint(0, n, (2, pair_batch))
            keep = i != j
            iu = torch.stack([i[keep], j[keep]])
        d_true = dg[iu[0], iu[1]]
        d_emb = manifold.dist(x[iu[0]], x[iu[1]])
        loss = ((d_emb / d_true).pow(2) - 1).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss for {manifold}")
    return x.detach(), float(loss)


def evaluate(adj, dist_g, manifold, x, rng):
    n = adj.shape[0]
    dg = torch.from_numpy(dist_g)
    with torch.no_grad():
        if n <= 600:
            iu = torch.triu_indices(n, n, 1)
            i, j = iu[0], iu[1]
            nodes = np.arange(n)
        else:
            i = torch.from_numpy(rng.integers(0, n, 200_000))
            j = torch.from_numpy(rng.integers(0, n, 200_000))
            keep = i != j
            i, j = i[keep], j[keep]
            nodes = rng.choice(n, 1000, replace=False)
        d_emb = manifold.dist(x[i], x[j])
        d_true = dg[i, j]
        davg = float(((d_emb - d_true).abs() / d_true).mean())

        def rows(chunk):
            c = torch.from_numpy(chunk)
            return manifold.dist(x[c].unsqueeze(1), x.unsqueeze(0)).numpy()

        mean_ap = mean_average_precision(adj, rows, nodes)
    return davg, mean_ap


def tree_plot_data(adj, x, manifold) -> dict:
    """What :func:`plot_tree` draws, JSON-ready: the tree's edges (``[E, 2]``, each once), the nodes' Poincare-disk
    coordinates (``[N, 2]``) and the disk's curvature magnitude ``c``."""
    p = x.numpy() if not isinstance(manifold, G.Lorentz) else manifold.to_poincare(x).numpy()
    coo = sp.triu(adj).tocoo()
    return dict(edges=np.stack([coo.row, coo.col], 1).tolist(), points=p.tolist(), c=float(manifold.c))


def plot_tree(tree: dict, path):
    """The embedded tree (:func:`tree_plot_data`) in its Poincare disk."""
    p, c = np.asarray(tree["points"]), tree["c"]
    radius = 1 / math.sqrt(c)
    fig, ax = plt.subplots(figsize=(6, 6.8))
    ax.add_patch(plt.Circle((0, 0), radius, fill=False, color="black", lw=1, label="disk boundary (infinitely far)"))
    for i, (a, b) in enumerate(tree["edges"]):
        ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], color="tab:blue", lw=0.6,
                label="tree edge (drawn straight, not as a geodesic)" if i == 0 else None)
    ax.scatter(p[:, 0], p[:, 1], s=6, color="tab:red", zorder=3, label="tree node")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=7, frameon=False)
    ax.set_xlim(-1.05 * radius, 1.05 * radius)
    ax.set_ylim(-1.05 * radius, 1.05 * radius)
    ax.set_aspect("equal")
    ax.set_xlabel("disk coordinate 1 (the ball's own units, radius 1/sqrt(c))")
    ax.set_ylabel("disk coordinate 2")
    ax.set_title(f"Balanced binary tree ({len(p)} nodes) in the Poincare disk, c = {c:.3g}")
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--cora-steps", type=int, default=250)
    ap.add_argument("--cora-pairs", type=int, default=4096, help="node pairs sampled per Cora step")
    ap.add_argument("--lr", type=float, default=0.2, help="RiemannianAdam learning rate (cosine decay to lr/10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 10])
    ap.add_argument("--data-root", type=Path, default=Path(os.environ.get("GRAPHREP_DATA", ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true", help="tiny graphs and few steps (smoke run)")
    args = ap.parse_args()
    if args.quick:
        args.steps, args.cora_steps = 50, 20
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    args.out.mkdir(parents=True, exist_ok=True)

    rows, tree_plot = [], None
    t_all = time.time()
    for gname, adj in graphs(args.data_root, args.quick).items():
        dist_g = shortest_path(adj, directed=False, unweighted=True).astype(np.float32)
        big = adj.shape[0] > 600
        for dim in args.dims:
            for geo in GEOMETRIES:
                m = make_manifold(geo, dim)
                t0 = time.time()
                x, loss = embed(
                    adj, dist_g, m, dim, args.cora_steps if big else args.steps, args.seed,
                    args.cora_pairs if big else None, args.lr,
                )
                davg, mean_ap = evaluate(adj, dist_g, m, x, np.random.default_rng(args.seed))
                row = dict(graph=gname, nodes=adj.shape[0], edges=int(adj.nnz // 2), dim=dim, geometry=geo,
                           curvature=curvatures(m), final_loss=round(loss, 5), distortion=round(davg, 4),
                           map=round(mean_ap, 4), seconds=round(time.time() - t0, 1))
                rows.append(row)
                print(json.dumps(row), flush=True)
                if gname == "tree" and dim == 2 and geo == "Poincare":
                    tree_plot = tree_plot_data(adj, x, m)

    plot_tree(tree_plot, args.out / "geometry_distortion.png")
    meta = dict(
        script="benchmarks/geometry_distortion.py", args={k: str(v) for k, v in vars(args).items()},
        dtype="float32", optimizer=f"geoopt RiemannianAdam lr {args.lr} -> {args.lr / 10:g} cosine, learnable curvature",
        loss="mean |(d_emb/d_G)^2 - 1|", seed=args.seed, torch=torch.__version__, geoopt=geoopt.__version__,
        machine=f"{platform.machine()} {platform.processor()} threads={torch.get_num_threads()}",
        total_seconds=round(time.time() - t_all, 1),
    )
    (args.out / "geometry_distortion.json").write_text(json.dumps(dict(meta=meta, results=rows, tree_plot=tree_plot), indent=1))
    (args.out / "geometry_distortion.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


def markdown(rows, meta) -> str:
    graphs_ = list(dict.fromkeys(r["graph"] for r in rows))
    dims = sorted({r["dim"] for r in rows})
    lines = [
        "# Geometry distortion",
        "",
        f"`{meta['script']}` (float32, {meta['optimizer']}, loss {meta['loss']}, seed {meta['seed']}, "
        f"{meta['total_seconds']} s on {meta['machine']}).",
        "D_avg = mean |d_emb - d_G| / d_G over node pairs (lower is better); MAP = mean average precision of graph "
        "neighbours ranked by embedding distance (higher is better). Best per column in bold.",
        "",
    ]
    header = "| geometry | " + " | ".join(f"{g} d={d} D_avg / MAP" for g in graphs_ for d in dims) + " |"
    lines += [header, "|" + "---|" * (1 + len(graphs_) * len(dims))]
    best = {}
    for g in graphs_:
        for d in dims:
            sel = [r for r in rows if r["graph"] == g and r["dim"] == d]
            best[g, d] = (min(r["distortion"] for r in sel), max(r["map"] for r in sel))
    for geo in dict.fromkeys(r["geometry"] for r in rows):
        cells = []
        for g in graphs_:
            for d in dims:
                r = next(r for r in rows if r["graph"] == g and r["dim"] == d and r["geometry"] == geo)
                dv = f"**{r['distortion']:.3f}**" if r["distortion"] == best[g, d][0] else f"{r['distortion']:.3f}"
                mv = f"**{r['map']:.3f}**" if r["map"] == best[g, d][1] else f"{r['map']:.3f}"
                cells.append(f"{dv} / {mv}")
        lines.append(f"| {geo} | " + " | ".join(cells) + " |")
    sizes = ", ".join(f"{r['graph']} {r['nodes']} nodes / {r['edges']} edges" for r in rows if r["dim"] == dims[0]
                      and r["geometry"] == "Euclidean")
    lines += ["", f"Graphs: {sizes} (Cora: largest connected component; D_avg on 200k sampled pairs, MAP on "
              "1,000 sampled nodes; training samples pairs each step).", "",
              "Learned curvatures (sectional; Product: per factor):", ""]
    for r in rows:
        lines.append(f"- {r['graph']} d={r['dim']} {r['geometry']}: {r['curvature']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
