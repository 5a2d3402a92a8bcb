"""Bad command lines: each ends in one line on stderr and a non-zero exit, never a traceback
(issue 18, item 6). The CLI runs in-process (``scratchvae.cli.main``) to keep this fast."""

import pytest

import scratchvae as sv
from scratchvae.cli import main
from scratchvae.data import DataError


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """A tiny trained run, a model whose inputs do not fit the sprites, and a few files."""
    tmp = tmp_path_factory.mktemp("cli")
    code = main(["train", "--epochs", "1", "--n-train", "64", "--n-test", "16", "--hidden",
                 "8", "--latent", "2", "--backend", "numpy", "--out", str(tmp / "runs"),
                 "--name", "tiny", "--no-figures"])
    assert code == 0
    sv.save(sv.VAE(n_in=100, hidden=(4,), n_latent=2, backend="numpy"), tmp / "small.npz",
            metadata={"dataset": "sprites"})
    (tmp / "notes.txt").write_text("not a checkpoint\n")
    (tmp / "empty_root").mkdir()
    (tmp / "locked").mkdir()
    (tmp / "locked" / "file").write_text("a file, not a folder")
    return {"run": str(tmp / "runs" / "tiny"), "small": str(tmp / "small.npz"),
            "text": str(tmp / "notes.txt"), "empty": str(tmp / "empty_root"),
            "file": str(tmp / "locked" / "file"), "tmp": str(tmp)}


TINY = ["--n-train", "64", "--n-test", "16", "--hidden", "8", "--latent", "2",
        "--backend", "numpy", "--no-figures"]

# (argv with {placeholders} from the fixture, text the one error line must contain)
BAD_INVOCATIONS = [
    (["train", "--lr", "-1"], "argument --lr: must be a number > 0"),
    (["train", "--lr", "inf"], "argument --lr: must be a finite number"),
    (["train", "--lr", "abc"], "argument --lr: must be a number"),
    (["train", "--beta", "-1"], "argument --beta: must be a number >= 0"),
    (["train", "--kl-warmup", "-1"], "argument --kl-warmup: must be an integer >= 0"),
    (["train", "--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["train", "--epochs", "0"], "argument --epochs: must be a positive integer"),
    (["train", "--batch-size", "0"], "argument --batch-size: must be a positive integer"),
    (["train", "--hidden", ","], "argument --hidden: must be comma-separated positive"),
    (["train", "--hidden", "8,-2"], "argument --hidden: must be comma-separated positive"),
    (["train", "--latent", "0"], "argument --latent: must be a positive integer"),
    (["train", "--out", "{file}"], "is a file; it must name a folder"),
    (["train", "--root", "{tmp}/no_such_dir", "--dataset", "mnist"],
     "--root {tmp}/no_such_dir is not an existing folder"),
    (["train", "--dataset", "mnist", "--root", "{empty}", "--out", "{tmp}/out"],
     "the download failed"),
    (["train", "--lr", "1e38", "--epochs", "1", "--out", "{tmp}/diverged", *TINY],
     "at epoch 1, step 1; the step had already updated the model"),
    (["train", "--model", "nope"], "argument --model: invalid choice"),
    (["train", "--n-train", "100000000"], "--n-train 100000000 sprites would need 381.5 GiB"),
    (["evaluate", "{text}"], "is not a valid scratchvae checkpoint"),
    (["evaluate", "{tmp}/missing_run"], "RUN must be a run folder"),
    (["evaluate", "{run}", "--n-test", "-3"], "argument --n-test: must be a positive integer"),
    (["evaluate", "{run}", "--n-test", "0"], "argument --n-test: must be a positive integer"),
    (["evaluate", "{run}", "-k", "-5"], "argument -k/--k: must be an integer >= 0"),
    (["evaluate", "{run}", "--is-examples", "0"], "argument --is-examples: must be a positive"),
    (["evaluate", "{small}"], "holds a model of 100 inputs per example; sprites has 1024"),
    (["evaluate", "{run}", "--root", "{tmp}/typo"], "is not an existing folder"),
    (["sample", "{run}", "--image-shape", "a,b"], "argument --image-shape: must be comma-sep"),
    (["sample", "{run}", "--image-shape", "3,3"], "holds 9 pixels; the model makes 1024"),
    (["sample", "{run}", "--out", "{tmp}/no_such_dir/s.png"], "does not exist"),
    (["sample", "{run}", "--out", "{file}/s.png"], "does not exist"),
    (["sample", "{run}", "-n", "0"], "argument -n: must be a positive integer"),
    (["sample", "{run}", "-n", "100000000"], "argument -n: must be at most 10000"),
    (["sample", "{text}"], "is not a valid scratchvae checkpoint"),
    (["gradcheck", "--tol", "0"], "argument --tol: must be a number > 0"),
    (["nonsense"], "invalid choice"),
]


@pytest.fixture
def offline(monkeypatch):
    """Downloads fail at once, as they do without a network (never touch the network here)."""
    from scratchvae.data import download

    def no_network(info, remote, folder):
        raise DataError(f"{info.title}: file {remote.name} is not in {folder}; the download "
                        "failed (offline test)")

    monkeypatch.setattr(download, "_download", no_network)


@pytest.mark.parametrize("argv, expected", BAD_INVOCATIONS,
                         ids=[" ".join(argv) for argv, _ in BAD_INVOCATIONS])
def test_bad_invocation_is_one_line_on_stderr_and_a_nonzero_exit(argv, expected, paths,
                                                                  capsys, offline):
    argv = [arg.format(**paths) for arg in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code != 0
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert expected.format(**paths) in lines[0]


def test_debug_shows_the_traceback_instead(paths):
    with pytest.raises(ValueError, match="not a valid scratchvae checkpoint"):
        main(["--debug", "evaluate", paths["text"]])


def test_version_prints_the_package_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"scratchvae {sv.__version__}"


def test_sample_out_folder_prints_the_file_it_wrote(paths, capsys, tmp_path):
    assert main(["sample", paths["run"], "-n", "4", "--out", str(tmp_path)]) == 0
    written = capsys.readouterr().out.strip().splitlines()[-1]
    assert written == str(tmp_path / "samples-n4-seed0.png")
    assert (tmp_path / "samples-n4-seed0.png").stat().st_size > 0


def test_a_mistyped_root_creates_no_directories(tmp_path):
    typo = tmp_path / "dta"
    assert main(["train", "--dataset", "mnist", "--root", str(typo)]) != 0
    assert not typo.exists()


@pytest.mark.parametrize("command", ["train", "evaluate", "sample", "gradcheck", "data"])
def test_help_shows_each_default_once(command, capsys):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    if command == "train":  # a default of 0 is still shown
        assert "noise (default: 0)" in text and "--beta) (default: 0)" in text
    # an option whose help already states its default gets no second "(default: ...)"
    for part in text.split("(default:")[1:]:
        assert "(default:" not in part.split(")")[0]


def test_errors_inside_numpy_are_not_printed_as_warnings(paths, capsys):
    # lr = 1e38 overflows float32; the guard reports it in one line, with no RuntimeWarning
    main(["train", "--lr", "1e38", "--epochs", "1", "--out", paths["tmp"] + "/w", *TINY])
    err = capsys.readouterr().err
    assert "RuntimeWarning" not in err and len(err.strip().splitlines()) == 1
