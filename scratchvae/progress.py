"""Progress bars for long loops (training epochs, importance sampling), and the one line that
reports a finished epoch.

    bar = progress_bar(total, "epoch 1/10", show=show_progress(progress))
    bar.update(1); bar.set_postfix(loss="..."); bar.close()
    print(epoch_line(history, epochs=10))   # epoch 3/10  train_loss 95.1234  val_loss ...

``progress`` is True (a bar when someone is watching: a terminal or a Jupyter notebook, and not
under CI), False (never) or "always" (also into logs and pipes). The bar is ``tqdm.auto``: a
widget in a notebook, text on stderr in a terminal. When it is not shown it is a silent
stand-in with the same methods, so loops call it the same way either way; tqdm is imported only
when a bar is shown.
"""

import os
import sys

PROGRESS_CHOICES = (True, False, "always")


def stderr_is_terminal():
    """True when stderr is an interactive terminal (not a file, a pipe or a notebook capture)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def in_notebook():
    """True inside a Jupyter kernel (IPython's ZMQInteractiveShell); IPython is not imported
    here, only asked when the kernel has already imported it."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def is_interactive():
    """Someone is watching: stderr is a terminal or this runs in a notebook, and the
    environment variable CI is not set to true (CI logs get no bars)."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        return False
    return stderr_is_terminal() or in_notebook()


def show_progress(progress):
    """Whether to show a bar for ``progress`` = True (when interactive), False or "always"."""
    if progress not in PROGRESS_CHOICES or progress is None:
        raise ValueError(f"progress must be True, False or 'always', got {progress!r}")
    return progress == "always" or (bool(progress) and is_interactive())


def epoch_line(history, epochs=None):
    """The one line that reports a finished epoch, the same for ``fit`` and the command line:

        epoch 3/10  train_loss 95.1234  val_loss 97.0031  (2.1 s)

    ``history`` as ``fit`` returns it (its last entries are reported); ``epochs``: the total, if
    known."""
    epoch = history["epoch"][-1]
    parts = [f"epoch {epoch}" if epochs is None else f"epoch {epoch}/{epochs}",
             f"train_loss {history['train_loss'][-1]:.4f}"]
    if history.get("val_loss"):
        parts.append(f"val_loss {history['val_loss'][-1]:.4f}")
    parts.append(f"({history['seconds'][-1]:.1f} s)")
    return "  ".join(parts)


def epoch_stream():
    """Where ``fit`` prints the epoch line next to its bar: stdout in a notebook (a plain
    output cell), stderr in a terminal (stdout stays clean for pipes)."""
    return sys.stdout if in_notebook() else sys.stderr


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
