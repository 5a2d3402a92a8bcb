"""Argument types for the command line: each turns the text of one option into a value or
raises ``argparse.ArgumentTypeError`` with a one-line message saying what was expected.

    parser.add_argument("--lr", type=positive_float, default=1e-3)

argparse prefixes the message with the option's name ("argument --lr: must be a number > 0,
got '-1'"), so a mistyped value is reported before anything is loaded or written.
"""

import argparse
import math


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_int(text):
    """An integer >= 1 (epochs, batch size, sizes, sample counts)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def nonnegative_int(text):
    """An integer >= 0 (seeds, warm-up epochs, k where 0 means 'skip')."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def positive_float(text):
    """A finite number > 0 (learning rates, tolerances)."""
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def nonnegative_float(text):
    """A finite number >= 0 (beta)."""
    value = _number(text, float)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def int_list(text):
    """Comma-separated positive integers such as ``512,256``; at least one."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers such as 512,256, got {text!r}")
    return values


def at_most(limit, kind=positive_int):
    """``kind`` with an upper bound, e.g. ``at_most(10000)`` for a number of samples."""

    def parse(text):
        value = kind(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit}, got {text!r}")
        return value

    parse.__name__ = f"{kind.__name__}_at_most_{limit}"
    return parse


def check_root(root):
    """``--root DIR`` must be an existing folder: a mistyped path would otherwise become a new,
    empty data directory (and a download) instead of an error."""
    from pathlib import Path

    if root is not None and not Path(root).is_dir():
        raise SystemExit(f"error: --root {root} is not an existing folder (create it first, or "
                         "leave --root out to use $SCRATCHVAE_DATA or the user cache)")
