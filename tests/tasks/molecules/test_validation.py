"""Label checks made before training: degenerate class sets are named, an unscorable split is refused (finding 6)."""

import logging
from types import SimpleNamespace

import pytest
import torch

from graphrep.data import UserInputError
from graphrep.tasks.molecules.validation import check_labels
from graphrep.train.outdir import LOCK_NAME, check_out_dir

NAN = float("nan")


def _dataset(rows, task_type="classification"):
    return SimpleNamespace(name="mine.csv", task_type=task_type, task_names=["a", "b"], y=torch.tensor(rows))


SPLIT = {"train": torch.arange(0, 4), "valid": torch.arange(4, 6), "test": torch.arange(6, 8)}


def test_one_class_tasks_are_named_and_an_unscorable_split_refused(caplog):
    rows = [[0, 1], [1, 1], [0, NAN], [1, 1], [0, 1], [1, 1], [1, 0], [0, 1]]
    with caplog.at_level(logging.WARNING):
        check_labels(_dataset(rows), SPLIT)  # b has one class in training: warned, not refused
    assert "mine.csv: 1 of 2 task(s) have one class in the training split (b)" in caplog.text
    rows[4:6] = [[1, 1], [1, NAN]]  # valid: neither task has both classes
    with pytest.raises(UserInputError, match="no task has both classes in the valid split"):
        check_labels(_dataset(rows), SPLIT)


def test_constant_regression_target_is_named(caplog):
    rows = [[0.5, 2.0], [1.5, 2.0], [2.5, 2.0], [3.5, NAN], [1.0, 2.0], [2.0, 1.0], [3.0, 2.0], [0.0, 2.0]]
    with caplog.at_level(logging.WARNING):
        check_labels(_dataset(rows, "regression"), SPLIT)
    assert "1 of 2 task(s) have one value in the training split (b)" in caplog.text


def test_out_dir_rules(tmp_path):
    check_out_dir(tmp_path / "new" / "run", overwrite=False)  # created
    run = tmp_path / "new" / "run"
    assert run.is_dir() and [p.name for p in run.iterdir()] == [LOCK_NAME]  # only the lock this process holds
    (tmp_path / "new" / "run" / "results.json").write_text("{}")
    with pytest.raises(UserInputError, match="not empty"):
        check_out_dir(tmp_path / "new" / "run", overwrite=False)
    check_out_dir(tmp_path / "new" / "run", overwrite=True)
    with pytest.raises(UserInputError, match="is a file"):
        check_out_dir(tmp_path / "new" / "run" / "results.json", overwrite=True)


def test_a_shipped_encoder_name_passes_validation_and_an_unknown_one_is_named(tmp_path):
    """Regression: validation read ``pretrained:attrmask-moses`` as a file path and refused it, so the main job's
    pre-trained rows died after the other rows had trained."""
    from graphrep.data.errors import UserInputError
    from graphrep.tasks.molecules.pretraining import finetune_config
    from graphrep.tasks.molecules.validation import validate_config

    config = finetune_config("pretrained:attrmask-moses", dataset="chembl2321810", seeds=[0, 1],
                             out_dir=str(tmp_path / "run"))
    validate_config(config)  # no error
    config.encoder_checkpoint = "pretrained:no-such-encoder"
    with pytest.raises(UserInputError, match="no-such-encoder"):
        validate_config(config)
