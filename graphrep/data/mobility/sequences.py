r"""Windows over each user's chronological check-ins, with the spatial priors and the user's history that a
next-location model reads.

A user's check-ins form one stream; window inputs are consecutive check-ins, and position :math:`p` (item :math:`i`)
predicts item :math:`i+1`. Targets of a split are scored once each: they are grouped into chunks of ``chunk``
consecutive targets, and a chunk ending at item :math:`b` gets the window of inputs ``[max(u_0, b-1-L), b-1)``, so every
target sees up to ``L - chunk`` earlier check-ins of the same user as context (all of them when the user has fewer).

Spatial priors of item :math:`i` (within its trajectory, i.e. since the last gap longer than the cut):

- :math:`\log(1 + d_i)`, :math:`d_i` the km from the previous venue of the trajectory (0 at its start);
- :math:`\log(1 + r_i)`, radius of gyration :math:`r_i = \sqrt{\overline{|x|^2} - |\bar x|^2}` of the trajectory's
  venues so far (km);
- :math:`H_i = \log n - \frac1n \sum_v c_v \log c_v`, entropy of the venues visited so far (:math:`c_v` visits, :math:`n`
  check-ins);
- :math:`\log(1 + \Delta t_i)`, hours since the user's previous check-in (0 for the first).

History features of candidate :math:`v` for a prediction made at time :math:`t` (:func:`history_features`), from every
earlier check-in of the same user (training rows and already-observed rows of the evaluated split):
:math:`\log(1 + c_v)`, :math:`c_v / n`, :math:`[v = \text{current venue}]`, :math:`e^{-(t - t_v)/1\,\mathrm{day}}`,
:math:`e^{-(t - t_v)/1\,\mathrm{week}}` (:math:`t_v` the last visit; 0 when never visited).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InvalidInputError
from ..gc_pause import without_cycle_collection
from .checkins import CheckIns

__all__ = ["Windows", "spatial_priors", "build_windows", "history_features", "scored_history", "time_slot",
           "slot_counts", "NUM_PRIORS", "NUM_HISTORY_FEATURES", "SLOTS"]

NUM_PRIORS = 4
NUM_HISTORY_FEATURES = 6
#: time slots: weekday or weekend x hour of day (:func:`time_slot`)
SLOTS = 48
_NEVER = -1e12  # "last visit time" of a venue never visited (minutes)


def spatial_priors(checkins: CheckIns, xy_km: np.ndarray, trajectory: np.ndarray) -> np.ndarray:
    """Priors of every check-in (module docstring). Shapes: ``xy_km [V, 2]``, ``trajectory [N]`` -> ``[N, 4]`` float32.

    Each column is written into the output as soon as it is known, and running sums are restarted in place, so that
    few ``[N]`` temporaries are alive at once.
    """
    v, t, user = checkins.venue, checkins.time, checkins.user
    n = len(v)
    out = np.empty((n, NUM_PRIORS), dtype=np.float32)
    xy = np.asarray(xy_km, dtype=np.float64)[v]
    new_traj = np.r_[True, trajectory[1:] != trajectory[:-1]]
    step = np.r_[0.0, np.linalg.norm(np.diff(xy, axis=0), axis=1)]
    step[new_traj] = 0.0
    out[:, 0] = np.log1p(step)
    del step
    gap = np.r_[0.0, np.diff(t) / 60.0]
    gap[np.r_[True, user[1:] != user[:-1]]] = 0.0
    out[:, 3] = np.log1p(gap)
    del gap
    # cumulative sums restarted at each trajectory
    starts = np.flatnonzero(new_traj)
    seg = np.cumsum(new_traj) - 1

    def seg_cumsum(a):
        c = np.cumsum(a, axis=0)
        c -= np.concatenate([np.zeros((1,) + a.shape[1:]), c[starts[1:] - 1]], axis=0)[seg]
        return c

    count = seg_cumsum(np.ones(n))
    mean = seg_cumsum(xy)
    mean /= count[:, None]
    rg = seg_cumsum((xy ** 2).sum(1))
    del xy
    rg /= count
    rg -= (mean ** 2).sum(1)
    del mean
    np.maximum(rg, 0.0, out=rg)
    np.sqrt(rg, out=rg)
    out[:, 1] = np.log1p(rg)
    del rg
    # c: earlier visits of row i's venue within its trajectory (rank of i among equal (trajectory, venue) rows)
    order = np.lexsort((np.arange(n), v, trajectory))
    run = np.r_[True, (trajectory[order][1:] != trajectory[order][:-1]) | (v[order][1:] != v[order][:-1])]
    run_start = np.maximum.accumulate(np.where(run, np.arange(n), 0))
    c = np.empty(n)
    c[order] = np.arange(n) - run_start
    del order, run, run_start
    # s_i = sum over the trajectory so far of c log c, grown by (c+1) log(c+1) - c log c at each visit (0 log 0 = 0)
    clogc = np.where(c > 0, c * np.log(np.maximum(c, 1.0)), 0.0)
    s = seg_cumsum((c + 1) * np.log(c + 1) - clogc)
    del c, clogc
    s /= count
    out[:, 2] = np.log(count) - s
    return out


@dataclass
class Windows:
    """Padded windows of one split, ready to batch by indexing.

    Shapes (``W`` windows, ``L`` inputs, ``V`` venues): inputs, targets ``[W, L]`` int64 (``targets = -1`` where not
    scored; inputs padded with 0 where ``mask`` is False); times ``[W, L]`` int64 minutes; priors ``[W, L, 4]``;
    mask ``[W, L]`` bool; user ``[W]`` int64. The user's history is kept per window over its ``K_w`` candidates (the
    distinct venues the user visited up to the window's last input; ragged, padded per batch by :meth:`batch`):
    ``candidates[w]`` ``[K_w]`` venue indices, ``local[w]`` ``[L]`` each input's position in ``candidates[w]``,
    ``base_counts[w]``/``base_last[w]`` ``[K_w]`` visits before the window and the minute of the last one,
    ``trans[w]`` ``[L, K_w]`` the user's earlier transitions from the venue at each position to each candidate.
    ``target_rows`` ``[W, L]`` int64: the check-in row (index into the :class:`CheckIns` arrays) of each target, -1
    where none; row-major order over the scored positions is the order in which models and baselines emit ranks.
    ``target_times`` ``[W, L]`` int64: the minute of each target check-in (0 where none), the time a prediction is
    asked for; ``base_slots[w]`` ``[K_w, SLOTS]`` the visits before the window per time slot (:func:`time_slot`).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    times: torch.Tensor
    priors: torch.Tensor
    mask: torch.Tensor
    user: torch.Tensor
    local: torch.Tensor
    candidates: list[torch.Tensor]
    base_counts: list[torch.Tensor]
    base_last: list[torch.Tensor]
    trans: list[torch.Tensor]
    target_rows: torch.Tensor | None = None
    target_times: torch.Tensor | None = None
    base_slots: list[torch.Tensor] | None = None

    def __len__(self) -> int:
        return self.inputs.size(0)

    @property
    def num_targets(self) -> int:
        return int((self.targets >= 0).sum())

    def restrict(self, keep) -> "Windows":
        """The same windows scoring only the targets whose check-in row is in ``keep`` (``[N]`` bool over the
        :class:`CheckIns` rows; other targets become -1, i.e. context only); windows left without a target are dropped.
        """
        if self.target_rows is None:
            raise ValueError("these windows were built without target_rows")
        keep = torch.as_tensor(np.asarray(keep, dtype=bool))
        rows = self.target_rows
        selected = (rows >= 0) & keep[rows.clamp_min(0)]
        w = selected.any(1).nonzero().flatten()
        idx = w.tolist()
        return Windows(self.inputs[w], torch.where(selected, self.targets, -1)[w], self.times[w], self.priors[w],
                       self.mask[w], self.user[w], self.local[w], [self.candidates[i] for i in idx],
                       [self.base_counts[i] for i in idx], [self.base_last[i] for i in idx],
                       [self.trans[i] for i in idx], torch.where(selected, rows, -1)[w],
                       None if self.target_times is None else self.target_times[w],
                       None if self.base_slots is None else [self.base_slots[i] for i in idx])

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Windows ``index`` as tensors; candidates padded to the batch's largest ``K`` (pads: venue 0, never visited,
        so their history features are 0)."""
        out = {k: getattr(self, k)[index] for k in ("inputs", "targets", "times", "priors", "mask", "user", "local")}
        idx = index.tolist()
        k = max([len(self.candidates[i]) for i in idx] + [1])

        def pad(items, value, dtype):
            t = torch.full((len(idx), k), value, dtype=dtype)
            for row, i in enumerate(idx):
                t[row, :len(items[i])] = items[i]
            return t

        out["candidates"] = pad(self.candidates, 0, torch.int64)
        out["base_counts"] = pad(self.base_counts, 0.0, torch.float32)
        out["base_last"] = pad(self.base_last, _NEVER, torch.float32)
        trans = torch.zeros(len(idx), self.inputs.size(1), k)
        for row, i in enumerate(idx):
            trans[row, :, :self.trans[i].size(1)] = self.trans[i]
        out["trans"] = trans
        if self.target_times is not None:
            out["target_times"] = self.target_times[index]
        if self.base_slots is not None:
            slots = torch.zeros(len(idx), k, SLOTS)
            for row, i in enumerate(idx):
                slots[row, :len(self.base_slots[i])] = self.base_slots[i]
            out["base_slots"] = slots
        return out


@without_cycle_collection  # its ragged per-window lists are ~5 tensor views a window, no cycles
def build_windows(checkins: CheckIns, split: np.ndarray, part: int, priors: np.ndarray, length: int = 64,
                  chunk: int | None = None, users: np.ndarray | None = None) -> Windows:
    """Windows whose targets are the check-ins of split ``part`` (0 train, 1 valid, 2 test), each scored once.

    Args:
        length: ``L``, inputs per window. chunk: targets per window (default ``L`` for training, where context may be
            short; pass ``L // 2`` for evaluation so every target sees at least ``L/2`` earlier check-ins).
        users: if given, only these users' targets (e.g. a fraction of the training users).

    Cost: array operations only (no loop over check-ins or positions), over the windows' inputs, their users' check-ins
    before each window (the per-window history), and the output; the ragged per-window tensors are views of one
    buffer each.
    """
    chunk = length if chunk is None else chunk
    if not 1 <= chunk <= length:
        raise InvalidInputError(f"need 1 <= chunk <= length, got chunk={chunk}, length={length}")
    user, venue, time = (np.asarray(a, dtype=np.int64) for a in (checkins.user, checkins.venue, checkins.time))
    num_rows = len(user)
    successors = _successors(user, venue)  # first, while few other arrays are alive (its sorting peaks)
    new_user = np.r_[True, user[1:] != user[:-1]][:num_rows]
    starts = np.flatnonzero(new_user)
    seg = np.cumsum(new_user) - 1  # the row's user segment
    # spans: per user with targets, chunks of `chunk` targets from its first target to its last (targets of a split
    # are contiguous per user: chronological split); a user's first row is never a target
    is_target = np.asarray(split) == part
    is_target[starts] = False
    if users is not None:
        is_target &= np.isin(user, np.asarray(users))
    trow = np.flatnonzero(is_target)
    tseg = seg[trow]
    t_first = trow[np.r_[True, tseg[1:] != tseg[:-1]][:len(trow)]]
    t_last = trow[np.r_[tseg[1:] != tseg[:-1], True][:len(trow)]]
    del is_target, trow, tseg
    nchunks = (t_last - t_first) // chunk + 1
    wu, k = _expand(nchunks)  # window -> index into t_first, chunk number
    a = t_first[wu] + k * chunk
    b = np.minimum(a + chunk, t_last[wu] + 1)
    u0 = starts[seg[a]]
    e = b - 1
    s = np.maximum(u0, e - length)
    w = len(a)
    # dense [W, L] fields
    pos = np.arange(length)
    n = e - s
    valid = pos < n[:, None]
    row = np.where(valid, s[:, None] + pos, 0)
    scored = valid & (pos >= (a - 1 - s)[:, None])  # position a-1-s predicts item a
    nxt = np.where(scored, row + 1, 0)
    inputs = np.where(valid, venue[row], 0)
    times = np.where(valid, time[row], 0)
    pri = np.zeros((w, length, priors.shape[1]), dtype=np.float32)
    pri[valid] = priors[row[valid]]
    targets = np.where(scored, venue[nxt], -1)
    rows = np.where(scored, nxt, -1)
    ttimes = np.where(scored, time[nxt], 0)
    wuser = user[u0]
    del row, scored, nxt
    # candidates: the user's distinct venues first visited before the window's end, in venue order
    occ = np.lexsort((venue, seg))  # rows by (user, venue, row)
    uv_new = np.r_[True, (seg[occ][1:] != seg[occ][:-1]) | (venue[occ][1:] != venue[occ][:-1])]
    uv_first_row = occ[uv_new]  # per distinct (user, venue), ordered by user then venue
    uv_seg, uv_venue = seg[uv_first_row], venue[uv_first_row]
    wseg = seg[u0]
    lo = np.searchsorted(uv_seg, wseg, side="left")
    cw, off = _expand(np.searchsorted(uv_seg, wseg, side="right") - lo)
    cuv = lo[cw] + off
    keep = uv_first_row[cuv] < e[cw]
    cand_w, cand_venue = cw[keep], uv_venue[cuv[keep]]
    del occ, uv_new, uv_first_row, uv_seg, uv_venue, cw, off, cuv, keep, seg
    size = np.bincount(cand_w, minlength=w)
    cand_off = np.r_[0, np.cumsum(size)]
    nv = int(venue.max()) + 1 if num_rows else 1
    cand_key = cand_w * nv + cand_venue  # sorted: by window, then venue

    def lookup(win, v):  # index into the flat candidates of venue v in window win (v is one of its candidates)
        return np.searchsorted(cand_key, win * nv + v)

    local = np.where(valid, lookup(np.arange(w)[:, None], inputs) - cand_off[:-1, None], 0)
    # history before each window (rows u0 .. s-1), in chunks of windows so that temporaries stay small
    total = len(cand_w)
    counts = np.zeros(total, dtype=np.int64)
    last = np.full(total, _NEVER)
    slots = np.zeros(total * SLOTS, dtype=np.float32)
    for w0, w1 in _chunks(s - u0, _CHUNK):
        bw, off = _expand(s[w0:w1] - u0[w0:w1])
        bw += w0
        brow = u0[bw] + off
        bidx = lookup(bw, venue[brow])
        counts += np.bincount(bidx, minlength=total)
        np.maximum.at(last, bidx, time[brow].astype(np.float64))
        np.add.at(slots, bidx * SLOTS + time_slot(time[brow]), 1.0)
    # transitions: trans[w][p, k] = the user's moves venue[r] -> candidate k among rows <= r = s + p
    trans = np.zeros(int((length * size).sum()), dtype=np.float32)
    trans_off = np.r_[0, np.cumsum(length * size)]
    flat = np.flatnonzero(valid)
    for lo in range(0, len(flat), _CHUNK):
        qw, qp = np.divmod(flat[lo:lo + _CHUNK], length)
        query, dest, count = successors(s[qw] + qp)
        qw, qp = qw[query], qp[query]
        trans[trans_off[qw] + qp * size[qw] + lookup(qw, dest) - cand_off[qw]] = count
    t = torch.from_numpy
    sizes = size.tolist()
    return Windows(t(inputs), t(targets), t(times), t(pri), t(valid), t(wuser), t(local),
                   list(t(cand_venue).split(sizes)), list(t(counts.astype(np.float32)).split(sizes)),
                   list(t(last.astype(np.float32)).split(sizes)),
                   [m.view(length, k) for m, k in zip(t(trans).split((length * size).tolist()), sizes)],
                   t(rows), t(ttimes), list(t(slots).view(total, SLOTS).split(sizes)))


_CHUNK = 1 << 16  # rows per step of the chunked passes in build_windows


def _expand(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ragged ranges flattened: for lengths ``[2, 0, 3]`` -> segment ``[0, 0, 2, 2, 2]``, offset ``[0, 1, 0, 1, 2]``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    segment = np.repeat(np.arange(len(lengths)), lengths)
    return segment, np.arange(len(segment)) - np.repeat(np.cumsum(lengths) - lengths, lengths)


def _chunks(lengths: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``[i, j)`` of items whose lengths add up to about ``size`` (more when one item alone does)."""
    ends = np.cumsum(lengths)
    if len(ends) == 0:
        return []
    cuts = np.searchsorted(ends, np.arange(size, int(ends[-1]), size), side="right")
    bounds = np.unique(np.r_[0, cuts, len(ends)])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _successors(user: np.ndarray, venue: np.ndarray):
    """``counts(rows)``: the user's moves out of ``venue[r]`` among rows ``<= r``, for query rows ``r``, as (query
    index, destination venue, number of moves), one entry per destination reached at least once.

    A move is a pair of consecutive rows of one user (arriving at row ``q``). Moves are grouped by (user, origin,
    destination), and the groups of one (user, origin) ordered by their first move, so the destinations reached by row
    ``r`` are a prefix of the query's (user, origin) groups, and each count is a binary search among a group's moves.
    """
    n = len(venue)
    q = np.flatnonzero(user[1:] == user[:-1]) + 1
    q = q[np.lexsort((venue[q], venue[q - 1], user[q]))]  # stable: moves by (user, origin, destination, row)
    mu, mf, mg = user[q], venue[q - 1], venue[q]
    new = np.r_[True, (mu[1:] != mu[:-1]) | (mf[1:] != mf[:-1]) | (mg[1:] != mg[:-1])][:len(q)]
    first = np.flatnonzero(new)  # per (user, origin, destination) group: its first move
    move_key = (np.cumsum(new) - 1) * (n + 1) + q  # sorted
    nv = int(venue.max()) + 1 if n else 1
    origin = mu[first] * nv + mf[first]
    by_first = np.lexsort((q[first], origin))  # the groups of one (user, origin) by first move
    origin = origin[by_first]
    onew = np.r_[True, origin[1:] != origin[:-1]][:len(origin)]
    ostart = np.r_[np.flatnonzero(onew), len(origin)]
    okeys = origin[ostart[:-1]]
    first_key = (np.cumsum(onew) - 1) * (n + 1) + q[first][by_first]  # sorted
    dest = mg[first]
    del q, mu, mf, mg, new, origin, onew

    def counts(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        key = user[rows] * nv + venue[rows]
        oi = np.minimum(np.searchsorted(okeys, key), max(len(okeys) - 1, 0))
        found = okeys[oi] == key if len(okeys) else np.zeros(len(rows), dtype=bool)
        lo = np.where(found, ostart[oi], 0)
        hi = np.where(found, np.searchsorted(first_key, oi * (n + 1) + rows, side="right"), 0)
        query, off = _expand(hi - lo)
        g = by_first[lo[query] + off]  # the groups reached, as indices into `first`
        count = np.searchsorted(move_key, g * (n + 1) + rows[query], side="right") - first[g]
        return query, dest[g], count.astype(np.float32)

    return counts


def history_features(inputs: torch.Tensor, times: torch.Tensor, mask: torch.Tensor, base_counts: torch.Tensor,
                     base_last: torch.Tensor, trans: torch.Tensor | None = None) -> torch.Tensor:
    """The user's history of each candidate venue at each position (module docstring).

    ``inputs`` index the candidate axis of ``base_counts`` (the window's ``local`` indices, or venue indices when the
    candidates are all ``V`` venues). Shapes: inputs, times, mask ``[B, L]``; base_counts, base_last ``[B, K]``;
    trans ``[B, L, K]`` (zeros when ``None``) -> ``[B, L, K, 6]`` float32.
    """
    nv = base_counts.size(1)
    onehot = torch.nn.functional.one_hot(inputs, nv).float() * mask[..., None].float()
    counts = base_counts[:, None, :] + onehot.cumsum(1)
    total = counts.sum(-1, keepdim=True).clamp_min(1.0)
    t = times.float()
    stamped = torch.where(onehot > 0, t[..., None].expand_as(onehot), torch.full_like(onehot, _NEVER))
    last = torch.maximum(stamped.cummax(1).values, base_last[:, None, :])
    age = (t[..., None] - last).clamp_min(0.0)
    seen = (counts > 0).float()
    return torch.stack([torch.log1p(counts), counts / total, onehot,
                        seen * torch.exp(-age / 1440.0), seen * torch.exp(-age / 10080.0),
                        torch.log1p(trans) if trans is not None else torch.zeros_like(counts)], dim=-1)


def scored_history(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """History features at the scored positions of a :meth:`Windows.batch`, over each window's candidates.

    Shapes: -> (phi ``[M, K, 6]``, candidates ``[M, K]`` venue indices), ``M`` the scored positions (targets >= 0).
    Add ``phi @ a`` into ``[M, V]`` scores with ``scores.scatter_add_(1, candidates, ...)``: padded candidates have
    ``phi = 0``.
    """
    scored = batch["targets"] >= 0
    phi = history_features(batch["local"], batch["times"], batch["mask"], batch["base_counts"], batch["base_last"],
                           batch["trans"])
    cand = batch["candidates"][:, None, :].expand(-1, scored.size(1), -1)
    return phi[scored], cand[scored]


def time_slot(minutes):
    """Slot ``24 * weekend + hour of day`` (0..47; Saturday and Sunday are the weekend) of local minutes since
    1970-01-01 (a Thursday). Works on numpy arrays and tensors."""
    day = minutes // 1440
    weekend = ((day + 3) % 7) >= 5  # Monday = 0
    return weekend * 24 + (minutes // 60) % 24


def slot_match(query, width: int = 1):
    """``[..., SLOTS]`` float: 1 for the slots of the same day type within ``width`` hours (circular) of each query
    slot. Shapes: query ``[...]`` int64 -> ``[..., SLOTS]``."""
    s = torch.arange(SLOTS, device=query.device)
    q = query[..., None]
    diff = (s % 24 - q % 24).abs()
    return ((s // 24 == q // 24) & (torch.minimum(diff, 24 - diff) <= width)).float()


def slot_counts(batch: dict[str, torch.Tensor], width: int = 1) -> torch.Tensor:
    r"""Time-matched visit counts at the scored positions: for the target time :math:`t^*` of each prediction, the
    user's earlier visits of each candidate in a slot of the same day type (weekday/weekend) within ``width`` hours of
    :math:`t^*`'s hour, :math:`c^{t^*}_v = |\{q : v_q = v,\ \mathrm{daytype}(t_q) = \mathrm{daytype}(t^*),\
    |\mathrm{hour}(t_q) - \mathrm{hour}(t^*)|_{24} \le w\}|` over the window's inputs up to the position and the
    visits before the window (``base_slots``). Needs ``target_times`` and ``base_slots`` in the batch.

    Shapes: -> ``[M, K]`` float32 (aligned with :func:`scored_history`'s candidates).
    """
    scored = batch["targets"] >= 0
    inputs, mask, times = batch["local"], batch["mask"], batch["times"]
    k = batch["candidates"].size(1)
    win = slot_match(time_slot(batch["target_times"]), width)  # [B, L, SLOTS]
    base = torch.bmm(win, batch["base_slots"].transpose(1, 2))  # [B, L, K]
    n = inputs.size(1)
    past = torch.ones(n, n, dtype=torch.bool, device=inputs.device).tril()  # q <= p
    own = win.gather(2, time_slot(times)[:, None, :].expand(-1, n, -1))  # [B, L(p), L(q)]: slot of q matches p
    match = own * past * mask[:, None, :].float()
    onehot = torch.nn.functional.one_hot(inputs, k).float()
    return (base + torch.bmm(match, onehot))[scored]
