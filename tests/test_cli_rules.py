"""Command-line rules (issue 30, item 5): a subcommand's error points at that subcommand's help,
options are never abbreviated, dataset names are case-insensitive, and every error line of
every subcommand has one prefix, ``scratchvae <command>: error: ``."""

import argparse

import pytest

from scratchvae.cli import build_parser, main


def _subparsers(parser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def _one_error_line(capsys):
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", ["train", "evaluate", "sample", "gradcheck", "data"])
def test_an_unknown_option_points_at_the_subcommands_help(command, capsys):
    run = ["some_run"] if command in ("evaluate", "sample") else []  # their required RUN
    assert main([command, *run, "--no-such-option"]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"scratchvae {command}: error: unrecognized arguments: "
                           "--no-such-option")
    assert line.endswith(f"(see scratchvae {command} --help)")


@pytest.mark.parametrize("argv", [["train", "--epoch", "3"], ["train", "--batch", "8"],
                                  ["evaluate", "run", "--is-ex", "5"],
                                  ["gradcheck", "--to", "1e-3"], ["--deb", "gradcheck"]])
def test_abbreviated_options_are_refused(argv, capsys):
    assert main(argv) == 2
    assert "error:" in _one_error_line(capsys)


def test_no_parser_allows_abbreviations():
    parser = build_parser()
    parsers = [parser, *_subparsers(parser).values()]
    assert all(p.allow_abbrev is False for p in parsers)


@pytest.mark.parametrize("argv", [["train", "--dataset", "MNIST"],
                                  ["train", "--dataset", "Fashion-MNIST"],
                                  ["evaluate", "run", "--dataset", "CIFAR10"]])
def test_dataset_names_are_case_insensitive(argv):
    args = build_parser().parse_args(argv)
    assert args.dataset == argv[-1].lower()


def test_data_download_takes_dataset_names_in_any_case(tmp_path, monkeypatch, capsys):
    from scratchvae.data import DataError, download

    asked = []

    def offline(info, remote, folder):
        asked.append(info.name)
        raise DataError(f"{remote.name}: offline test")

    monkeypatch.setattr(download, "_download", offline)
    assert main(["data", "--root", str(tmp_path), "--download", "KMNIST"]) == 1
    assert asked and set(asked) == {"kmnist"}


ERRORS = [
    (["train", "--lr", "-1"], "train"),
    (["train", "--root", "{tmp}/missing", "--dataset", "mnist"], "train"),
    (["evaluate", "{tmp}/no_run"], "evaluate"),
    (["evaluate", "{tmp}/no_run", "-k", "1000000"], "evaluate"),
    (["sample", "{tmp}/notes.txt"], "sample"),
    (["gradcheck", "--tol", "0"], "gradcheck"),
    (["data", "--root", "{tmp}/missing"], "data"),
    (["data", "--root", "{tmp}", "--download", "imagenet"], "data"),
]


@pytest.mark.parametrize("argv, command", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_every_error_line_has_one_prefix(argv, command, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    code = main([arg.format(tmp=tmp_path) for arg in argv])
    line = _one_error_line(capsys)
    assert code != 0
    assert line.startswith(f"scratchvae {command}: error: ")
    assert line.count("error:") == 1, line


def test_importance_samples_above_the_maximum_are_refused_by_the_cli(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "-k", "100001"]) == 2
    assert "argument -k/--k: must be at most 100000" in _one_error_line(capsys)
