"""Correctness of graphrep.ops on one device without pytest: float64 reference comparisons (values and gradients),
fp16/bf16, bitwise determinism, a hub with 10^6 in-edges, segment and edge_softmax. Prints one line per check and
exits non-zero if any fails.

    PYTHONPATH=$PWD python benchmarks/gpu_smoke.py --device cuda
"""

from __future__ import annotations

import argparse
import sys
import traceback

import torch

from graphrep.ops import CSR, aggregate, edge_softmax, segment
from graphrep.ops.reference import aggregate_reference, edge_softmax_reference, random_graph, segment_reference


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--hub", type=int, default=1_000_000, help="in-edges of the giant hub")
    args = p.parse_args()
    dev = args.device
    failures = 0

    def check(name, fn):
        nonlocal failures
        try:
            fn()
            print(f"ok    {name}", flush=True)
        except Exception as err:  # report and go on: the run should show every failing check
            failures += 1
            print(f"FAIL  {name}: {type(err).__name__}: {str(err).splitlines()[0][:300]}", flush=True)
            traceback.print_exc(limit=3, file=sys.stderr)

    ei = random_graph(n=3000, e=60000, hub=20000, seed=1, device=dev)
    csr = CSR.from_edge_index(ei, 3000)
    gen = torch.Generator().manual_seed(0)
    x64 = torch.randn(3000, 37, generator=gen, dtype=torch.float64).to(dev)
    w64 = (torch.rand(60000, generator=gen, dtype=torch.float64) + 0.5).to(dev)
    g64 = torch.randn(3000, 37, generator=gen, dtype=torch.float64).to(dev)

    def compare(reduce, dtype, weighted):
        x = x64.clone().to(dtype).requires_grad_()
        w = w64.clone().to(dtype).requires_grad_() if weighted else None
        out = aggregate(x, csr, reduce, w)
        ref = aggregate_reference(x, ei, 3000, reduce, w)
        ins = [x] + ([w] if weighted else [])
        got = torch.autograd.grad(out, ins, g64.to(dtype))
        exp = torch.autograd.grad(ref, ins, g64)
        tol = {torch.float64: 1e-10, torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 8e-2}[dtype]
        for a, b in [(out, ref)] + list(zip(got, exp)):
            torch.testing.assert_close(a.double(), b.double(), rtol=tol, atol=tol * max(1.0, b.abs().max().item()))

    def determinism(reduce):
        runs = []
        for _ in range(2):
            x, w = x64.float().clone().requires_grad_(), w64.float().clone().requires_grad_()
            out = aggregate(x, csr, reduce, w)
            out.backward(g64.float())
            runs.append((out, x.grad, w.grad))
        assert all(torch.equal(a, b) for a, b in zip(*runs)), "outputs or gradients differ between two runs"

    for reduce in ("sum", "mean", "max", "min"):
        check(f"bitwise determinism {reduce}", lambda: determinism(reduce))

    def giant_hub():
        n = 20000
        big = random_graph(n=n, e=args.hub + 200000, hub=args.hub, seed=7, device=dev)
        c = CSR.from_edge_index(big, n)
        x = torch.randn(n, 64, dtype=torch.float64, device=dev, requires_grad=True)
        for reduce in ("sum", "max"):
            out = aggregate(x, c, reduce)
            ref = aggregate_reference(x, big, n, reduce)
            torch.testing.assert_close(out, ref)
            g = torch.randn_like(out)
            torch.testing.assert_close(torch.autograd.grad(out, x, g)[0], torch.autograd.grad(ref, x, g)[0])

    check(f"hub with {args.hub} in-edges (sum, max; values and grads)", giant_hub)

    def seg_softmax():
        ptr = torch.tensor([0, 3, 3, 1000, 3000], device=dev)
        torch.testing.assert_close(segment(x64, ptr, "max"), segment_reference(x64.cpu(), ptr.cpu(), "max").to(dev))
        s = torch.randn(60000, 2, dtype=torch.float64, device=dev, requires_grad=True)
        a, r = edge_softmax(s, csr), edge_softmax_reference(s, ei, 3000)
        torch.testing.assert_close(a, r)
        g = torch.randn_like(a)
        torch.testing.assert_close(torch.autograd.grad(a, s, g)[0], torch.autograd.grad(r, s, g)[0])

    check("segment and edge_softmax", seg_softmax)
    for reduce in ("sum", "mean", "max", "min"):
        for dtype in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            for weighted in (False, True) if dtype in (torch.float32, torch.float64) else (True,):
                check(f"aggregate {reduce} {dtype} weighted={weighted}", lambda: compare(reduce, dtype, weighted))

    print(f"{failures} failing check(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
