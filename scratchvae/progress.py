"""Progress bars for long loops (training epochs, importance sampling), shown only on a terminal.

    bar = progress_bar(total, "epoch 1/10", show=wants_bar and stderr_is_terminal())
    bar.update(1); bar.set_postfix(loss="..."); bar.close()

When ``show`` is False the bar is a silent stand-in with the same methods, so loops call it the
same way either way; tqdm is imported only when a bar is shown.
"""

import sys


def stderr_is_terminal():
    """True when stderr is an interactive terminal (not a file, a pipe or a notebook capture)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _NoBar:
    """A progress bar that shows nothing."""

    def update(self, n):
        pass

    def set_postfix(self, **kwargs):
        pass

    def close(self):
        pass


def progress_bar(total, desc, show, unit="it"):
    """A tqdm bar over ``total`` steps on stderr when ``show``, else a silent stand-in."""
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True,
                unit=unit)
