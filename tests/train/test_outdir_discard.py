"""discard_if_unused: a run that failed before writing leaves no folder of its own; a folder with files stays."""

from graphrep.train.outdir import LOCK_NAME, check_out_dir, discard_if_unused


def test_a_folder_holding_only_the_lock_is_removed_and_one_with_files_is_kept(tmp_path):
    fresh = tmp_path / "fresh"
    check_out_dir(fresh, overwrite=False)
    assert [p.name for p in fresh.iterdir()] == [LOCK_NAME]
    discard_if_unused(fresh)
    assert not fresh.exists()
    check_out_dir(fresh, overwrite=False)  # the lock was released: the same process can take the folder again
    (fresh / "metrics.json").write_text("{}")
    discard_if_unused(fresh)
    assert (fresh / "metrics.json").is_file()
