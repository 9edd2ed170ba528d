"""Checkpoints: safe reading with one-line errors, and the run signature that resume checks (issue 15, findings 2, 5)."""

import pytest
import torch

from graphrep.data import CheckpointError, UserInputError
from graphrep.train.checkpoint import SIGNATURE_KEY, check_signature, read_checkpoint


class Payload:
    """Stands for any pickled object a safe load must refuse."""


def test_truncated_pickled_folder_and_non_dict(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(3)}}, good)
    assert torch.equal(read_checkpoint(good)["state_dict"]["w"], torch.ones(3))
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    pickled = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "extra": Payload()}, pickled)
    plain = tmp_path / "list.ckpt"
    torch.save([1, 2], plain)
    cases = [(cut, "not a readable checkpoint"), (pickled, "pickled Python objects"), (tmp_path, "it is a folder"),
             (plain, "holds a list"), (tmp_path / "none.ckpt", "no such checkpoint")]
    for path, message in cases:
        with pytest.raises(UserInputError) as info:  # CheckpointError, or DataNotFoundError for a missing file
            read_checkpoint(path)
        text = str(info.value)
        assert isinstance(info.value, CheckpointError if path.exists() else FileNotFoundError) and message in text and str(path) in text, text
        assert "\n" not in text and "weights_only" not in text  # never suggest weights_only=False


def _signature(**changes):
    sig = {"dataset": "freesolv", "dataset_sha256": "abc", "split_sha256": "def", "task_type": "regression",
           "model": {"encoder": {"hidden": 16, "num_layers": 2}, "lr": 1e-3, "target_mean": [-3.8],
                     "target_std": [3.85]}, "batch_size": 32}
    for key, value in changes.items():
        target = sig["model"] if key in sig["model"] else sig
        target[key] = value
    return sig


def test_resume_refuses_another_run_and_names_each_difference(tmp_path):
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {}, SIGNATURE_KEY: _signature()}, path)
    check_signature(path, _signature(target_mean=[-3.8 + 1e-9]))  # float noise is not a difference
    with pytest.raises(CheckpointError) as info:
        check_signature(path, _signature(dataset="esol", dataset_sha256="xyz",
                                         encoder={"hidden": 32, "num_layers": 2}, target_mean=[-3.05]))
    text = str(info.value)
    assert text.startswith(f"{path} belongs to another run")
    assert "dataset 'freesolv' in the checkpoint, 'esol' now" in text
    assert "model.encoder.hidden 16 in the checkpoint, 32 now" in text and "model.target_mean[0]" in text
    assert "num_layers" not in text and "\n" not in text


def test_checkpoint_without_signature_is_refused(tmp_path):
    path = tmp_path / "old.ckpt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(CheckpointError, match="no run signature"):
        check_signature(path, _signature())


def test_a_loop_state_past_the_requested_epochs_is_refused():
    """Used by every engine loop on resume: a 4-epoch state resumed with --epochs 3 would train nothing and be
    reported as a 3-epoch run."""
    import pytest

    from graphrep.data.errors import CheckpointError
    from graphrep.train.checkpoint import refuse_past_total

    refuse_past_total(3, 3, "training")  # a finished run resumed at its own length: nothing to do, allowed
    refuse_past_total(2, 5, "training")
    with pytest.raises(CheckpointError, match=r"training phase is already at epoch 4, past --epochs 3: give "
                                              r"--epochs 4 or more"):
        refuse_past_total(4, 3, "training")
    with pytest.raises(CheckpointError, match="past --pretrain-epochs 1"):
        refuse_past_total(2, 1, "graphcl", "--pretrain-epochs")
