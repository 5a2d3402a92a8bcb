"""The adversarial cases of issue 28 (items 2 to 5 and its command-line findings) and issue 30
(items 4 and 5), one row each: what is tried, and what must happen. Reads as documentation:

    case id                              what is tried                       -> expected outcome

Each row's ``attempt(tmp_path)`` does the thing; ``expected`` is an exception type and a regular
expression its message must match, or ``OK`` when the attempt must succeed (its own asserts then
say what success means). The dedicated test files hold the finer checks (peak memory, failures
on the old code); this table is the catalogue.
"""

import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest

import scratchvae as sv
from scratchvae.checkpoint import load_checkpoint
from scratchvae.cli import main
from scratchvae.data import DataError, read_cifar10, read_idx
from scratchvae.gradcheck import GradientCheckError, check_model, check_op, numerical_grad
from scratchvae.reparam import reparameterize

OK = None


def _vae(n_in=4):
    return sv.VAE(n_in=n_in, hidden=(3,), n_latent=2, backend="numpy")


# -- saving -----------------------------------------------------------------------------------

def save_over_fifo(tmp):
    os.mkfifo(tmp / "m.npz")
    sv.save(_vae(), tmp / "m.npz")


def save_over_symlink(tmp):
    sv.save(_vae(), tmp / "real.npz")
    (tmp / "m.npz").symlink_to(tmp / "real.npz")
    sv.save(_vae(), tmp / "m.npz")


def save_over_directory(tmp):
    (tmp / "m.npz").mkdir()
    sv.save(_vae(), tmp / "m.npz")


def save_after_a_killed_save(tmp):
    leftover = tmp / ".m.npz.999999999.0123456789ab.tmp"   # no such process
    leftover.write_bytes(b"partial")
    sv.save(_vae(), tmp / "m.npz")
    assert not leftover.exists() and load_checkpoint(tmp / "m.npz").model.n_in == 4


# -- gradient checking ------------------------------------------------------------------------

def check_op_with_nan_second_gradient(tmp):
    def forward(a, b):
        return a * b, None
    x, w = np.ones((2, 2)), np.full((2, 2), 2.0)
    check_op(forward, lambda d, c: (d * w, np.full_like(d, np.nan)), [x, w])


class _NaNGradModel:
    params = {"a": np.ones(2), "b": np.ones(2)}

    def loss_and_grads(self, x):
        return float(np.sum(self.params["a"] ** 2)), {"a": 2 * self.params["a"],
                                                      "b": np.array([0.0, np.nan])}


def check_model_with_nan_gradient(tmp):
    check_model(_NaNGradModel(), None)


def numerical_grad_in_float16(tmp):
    numerical_grad(lambda v: float(np.sum(v)), np.ones(3, np.float16))


# -- bounded readers and checkpoints ----------------------------------------------------------

def idx_with_dimensions_of_2_to_the_64(tmp):
    (tmp / "x.idx").write_bytes(bytes([0, 0, 8, 4]) + struct.pack(">4I", *[65536] * 4))
    read_idx(tmp / "x.idx")


def idx_claiming_more_than_the_limit(tmp):
    (tmp / "x.idx").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2048, 1024, 1024))
    read_idx(tmp / "x.idx")


def cifar_pickle_of_shared_references(tmp):
    labels = [0] * 10
    for _ in range(8):
        labels = [labels] * 10          # 10**9 labels from a few hundred bytes
    raw = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": labels}, protocol=4)
    path = tmp / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(raw))
    read_cifar10(path, "test")


def checkpoint_of_a_65536_square_convvae(tmp):
    model = sv.ConvVAE(image_shape=(1, 65536, 65536), channels=(1,) * 16, n_latent=2,
                       backend="numpy")
    load_checkpoint(sv.save(model, tmp / "huge.npz"))


def importance_sampling_with_k_10_to_the_12(tmp):
    sv.evaluate.importance_sampled_nll(_vae(), np.full((1, 4), 0.5, np.float32), k=10**12,
                                       progress=False)


# -- one input rule ---------------------------------------------------------------------------

def reparameterize_complex(tmp):
    reparameterize(np.zeros((1, 2), complex), np.zeros((1, 2)), np.zeros((1, 2)))


def reparameterize_masked(tmp):
    reparameterize(np.zeros((1, 2)), np.ma.zeros((1, 2)), np.zeros((1, 2)))


def model_reparameterize_float16(tmp):
    _vae().reparameterize(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2), np.float16))


def active_units_with_float32_threshold(tmp):
    count, _ = sv.evaluate.active_units(_vae(), np.eye(4, dtype=np.float32),
                                        threshold=np.float32(0.5))
    assert count == 0


def checkpoint_with_negative_adam_v(tmp):
    vae = _vae()
    adam = sv.optim.Adam(vae.params, backend="numpy")
    adam.v["mu.W"][0, 0] = -1.0
    load_checkpoint(sv.save(vae, tmp / "neg.npz", optimizer=adam))


# -- the data folder and the command line -----------------------------------------------------

def data_command_with_a_missing_root(tmp):
    assert main(["data", "--root", str(tmp / "nonexistent")]) == 2
    assert not (tmp / "nonexistent").exists()


def download_into_a_read_only_folder(tmp):
    (tmp / "ro").mkdir()
    (tmp / "ro").chmod(0o555)
    try:
        sv.data.load("kmnist", split="test", root=tmp / "ro")
    finally:
        (tmp / "ro").chmod(0o755)


def abbreviated_option(tmp):
    assert main(["train", "--epoch", "1"]) == 2


def dataset_name_in_capitals(tmp):
    from scratchvae.cli import build_parser

    assert build_parser().parse_args(["train", "--dataset", "MNIST"]).dataset == "mnist"


def unknown_option_of_a_subcommand(tmp):
    main(["gradcheck", "--nope"])


CASES = [
    # saving
    (save_over_fifo, ValueError, r"m\.npz: it exists and is a FIFO"),
    (save_over_symlink, ValueError, r"m\.npz: it exists and is a symlink"),
    (save_over_directory, ValueError, r"m\.npz: it exists and is a directory"),
    (save_after_a_killed_save, OK, None),
    # gradient checking
    (check_op_with_nan_second_gradient, GradientCheckError, r"input 1 .*rel_error inf"),
    (check_model_with_nan_gradient, GradientCheckError, r"b .*rel_error inf"),
    (numerical_grad_in_float16, ValueError, r"x must be a float32 or float64 .*float16"),
    # bounded readers and checkpoints
    (idx_with_dimensions_of_2_to_the_64, DataError, r"x\.idx: .*more than the .*limit"),
    (idx_claiming_more_than_the_limit, DataError, r"x\.idx: .*2,147,483,648 bytes.*limit"),
    (cifar_pickle_of_shared_references, DataError, r"'labels' must be a flat list"),
    (checkpoint_of_a_65536_square_convvae, ValueError, r"huge\.npz.*one-image forward pass"),
    (importance_sampling_with_k_10_to_the_12, ValueError, r"k must be at most 100,000"),
    # one input rule
    (reparameterize_complex, ValueError, r"^mu must be a float32 or float64 array"),
    (reparameterize_masked, ValueError, r"^logvar must be a plain numpy array"),
    (model_reparameterize_float16, ValueError, r"^eps must be a float32 or float64 .*float16"),
    (active_units_with_float32_threshold, OK, None),
    (checkpoint_with_negative_adam_v, ValueError, r"neg\.npz.*'v\.mu\.W' must have values >= 0"),
    # the data folder and the command line
    (data_command_with_a_missing_root, OK, None),
    (download_into_a_read_only_folder, DataError, r"read-only.*Put these files in"),
    (abbreviated_option, OK, None),
    (dataset_name_in_capitals, OK, None),
]
STDERR_CASES = [
    # (attempt, the one line it must print on stderr)
    (unknown_option_of_a_subcommand,
     r"^scratchvae gradcheck: error: unrecognized arguments: --nope \(see scratchvae gradcheck "
     r"--help\)$"),
    (data_command_with_a_missing_root, r"^scratchvae data: error: --root .* is not an existing"),
    (abbreviated_option, r"^scratchvae train: error: unrecognized arguments: --epoch 1"),
]


@pytest.mark.parametrize("attempt, expected, message", CASES,
                         ids=[attempt.__name__.replace("_", " ") for attempt, _, _ in CASES])
def test_adversarial_case(attempt, expected, message, tmp_path, capsys):
    if "fifo" in attempt.__name__ and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    if expected is OK:
        attempt(tmp_path)
    else:
        with pytest.raises(expected, match=message):
            attempt(tmp_path)


@pytest.mark.parametrize("attempt, line", STDERR_CASES,
                         ids=[attempt.__name__.replace("_", " ") for attempt, _ in STDERR_CASES])
def test_adversarial_command_line_prints_one_error_line(attempt, line, tmp_path, capsys):
    import re

    attempt(tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(line, err[0]), err
