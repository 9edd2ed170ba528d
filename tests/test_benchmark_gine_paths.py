"""The GINE-paths benchmark times the path it names (and leaves the op's policy as it was), and its page names every
row where the policy picks the slower path."""

import graphrep.ops._edge_relu_loops as loops
import graphrep.ops.edge_relu as edge_relu
from _scripts import load_script

bench = load_script("benchmarks/gine_paths.py", "bench_gine_paths")


def test_each_call_runs_the_path_it_names_and_restores_the_policy(monkeypatch):
    ran = []
    for name, node in (("loops", edge_relu._ReluEdgeSumLoops), ("torch_ops", edge_relu._ReluEdgeSum)):
        real = node.apply
        monkeypatch.setattr(node, "apply", lambda *a, real=real, name=name: ran.append(name) or real(*a))
    policy = loops.use_loops
    n, *args = bench._inputs(200, 8, "molecules")
    for path in ("torch_ops", "loops", "torch_ops"):
        assert bench._call(path, n, *args) > 0
    assert ran == ["torch_ops", "loops", "torch_ops"] and loops.use_loops is policy


def test_molecule_graphs_keep_every_edge_inside_one_molecule():
    n, edge_index, *_ = bench._inputs(5000, 4, "molecules")
    assert edge_index.max() < n
    assert (edge_index[0] // bench.MOLECULE == edge_index[1] // bench.MOLECULE).all()
    assert (edge_index[0].diff() >= -bench.MOLECULE).all()  # listed molecule by molecule


def test_the_page_names_the_rows_where_the_policy_is_slower():
    row = dict(graph="uniform", E=1000, N=500, F=64, calls=3)
    rows = [dict(row, threads=1, loops_ms=1.0, torch_ops_ms=2.0, speedup=2.0, policy="loops", faster="loops"),
            dict(row, threads=2, loops_ms=1.0, torch_ops_ms=1.5, speedup=1.5, policy="torch_ops", faster="loops")]
    md = bench.to_markdown({"machine": "m", "command": "c", "rows": rows})
    assert md.rstrip().endswith("uniform, 2 thread(s), E = 1,000 (1.50x)")
    assert "| uniform | 1 | 1,000 | 64 | 1.000 | 2.000 | 2.00x | loops | loops | 3 |" in md
