"""`scratchvae data`: the data directory, every dataset, and each file's state."""

import pytest

from scratchvae.cli import main


def test_data_command_lists_datasets_and_verified_files(shared_data, capsys):
    assert main(["data", "--root", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert f"data directory: {shared_data}" in out
    for name in ("mnist", "fashion-mnist", "kmnist", "mnist10k", "frey-face", "cifar10",
                 "sprites"):
        assert f"\n{name} " in out
    lines = out.splitlines()
    t10k = [line for line in lines if "t10k-images-idx3-ubyte.gz" in line]
    assert any(" ok " in line and "9fb629c4189551a2d022fa330f9573f3" in line for line in t10k)
    assert any("missing" in line and "train-images-idx3-ubyte.gz" in line for line in lines)
    assert "generated on the fly" in out


def test_data_command_flags_a_corrupt_file_and_fails(tmp_path, capsys):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not mnist")
    assert main(["data", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "CORRUPT" in out and "expected ec29112dd5afa0611ce80d1b7f02629c" in out


def test_data_command_uses_the_environment_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    assert main(["data"]) == 0
    out = capsys.readouterr().out
    assert f"data directory: {tmp_path}  (from the $SCRATCHVAE_DATA" in out
    assert f"{tmp_path / 'mnist'}/" in out


def test_data_command_rejects_unknown_dataset_names(tmp_path, capsys):
    assert main(["data", "--root", str(tmp_path), "--download", "imagenet"]) == 2
    assert "scratchvae data: error: argument --download: unknown dataset(s) imagenet" in (
        capsys.readouterr().err)


def test_data_command_download_reports_a_failure_without_network(tmp_path, monkeypatch, capsys):
    import pooch
    import requests

    def offline(self, url, output_file, pooch_, check_only=False):
        raise requests.exceptions.ConnectionError("offline")

    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", offline)
    assert main(["data", "--root", str(tmp_path), "--download", "kmnist"]) == 1
    out = capsys.readouterr().out
    assert "kmnist:" in out and str(tmp_path / "kmnist") in out and "offline" in out


@pytest.mark.parametrize("argv", [["data", "--help"]])
def test_data_command_help_names_the_options(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "--root" in out and "--download" in out
