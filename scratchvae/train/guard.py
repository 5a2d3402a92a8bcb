"""The non-finite guard: training that goes NaN or inf stops with a clear message, and no
checkpoint holding NaN or inf is ever written.

What is checked, and when (the cost stays a small fraction of an epoch):

    every step        the loss (a float), before the step is applied
    end of an epoch   every parameter (:meth:`Guard.check_params`, reported at the epoch's
                      last step), the validation loss, every optimizer buffer
                      (:meth:`Guard.check_state`), all before the checkpoint is written
    on a failure      the parameters, to say whether an earlier step already broke the model

A parameter turned NaN or inf by a step makes the next step's loss NaN or inf (it feeds the
output), so training stops at that step at the latest, or at the end of the epoch.
"""

import math

import numpy as np


class NonFiniteError(RuntimeError):
    """Training produced a NaN or inf loss, gradient, parameter or optimizer state. The message
    says which quantity, at which epoch and step, whether the step was applied, and which
    checkpoint file (if any) this run last wrote: that file holds only finite numbers."""


def kind_of(values):
    """"NaN" if any of ``values`` is NaN, else "inf"."""
    return "NaN" if np.isnan(values).any() else "inf"


def first_nonfinite_array(arrays, label):
    """``label[key]`` of the first array in ``arrays`` holding NaN or inf, and its kind, or None.

    A sum is finite when every entry is (the cheap test); only when it is not are the entries
    themselves looked at (a sum of large finite values can overflow on its own)."""
    for key, value in arrays.items():
        value = np.asarray(value)
        if not np.issubdtype(value.dtype, np.floating):
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(value)):
                continue
        bad = value[~np.isfinite(value)]
        if bad.size:
            return f"{label}[{key!r}]", kind_of(bad)
    return None


def nonfinite_message(what, kind, epoch, step, checkpoint, last_saved, applied=False):
    """The message of a NonFiniteError: what, where, whether the model is still usable, and the
    last good checkpoint."""
    where = f"{what} contains {kind} at epoch {epoch}, step {step}"
    where += ("; the step had already updated the model in memory, which is now unusable"
              if applied else "; the step was not applied")
    if checkpoint is None:
        tail = "no checkpoint was requested (pass checkpoint='run.npz' to keep one)"
    elif last_saved is None:
        tail = (f"no checkpoint was written by this run ({checkpoint} was not written: it "
                "would have held these values)")
    else:
        tail = f"the last good checkpoint is {checkpoint} (epoch {last_saved})"
    return (f"{where}; {tail}. Try a smaller learning rate, "
            "KL warm-up, or check the data for NaN or values outside [0, 1].")


class Guard:
    """Checks one run's numbers; knows where the run is (``at``) and its last good file."""

    def __init__(self, params, checkpoint, last_saved=None):
        self.params = params
        self.checkpoint = checkpoint
        self.last_saved = last_saved
        self.epoch, self.step = 1, 1

    def at(self, epoch, step):
        """The 1-based epoch and step (or a label such as "(end of epoch)") now running."""
        self.epoch, self.step = epoch, step

    def saved(self, epoch):
        """A checkpoint of ``epoch`` epochs was written: it is the last good one."""
        self.last_saved = epoch

    def check_values(self, values, applied=False):
        """Raise NonFiniteError if a loss in ``values`` ({name: float}) is NaN or inf.

        ``applied``: the step that produced them had already changed the parameters."""
        for key, value in values.items():
            self.check_value("loss" if key == "loss" else f"loss term {key!r}", value, applied)

    def check_value(self, what, value, applied=False):
        """Raise NonFiniteError if the float ``value`` (called ``what``) is NaN or inf."""
        if not math.isfinite(value):
            self.fail(what, "NaN" if math.isnan(value) else "inf", applied)

    def check_params(self):
        """Raise NonFiniteError if a parameter holds NaN or inf (the model is then unusable)."""
        found = first_nonfinite_array(self.params, "params")
        if found is not None:
            self.fail(*found, applied=True)

    def check_state(self, arrays_by_label):
        """Raise NonFiniteError if an array of ``arrays_by_label`` ({label: {key: array}}, e.g.
        optimizer states) holds NaN or inf."""
        for label, arrays in arrays_by_label.items():
            found = first_nonfinite_array(arrays, label)
            if found is not None:
                self.fail(*found, applied=True)

    def fail(self, what, kind, applied):
        """Raise the NonFiniteError. A parameter that is already NaN or inf (written by an
        earlier step, e.g. from a NaN gradient) is named before the loss it spoiled."""
        if not applied:
            found = first_nonfinite_array(self.params, "params")
            if found is not None:
                param, param_kind = found
                kind = f"{param_kind} (written by an earlier step: this step's {what} is {kind})"
                what, applied = param, True
        message = nonfinite_message(what, kind, self.epoch, self.step, self.checkpoint,
                                    self.last_saved, applied)
        if what.startswith("params["):
            message += (" (Parameters are checked when a loss is NaN or inf and at the end of "
                        "every epoch: an earlier step of the epoch may have written the value.)")
        raise NonFiniteError(message)
