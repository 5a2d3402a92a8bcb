"""The ``scratchvae`` command line: one subcommand per module in ``scratchvae/commands``.

Each command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int``. Command modules import heavy things inside ``run`` only, so
``scratchvae --help`` is fast.
"""

import argparse
import sys
from importlib import import_module

# subcommand name -> module in scratchvae.commands
COMMANDS = {
    "train": "train",
    "evaluate": "evaluate",
    "sample": "sample",
    "gradcheck": "gradcheck",
    "data": "data",
    "homework": "homework",
}


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error that points at the help of the command at fault:
    "scratchvae train: error: argument --lr: must be ... (see scratchvae train --help)".
    Options are never abbreviated (``--epoch`` is not taken for ``--epochs``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, error_line(self.prog, f"{message} (see {self.prog} --help)") + "\n")


class _CommandParser(_Parser):
    """A subcommand's parser: an option it does not know is its error (pointing at its own
    help), not the top-level parser's."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def error_line(prog, message):
    """The one error format of every command: ``<prog>: error: <message>`` on one line (a
    message that already starts with "error: " is not prefixed twice)."""
    text = " ".join(str(message).split())
    if text.startswith("error: "):
        text = text[len("error: "):]
    return f"{prog}: error: {text}"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show "(default: X)" once: not when the help already speaks of its default, and not for
    None or False (whose meaning the help text explains)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default is None or action.default is False
                or action.default == argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("scratchvae")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def build_parser():
    """The ``scratchvae`` argument parser: one sub-parser per module of scratchvae.commands."""
    parser = _Parser(
        prog="scratchvae",
        description="Autoencoders and VAEs from scratch: train, evaluate, sample, check gradients.",
    )
    parser.add_argument("--version", action="version", version=f"scratchvae {_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    for name, module_name in COMMANDS.items():
        module = import_module(f"scratchvae.commands.{module_name}")
        command = sub.add_parser(
            name, help=module.HELP, description=module.HELP, formatter_class=_HelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def _one_line(err):
    """The message of an exception as one line (newlines and runs of spaces collapsed)."""
    return " ".join(str(err).split()) or type(err).__name__


def main(argv=None):
    """Run ``scratchvae ARGS``; return the exit status (0 ok, 1 failed, 2 bad usage).

    Every error a user can cause (a bad option, a missing or malformed file, a model that does
    not fit the data, training that diverged) is one line on stderr. ``--debug`` (before the
    command: ``scratchvae --debug train ...``) shows the traceback instead.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version, or a usage error already printed
        return stop.code if isinstance(stop.code, int) else 2
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    import numpy as np

    prog = f"{parser.prog} {args.command}"
    try:
        if args.debug:
            return int(args.run(args) or 0)
        # NaN and overflow are reported once, by the checks (e.g. fit's NonFiniteError), not
        # as a stream of NumPy RuntimeWarnings before it
        with np.errstate(all="ignore"):
            return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error of ours
        sys.stderr.close()
        return 0
    except SystemExit as stop:  # a command gave up with a message
        if isinstance(stop.code, int) or stop.code is None:
            return stop.code or 0
        print(error_line(prog, stop.code), file=sys.stderr)
        return 2
    except Exception as err:
        if args.debug:
            raise
        print(error_line(prog, _describe(err)), file=sys.stderr)
        return 1


def _describe(err):
    """One line for an exception: user errors by their message, anything else as an internal
    error with its type and a pointer to --debug."""
    from scratchvae.train import NonFiniteError

    if isinstance(err, (ValueError, NonFiniteError)):  # data.DataError is a ValueError
        return _one_line(err)
    if isinstance(err, OSError):
        where = f" {err.filename}" if getattr(err, "filename", None) else ""
        return f"cannot use{where}: {err.strerror or _one_line(err)}"
    return (f"internal error, {type(err).__name__}: {_one_line(err)} (run scratchvae --debug "
            "... for the traceback and please report it)")


if __name__ == "__main__":
    sys.exit(main())
