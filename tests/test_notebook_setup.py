"""sv.notebook: the one setup every lecture notebook runs (threads, figure defaults, data root,
seed offset) and its restore."""

import numpy as np
import pytest

import scratchvae as sv


def blas_threads():
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_there_is_one_size_no_switch():
    nb = sv.notebook.setup(quiet=True)
    sv.notebook.restore()
    assert not hasattr(nb, "size") and not hasattr(nb, "full")
    assert not hasattr(sv.notebook, "FULL_ENV")


def test_setup_sets_figures_to_100_dpi_and_restore_puts_everything_back():
    import matplotlib
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=2, user_api="blas"):
        threads_before = blas_threads()
        rc_before = {k: matplotlib.rcParams[k] for k in sv.notebook.RC_KEYS}
        sv.notebook.setup(threads=1, quiet=True)
        sv.notebook.setup(threads=1, dpi=120, quiet=True)        # a second setup
        assert matplotlib.rcParams["figure.dpi"] == 120 and blas_threads() == [1] * len(threads_before)
        assert sv.notebook.restore() is True
        assert blas_threads() == threads_before
        assert {k: matplotlib.rcParams[k] for k in sv.notebook.RC_KEYS} == rc_before
        assert sv.notebook.restore() is False                    # nothing left to restore
        with sv.notebook.setup(quiet=True) as nb:
            assert matplotlib.rcParams["figure.dpi"] == 100 and nb.threads == 1
        assert {k: matplotlib.rcParams[k] for k in sv.notebook.RC_KEYS} == rc_before
        assert blas_threads() == threads_before


def draws_of_every_seeded_stream():
    vae = sv.VAE(n_in=6, hidden=(4,), n_latent=2, backend="numpy", rng=0)
    history = sv.fit(vae, np.random.default_rng(1).random((20, 6)), epochs=1, batch_size=10,
                     rng=0, progress=False)
    return (np.random.default_rng(0).random(3), np.random.SeedSequence(0).generate_state(2),
            vae.params["encoder.0.W"].copy(), history["train_loss"][-1])


def test_scratchvae_seed_offsets_every_int_seed_and_restore_undoes_it(monkeypatch):
    monkeypatch.delenv("SCRATCHVAE_SEED", raising=False)
    plain = draws_of_every_seeded_stream()
    with sv.notebook.setup(quiet=True) as nb:
        assert nb.seed == 0
        unchanged = draws_of_every_seeded_stream()
    for a, b in zip(plain, unchanged):
        np.testing.assert_array_equal(a, b)                 # unset: the stored run's streams
    monkeypatch.setenv("SCRATCHVAE_SEED", "2")
    with sv.notebook.setup(quiet=True) as nb:
        assert nb.seed == 2
        offset = draws_of_every_seeded_stream()
        again = draws_of_every_seeded_stream()
        g = np.random.default_rng(5)
        assert np.random.default_rng(g) is g                # a Generator passes through
    for a, b, c in zip(plain, offset, again):
        assert not np.array_equal(a, b)                     # model init, data, training noise
        np.testing.assert_array_equal(b, c)                 # and still reproducible
    for a, b in zip(plain, draws_of_every_seeded_stream()):
        np.testing.assert_array_equal(a, b)                 # restored
    monkeypatch.setenv("SCRATCHVAE_SEED", "two")
    with pytest.raises(ValueError, match=r"\$SCRATCHVAE_SEED must be a non-negative int, got 'two'"):
        sv.notebook.setup(quiet=True)


def test_setup_limits_blas_to_the_requested_threads(monkeypatch):
    from threadpoolctl import threadpool_info

    with sv.notebook.setup(threads=1, quiet=True):
        blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
        assert blas and all(p["num_threads"] == 1 for p in blas)
    with pytest.raises(ValueError, match="threads must be a positive int"):
        sv.notebook.setup(threads=0, quiet=True)


def test_setup_uses_the_cli_data_root_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SCRATCHVAE_DATA", str(tmp_path))
    with sv.notebook.setup() as nb:
        assert nb.data_root == tmp_path and nb.data_source == "$SCRATCHVAE_DATA"
    printed = capsys.readouterr().out
    assert "data from $SCRATCHVAE_DATA" in printed
    assert str(tmp_path) not in printed          # the rule is named, never the machine's path


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
    assert str(tmp_path) not in out


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
