"""The train / evaluate / sample commands, run in-process on a small sprites set, offline."""

import json

import numpy as np
import pytest

from scratchvae.checkpoint import load_checkpoint
from scratchvae.cli import main
from scratchvae.registry import BUILDERS, build_model


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    code = main(["train", "--epochs", "1", "--n-train", "256", "--n-test", "64",
                 "--hidden", "32", "--latent", "2", "--backend", "numpy", "--out", str(out),
                 "--name", "tiny"])
    return code, out / "tiny"


def test_train_writes_the_checkpoint_history_and_figures(trained_run, capsys):
    code, run_dir = trained_run
    assert code == 0
    for name in ("model.npz", "history.json", "run.json", "reconstructions.png", "samples.png",
                 "traversal.png", "loss_curve.png", "manifold.png"):
        assert (run_dir / name).is_file(), name
        assert (run_dir / name).stat().st_size > 0
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == [1] and np.isfinite(history["val_loss"][0])
    saved = load_checkpoint(run_dir / "model.npz")
    assert saved.metadata["dataset"] == "sprites" and saved.metadata["n_train"] == 256
    assert saved.metadata["image_shape"] == [32, 32] and saved.metadata["epoch"] == 1
    assert saved.model.n_latent == 2 and saved.model.hidden == (32,)
    assert saved.optimizer is not None


def test_evaluate_prints_elbo_importance_nll_and_active_units(trained_run, capsys):
    _, run_dir = trained_run
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "-k", "5", "--is-examples", "16", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["dataset"] == "sprites" and results["n_examples"] == 64
    assert results["is_examples"] == 16 and results["is_k"] == 5
    for key in ("neg_elbo", "reconstruction", "kl", "is_nll", "reconstruction_mse"):
        assert np.isfinite(results[key]), key
    assert results["neg_elbo"] == pytest.approx(results["reconstruction"] + results["kl"])
    assert 0 <= results["active_units"] <= results["n_latent"] == 2

    assert main(["evaluate", str(run_dir / "model.npz"), "-k", "0"]) == 0
    text = capsys.readouterr().out
    assert "-ELBO (sampled z)" in text and "active units" in text


def test_sample_writes_a_png_and_prints_its_path(trained_run, tmp_path, capsys):
    _, run_dir = trained_run
    capsys.readouterr()
    target = tmp_path / "grid.png"
    assert main(["sample", str(run_dir), "-n", "9", "--out", str(target)]) == 0
    assert capsys.readouterr().out.strip() == str(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["sample", str(run_dir), "-n", "4"]) == 0
    default = run_dir / "samples-n4-seed0.png"
    assert capsys.readouterr().out.strip() == str(default) and default.is_file()


def test_evaluate_and_sample_reject_a_missing_run(tmp_path, capsys):
    for command in ("evaluate", "sample"):
        assert main([command, str(tmp_path / "nothing")]) == 2
        assert "RUN must be a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["evaluate", "--help"],
                                  ["sample", "--help"]])
def test_help_works_for_main_and_each_command(argv, capsys):
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: scratchvae")
    if argv[0] == "train":
        assert "--kl-warmup" in text and "sprites" in text


def test_train_rejects_bad_flags_with_a_message(tmp_path, capsys):
    assert main(["train", "--hidden", "12,x", "--out", str(tmp_path)]) == 2
    assert "argument --hidden: must be comma-separated" in capsys.readouterr().err
    assert main(["train", "--epochs", "-1", "--out", str(tmp_path)]) == 2
    assert "argument --epochs: must be a positive integer" in capsys.readouterr().err


def test_train_threads_flag_trains_data_parallel_or_says_which_models_support_it(tmp_path,
                                                                                 capsys):
    args = ["train", "--epochs", "1", "--n-train", "64", "--n-test", "32", "--latent", "2",
            "--backend", "numpy", "--no-figures", "--progress", "never", "--out", str(tmp_path)]
    assert main([*args, "--model", "convvae", "--threads", "2", "--name", "parallel"]) == 0
    history = json.loads((tmp_path / "parallel" / "history.json").read_text())
    assert history["epoch"] == [1] and np.isfinite(history["train_loss"][0])
    capsys.readouterr()
    assert main([*args, "--model", "ae", "--threads", "2", "--name", "ae"]) != 0
    assert "DataParallel supports VAE or ConvVAE models" in capsys.readouterr().err
    assert main([*args, "--threads", "0"]) == 2
    assert "argument --threads: must be a positive integer" in capsys.readouterr().err


def test_build_model_maps_names_to_models_and_lists_the_valid_ones():
    assert {"vae", "ae", "dae"} <= set(BUILDERS)
    vae = build_model("vae", 64, (8, 8), {"hidden": (16,), "latent": 3, "backend": "numpy"})
    assert (vae.n_in, vae.hidden, vae.n_latent, vae.likelihood) == (64, (16,), 3, "bernoulli")
    ae = build_model("ae", 64, (8, 8), latent=5, hidden=(16,), backend="numpy",
                     likelihood="gaussian")
    assert ae.n_code == 5 and ae.config()["loss"] == "mse"
    dae = build_model("dae", 64, (8, 8), latent=5, backend="numpy", beta=3.0)
    assert dae.config()["noise"] == "masking"
    with pytest.raises(ValueError, match="model must be one of .*'vae'.*got 'gan'"):
        build_model("gan", 64)
