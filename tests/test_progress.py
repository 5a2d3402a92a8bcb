"""Progress bars and the epoch line (issue 20, item 5): a bar when someone is watching (a
terminal or a notebook, not CI), none in logs and pipes unless asked, and one epoch-line
format for fit and the command line."""

import pytest

import scratchvae as sv
from scratchvae import progress
from scratchvae.cli import main
from scratchvae.progress import epoch_line, show_progress


def _history():
    return {"epoch": [1, 2, 3], "train_loss": [3.0, 2.0, 95.12344], "val_loss": [4.0, 3.0, 97.0],
            "seconds": [1.0, 1.0, 2.14]}


def test_epoch_line_has_one_format():
    assert epoch_line(_history(), 10) == "epoch 3/10  train_loss 95.1234  val_loss 97.0000  (2.1 s)"
    history = dict(_history(), val_loss=[])
    assert epoch_line(history) == "epoch 3  train_loss 95.1234  (2.1 s)"


@pytest.mark.parametrize("ci, terminal, notebook, wanted", [
    ("true", True, False, False), ("", True, False, True), ("", False, True, True),
    ("", False, False, False), ("0", False, False, False),
])
def test_a_bar_is_shown_only_when_someone_is_watching(monkeypatch, ci, terminal, notebook,
                                                      wanted):
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: terminal)
    monkeypatch.setattr(progress, "in_notebook", lambda: notebook)
    assert show_progress(True) is wanted
    assert show_progress("always") is True and show_progress(False) is False
    with pytest.raises(ValueError, match="progress must be True, False or 'always'"):
        show_progress("sometimes")


def _fit(progress_value):
    x = sv.data.sprites(64, rng=0, size=16).x
    model = sv.VAE(n_in=256, hidden=(8,), n_latent=2, backend="numpy")
    return sv.fit(model, x, epochs=2, batch_size=32, x_val=x[:16], progress=progress_value)


def test_fit_in_a_pipe_prints_nothing(monkeypatch, capfd):
    monkeypatch.delenv("CI", raising=False)
    _fit(True)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_fit_on_a_terminal_prints_one_epoch_line_per_epoch_to_stderr(monkeypatch, capfd):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    history = _fit(True)
    out, err = capfd.readouterr()
    assert out == ""
    for epoch in (1, 2):
        assert epoch_line({k: v[:epoch] for k, v in history.items()}, 2) in err


def test_fit_in_a_notebook_prints_the_epoch_lines_to_stdout(monkeypatch, capfd):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    history = _fit(True)
    out, _ = capfd.readouterr()
    assert out.splitlines()[-1] == epoch_line(history, 2)


def test_fit_always_shows_the_bar_even_in_a_pipe(monkeypatch, capfd):
    monkeypatch.setenv("CI", "true")
    _fit("always")
    _, err = capfd.readouterr()
    assert "epoch 1/2" in err and ("it/s" in err or "s/it" in err)


TINY = ["--epochs", "2", "--n-train", "64", "--n-test", "16", "--hidden", "8", "--latent", "2",
        "--backend", "numpy", "--no-figures"]


@pytest.mark.parametrize("flag", ["auto", "never"])
def test_cli_train_in_a_log_prints_the_same_epoch_lines_to_stdout(flag, tmp_path, capfd,
                                                                  monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert main(["train", *TINY, "--out", str(tmp_path), "--name", "r", "--progress", flag]) == 0
    out, err = capfd.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2  train_loss ")
    assert lines[1].endswith(" s)") and "val_loss" in lines[1]
    assert err == ""


def test_cli_train_progress_always_prints_bars_and_each_epoch_line_once(tmp_path, capfd):
    assert main(["train", *TINY, "--out", str(tmp_path), "--name", "r", "--progress",
                 "always"]) == 0
    out, err = capfd.readouterr()
    assert not any(line.startswith("epoch ") for line in out.splitlines())
    assert sum(line.startswith("epoch ") and "train_loss" in line
               for line in err.replace("\r", "\n").splitlines()) == 2
