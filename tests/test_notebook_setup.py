"""sv.notebook: the one setup every lecture notebook runs (size, threads, data root)."""

import numpy as np
import pytest

import scratchvae as sv


def test_notebooks_run_small_unless_the_full_run_is_requested(monkeypatch):
    monkeypatch.delenv("SCRATCHVAE_FULL", raising=False)
    nb = sv.notebook.setup(quiet=True)
    assert not nb.full and nb.size(small=2, full=20) == 2
    monkeypatch.setenv("SCRATCHVAE_FULL", "1")
    nb = sv.notebook.setup(quiet=True)
    assert nb.full and nb.size(small=2, full=20) == 20


def test_setup_limits_blas_to_the_requested_threads(monkeypatch):
    from threadpoolctl import threadpool_info

    sv.notebook.setup(threads=1, quiet=True)
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
    with pytest.raises(ValueError, match="threads must be a positive int"):
        sv.notebook.setup(threads=0, quiet=True)


def test_setup_uses_the_cli_data_root_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    nb = sv.notebook.setup()
    assert nb.data_root == tmp_path and nb.data_source == "$SCRATCHVAE_DATA"
    assert str(tmp_path) in capsys.readouterr().out


def test_load_reads_from_the_data_root(shared_data, monkeypatch):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(shared_data))
    x, y = sv.notebook.load("mnist10k", split="test")
    assert x.shape == (2000, 784) and x.dtype == np.float32 and y.shape == (2000,)


def test_a_missing_dataset_stops_with_one_line_naming_the_folder_and_the_command(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    with pytest.raises(sv.notebook.NotebookDataError) as info:
        sv.notebook.load("cifar10", split="test", download=False)
    message = str(info.value)
    assert str(tmp_path / "cifar-10") in message or str(tmp_path) in message
    assert "scratchvae data --download cifar10" in message
    rendered = info.value._render_traceback_()
    assert len(rendered) == 1 and "Traceback" not in rendered[0]


def test_a_missing_dataset_with_a_fallback_says_so_in_one_sentence(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    x, y = sv.notebook.load("frey-face", split="all", download=False,
                            fallback=("sprites", lambda: (np.zeros((3, 4)), None)))
    assert x.shape == (3, 4) and y is None
    out = capsys.readouterr().out.strip()
    assert out.count("\n") == 0 and "sprites instead" in out and "--download frey-face" in out


def test_a_failed_download_leaves_no_download_line_in_the_notebook(tmp_path, monkeypatch):
    import logging

    import pooch

    reached_handlers = []

    class Recorder(logging.Handler):
        def emit(self, record):
            reached_handlers.append(record.getMessage())

    def retrieve_without_network(url, **kwargs):
        pooch.get_logger().info("Downloading data from '%s'", url)   # what pooch logs first
        raise ConnectionError("no network")

    logger = pooch.get_logger()
    logger.isEnabledFor(logging.INFO)          # warm the logger's level cache, as a first load does
    recorder = Recorder()
    logger.addHandler(recorder)
    monkeypatch.setattr(pooch, "retrieve", retrieve_without_network)
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    try:
        x, _ = sv.notebook.load("cifar10", split="test",
                                fallback=("sprites", lambda: (np.zeros(2), None)))
        assert x.shape == (2,) and reached_handlers == []   # "Downloading data from" held back
        logger.info("after")                                 # and the logger works again
        assert reached_handlers == ["after"]
    finally:
        logger.removeHandler(recorder)
