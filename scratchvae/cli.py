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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="scratchvae",
        description="Autoencoders and VAEs from scratch: train, evaluate, sample, check gradients.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = import_module(f"scratchvae.commands.{module_name}")
        command = sub.add_parser(
            name, help=module.HELP, description=module.HELP,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into e.g. `head`, which closed early: not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
