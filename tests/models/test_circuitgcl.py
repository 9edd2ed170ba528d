"""CircuitGCL: which parameters each loss trains, the EMA target, permutation equivariance, symmetric pair heads."""

import pytest
import torch

from graphrep.models import CircuitEncoder, CircuitGCL, CircuitHead
from graphrep.models.circuitgcl import pair_features
from graphrep.ops import CSR


def _graph(n=12, f=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (30,), generator=g)
    dst = torch.randint(0, n, (30,), generator=g)
    ei = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1)
    return torch.randn(n, f, generator=g), ei


def test_pretrain_loss_trains_online_predictor_and_target_and_ema_is_exact():
    torch.manual_seed(0)
    x, ei = _graph()
    csr = CSR.from_edge_index(ei, (12, 12))
    model = CircuitGCL(5, hidden=8, layers=2, momentum=0.9)
    loss, parts = model.pretrain_loss(x, csr)
    loss.backward()
    assert torch.isfinite(loss) and set(parts) == {"align", "scatter"}
    assert all(p.grad is not None for p in model.online.parameters())
    assert all(p.grad is not None for p in model.predictor.parameters())
    assert model.target.inp.weight.grad is not None  # the scattering loss trains the target encoder
    # alignment alone does not reach the target (its embeddings are detached)
    model.zero_grad()
    model.scatter_weight = 0.0
    model.pretrain_loss(x, csr)[0].backward()
    assert model.target.inp.weight.grad is None or model.target.inp.weight.grad.abs().sum() == 0
    with torch.no_grad():
        for p in model.online.parameters():
            p.add_(1.0)
    before_t = [p.clone() for p in model.target.parameters()]
    online = [p.clone() for p in model.online.parameters()]
    model.update_target()
    for t0, o, t1 in zip(before_t, online, model.target.parameters()):
        assert torch.allclose(t1, 0.9 * t0 + 0.1 * o)
    with pytest.raises(ValueError, match="momentum"):
        CircuitGCL(5, momentum=1.0)


def test_encoder_is_permutation_equivariant():
    torch.manual_seed(0)
    x, ei = _graph()
    enc = CircuitEncoder(5, hidden=8, layers=3)
    perm = torch.randperm(12)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(12)
    out = enc(x, CSR.from_edge_index(ei, (12, 12)))
    out_p = enc(x[perm], CSR.from_edge_index(inv[ei], (12, 12)))
    assert torch.allclose(out_p, out[perm], atol=1e-5)


def test_pair_head_is_symmetric_and_net_head_shapes():
    torch.manual_seed(0)
    x, ei = _graph()
    csr = CSR.from_edge_index(ei, (12, 12))
    nets, net_x = torch.tensor([8, 9, 10, 11]), torch.randn(4, 3)
    pair = CircuitHead(CircuitEncoder(5, 8, 2), net_dim=3, kind="pair")
    pairs = torch.tensor([[0, 1, 2], [3, 2, 1]])
    assert torch.allclose(pair(x, csr, nets, net_x, pairs), pair(x, csr, nets, net_x, pairs.flip(0)))
    h = torch.randn(4, 2)
    assert torch.equal(pair_features(h, pairs)[:, 2:4], (h[pairs[0]] - h[pairs[1]]).abs())
    head = CircuitHead(CircuitEncoder(5, 8, 2), net_dim=3, kind="net", out_dim=5)
    assert head(x, csr, nets, net_x).shape == (4, 5)
    with pytest.raises(ValueError, match="needs pairs"):
        pair(x, csr, nets, net_x)
