"""One data-folder rule (issue 30, item 4; issue 28's CLI findings): root, else
$SCRATCHVAE_DATA, else the user cache, whatever the working directory; nothing is ever
downloaded into a read-only folder; a failed download leaves no folder behind; the error for a
missing dataset names the folder and every file with its checksum."""

import os
import stat

import pytest
from test_data_download import serve  # noqa: F401  (fixture)

import scratchvae as sv
from scratchvae.cli import main
from scratchvae.data import DataError, get_info


@pytest.fixture
def read_only(tmp_path):
    """An empty folder without write permission bits (like a course's shared data folder)."""
    folder = tmp_path / "shared" / "data"
    folder.mkdir(parents=True)
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)


def test_the_data_directory_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    import pooch

    monkeypatch.delenv("SCRATCHVAE_DATA", raising=False)
    (tmp_path / "shared" / "data" / "mnist").mkdir(parents=True)   # the course layout
    (tmp_path / "clone" / "notebooks").mkdir(parents=True)
    cache = sv.data.data_dir()
    monkeypatch.chdir(tmp_path / "clone" / "notebooks")
    assert sv.data.data_dir() == cache == pooch.os_cache("scratchvae")
    assert sv.notebook.setup(quiet=True).data_root == cache


def test_a_read_only_folder_is_never_downloaded_into(read_only, serve):  # noqa: F811
    server = serve({})
    with pytest.raises(DataError) as info:
        sv.data.load("kmnist", split="test", root=read_only)
    assert server.requests == []
    message = str(info.value)
    assert "read-only" in message and str(read_only / "kmnist") + os.sep in message
    for remote in get_info("kmnist").files:
        assert remote.name in message and remote.md5 in message
    assert list(read_only.iterdir()) == []


def test_a_failed_download_leaves_no_folder_it_created(tmp_path, serve):  # noqa: F811
    server = serve({})                                   # every URL answers 404
    with pytest.raises(DataError, match="the download failed"):
        sv.data.load("kmnist", split="test", root=tmp_path / "new" / "data")
    assert server.requests
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_keeps_a_folder_that_existed(tmp_path, serve):  # noqa: F811
    serve({})
    (tmp_path / "kmnist").mkdir()
    with pytest.raises(DataError):
        sv.data.load("kmnist", split="test", root=tmp_path)
    assert (tmp_path / "kmnist").is_dir()


def test_the_missing_error_names_the_folder_and_every_file_with_its_checksum(tmp_path):
    with pytest.raises(DataError) as info:
        sv.data.load("mnist", split="test", root=tmp_path, download=False)
    message = str(info.value)
    assert f"Put these files in {tmp_path / 'mnist'}{os.sep}" in message
    for remote in get_info("mnist").files:
        assert f"{remote.name} (md5 {remote.md5}" in message


def test_data_command_with_a_missing_root_is_a_one_line_error(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    assert main(["data", "--root", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and str(missing) in captured.err
    assert not missing.exists()


def test_cli_train_never_downloads_into_a_read_only_data_folder(read_only, serve, monkeypatch,  # noqa: F811
                                                               tmp_path, capsys):
    server = serve({})
    monkeypatch.setenv("SCRATCHVAE_DATA", str(read_only))
    code = main(["train", "--dataset", "fashion-mnist", "--epochs", "1",
                 "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 1 and server.requests == []
    assert captured.err.count("\n") == 1 and "read-only" in captured.err
    assert str(read_only / "fashion-mnist") in captured.err
    assert stat.S_IMODE(read_only.stat().st_mode) == 0o555 and list(read_only.iterdir()) == []


def test_load_with_root_none_reads_the_env_folder(shared_data, monkeypatch):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(shared_data))
    x, y = sv.data.load("mnist", split="test", root=None)
    assert x.shape == (10000, 784) and y.shape == (10000,)
