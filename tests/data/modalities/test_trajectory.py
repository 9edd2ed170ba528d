"""Trajectories -> venue transition graph; GPS -> stay points -> the same graph."""

import numpy as np
import pytest
import torch

from graphrep.data.errors import GraphrepError
from graphrep.data.modalities import gps_to_transition_graph, read_visits, stay_points, transition_graph


def test_two_trajectories_transition_counts_and_gaps():
    # t1: 0 -> 1 -> 2 (gaps 1, 2); t2: 0 -> 1 -> 0 (gaps 5, 1)
    g = transition_graph([[(0, 0), (1, 1), (2, 3)], [(0, 10), (1, 15), (0, 16)]])
    edges = {tuple(e): (float(w), a.tolist()) for e, w, a in zip(g.edge_index.t().tolist(), g.edge_weight, g.edge_attr)}
    assert edges == {
        (0, 1): (2.0, [3.0, 2.0, 1.0, 5.0]),  # gaps 1 and 5: mean 3, population std 2, min 1, max 5
        (1, 2): (1.0, [2.0, 0.0, 2.0, 2.0]),
        (1, 0): (1.0, [1.0, 0.0, 1.0, 1.0]),
    }
    assert g.num_nodes == 3 and g.skipped_short == 0


def test_num_venues_and_short_trajectories():
    g = transition_graph([[(0, 0), (1, 1)], [(4, 0)]], num_venues=6, skip_short=True)
    assert g.num_nodes == 6 and g.skipped_short == 1 and g.edge_index.tolist() == [[0], [1]]
    with pytest.raises(GraphrepError, match="trajectory 1 has 1 point"):
        transition_graph([[(0, 0), (1, 1)], [(4, 0)]])
    with pytest.raises(GraphrepError, match="not in increasing order"):
        transition_graph([[(0, 5), (1, 1)]])
    with pytest.raises(GraphrepError, match="outside num_venues"):
        transition_graph([[(0, 0), (7, 1)]], num_venues=3)
    with pytest.raises(GraphrepError, match="at least one"):
        transition_graph([])


def _walk(lat, lon, t0, minutes, step_s=60, jitter=0.0):
    n = int(minutes * 60 / step_s)
    rng = np.random.default_rng(int(t0))
    return (lat + jitter * rng.standard_normal(n), lon + jitter * rng.standard_normal(n), t0 + step_s * np.arange(n))


def test_gps_to_stay_points_to_graph():
    # stay 30 min at A, travel (points far apart, 1 min each), stay 30 min at B, then back to A for 25 min
    a, b = (39.90, 116.30), (39.95, 116.40)
    parts = [_walk(*a, 0, 30, jitter=1e-5), (np.array([39.92, 39.93]), np.array([116.33, 116.36]),
                                              np.array([1900.0, 1960.0])),
             _walk(*b, 2100, 30, jitter=1e-5), _walk(*a, 4200, 25, jitter=1e-5)]
    lat, lon, t = (np.concatenate([p[i] for p in parts]) for i in range(3))
    stays = stay_points(lat, lon, t, distance_m=200, duration_s=1200)
    assert len(stays) == 3
    assert np.allclose(stays[:, :2], [a, b, a], atol=1e-3)
    g = gps_to_transition_graph([(lat, lon, t)], distance_m=200, duration_s=1200, cell_m=500)
    assert g.num_nodes == 2 and sorted(map(tuple, g.edge_index.t().tolist())) == [(0, 1), (1, 0)]
    assert g.edge_weight.tolist() == [1.0, 1.0] and g.num_stays == [3]


def test_one_point_gps_trace_is_an_error():
    with pytest.raises(GraphrepError, match="1 point"):
        stay_points([39.9], [116.3], [0.0])


def test_read_visits_errors(tmp_path):
    # the mobility reader's policy: a malformed row is skipped and named, a mostly-malformed file is an error
    (tmp_path / "train.csv").write_text("user_id,location_id,start_day,start_min\n1,2,0,10\n1,3,x,4\n1,3,x,5\n")
    with pytest.raises(GraphrepError, match="train.csv: 2 of 3 rows malformed.*train.csv:3"):
        read_visits(tmp_path, parts=("train",))
    (tmp_path / "train.csv").write_text("user_id,location_id,start_day,start_min\n1,2,0,10\n1,3,x,4\n1,5,1,5\n"
                                        "2,5,0,7\n")
    visits = read_visits(tmp_path, parts=("train",))["train"]
    assert visits.tolist() == [[1, 2, 10], [1, 5, 1445], [2, 5, 7]]
    with pytest.raises(GraphrepError, match="no valid.csv"):
        read_visits(tmp_path, parts=("valid",))


@pytest.mark.shared_data
def test_real_fsq_nyc_graph(shared_data):
    visits = read_visits(shared_data / "mobility" / "fsq_nyc", parts=("train",))["train"]
    assert visits.shape == (59701, 3)
    users = np.unique(visits[:, 0])
    trajs = [visits[visits[:, 0] == u][:, 1:].tolist() for u in users[:20]]
    g = transition_graph(trajs, skip_short=True)
    assert int(g.edge_weight.sum()) == sum(len(t) - 1 for t in trajs if len(t) > 1)
    assert torch.all(g.edge_attr[:, 2] <= g.edge_attr[:, 0] + 1e-3)
