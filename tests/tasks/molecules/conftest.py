"""A single-process re-evaluation of a saved GraphPredictor: the reference that training loops' reported test metrics
(DDP's gathered ones included) must equal."""

import pytest
import torch
from torch_geometric.loader import DataLoader

from graphrep.train.checkpoint import read_checkpoint
from graphrep.tasks.molecules.graph_prediction import GraphPredictor
from graphrep.train.metrics import evaluate


@pytest.fixture
def rescore():
    def score(checkpoint: str, dataset, index: torch.Tensor) -> dict[str, float]:
        state = read_checkpoint(checkpoint)
        model = GraphPredictor(**state["hyper_parameters"])
        model.load_state_dict(state["state_dict"])
        model.eval()
        with torch.no_grad():
            batches = list(DataLoader(dataset[index], batch_size=64))
            pred = torch.cat([model.predict_original_scale(b) for b in batches])
            true = torch.cat([b.y for b in batches])
        return evaluate(model.hparams.task_type, true.numpy(), pred.numpy())

    return score
