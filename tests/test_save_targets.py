"""Saving replaces only regular files, and concurrent or killed writers never break a checkpoint
(issue 28, item 2). No test here ever saves to a real device node: FIFOs, symlinks and folders
under tmp_path stand in for "something that is not a regular file"."""

import multiprocessing
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import load_checkpoint


def _model(n_in=10):
    return sv.VAE(n_in=n_in, hidden=(4,), n_latent=2, backend="numpy")


@pytest.fixture
def fifo(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("this platform has no FIFOs (os.mkfifo)")
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    return path


def _is_fifo(path):
    return stat.S_ISFIFO(os.lstat(path).st_mode)


def test_save_refuses_a_fifo_and_leaves_it_in_place(fifo):
    with pytest.raises(ValueError, match=r"pipe\.npz.*FIFO"):
        sv.save(_model(), fifo)
    assert _is_fifo(fifo)
    assert [p.name for p in fifo.parent.iterdir()] == ["pipe.npz"]  # no temporary left over


def test_save_refuses_a_symlink_even_to_a_regular_file(tmp_path):
    target = tmp_path / "real.npz"
    sv.save(_model(), target)
    before = target.read_bytes()
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    with pytest.raises(ValueError, match=r"link\.npz.*symlink"):
        sv.save(_model(n_in=12), link)
    assert link.is_symlink() and target.read_bytes() == before


def test_save_refuses_a_directory(tmp_path):
    folder = tmp_path / "model.npz"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"model\.npz.*a directory"):
        sv.save(_model(), folder)
    assert folder.is_dir()


def test_fit_checkpoint_refuses_a_fifo(fifo):
    x = np.random.default_rng(0).random((8, 10)).astype(np.float32)
    with pytest.raises(ValueError, match=r"pipe\.npz.*FIFO"):
        sv.fit(_model(), x, epochs=1, batch_size=4, progress=False, checkpoint=fifo)
    assert _is_fifo(fifo)


def test_load_of_a_fifo_is_a_value_error_naming_it(fifo):
    with pytest.raises(ValueError, match=r"pipe\.npz.*not a regular file"):
        load_checkpoint(fifo)


def test_leftovers_of_a_dead_writer_are_removed_and_a_live_writers_are_kept(tmp_path):
    path = sv.save(_model(), tmp_path / "run.npz")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        killed = tmp_path / f".run.npz.{dead_pid}.0123456789ab.tmp"
        running = tmp_path / f".run.npz.{live.pid}.0123456789ab.tmp"
        for temporary in (killed, running):
            temporary.write_bytes(b"partial checkpoint")
        sv.save(_model(), path)
        assert not killed.exists()
        assert running.exists()
    finally:
        live.kill()
        live.wait()
    assert load_checkpoint(path).model.n_in == 10


def _save_many(path, n_in, repeats):
    model = sv.VAE(n_in=n_in, hidden=(4,), n_latent=2, backend="numpy")
    for _ in range(repeats):
        sv.save(model, path)
    return n_in


def test_concurrent_writers_all_succeed_and_the_file_always_loads(tmp_path):
    path = tmp_path / "shared.npz"
    sizes = [10, 11, 12, 13]
    context = multiprocessing.get_context("spawn")
    with context.Pool(len(sizes)) as pool:
        results = [pool.apply_async(_save_many, (path, n_in, 25)) for n_in in sizes]
        done = [result.get(timeout=240) for result in results]  # re-raises a writer's error
    assert done == sizes
    assert load_checkpoint(path).model.n_in in sizes  # the last complete write
    assert [p.name for p in tmp_path.iterdir()] == ["shared.npz"]
