"""Flag combinations that used to end in "internal error" are refused up front (exit 2, one line), and the --out
policy of the commands not yet on the engine."""

from graphrep import cli


def test_modality_geometry_conv_with_knn_is_refused(tmp_path, capsys):
    out = tmp_path / "m"
    assert cli.main(["modality", "train", "--kind", "image", "--conv", "hyperbolic", "--knn", "4",
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--conv hyperbolic with --knn 4" in err[0], err


def test_modality_refuses_a_non_empty_out(tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    assert cli.main(["modality", "train", "--kind", "image", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "folder is not empty" in err and (out / "metrics.json").read_text() == "{}"
