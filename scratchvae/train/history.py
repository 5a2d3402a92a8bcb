"""The history ``fit`` returns: per-epoch lists, and the running totals of one epoch."""


def new_history():
    """An empty history: the keys every run has."""
    return {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []}


class EpochTotals:
    """Size-weighted sums of the losses and loss terms of one pass over data: the steps of an
    epoch, or the batches of the validation loss."""

    def __init__(self):
        self.loss, self.count, self.terms = 0.0, 0, {}

    def add(self, loss, terms, size):
        """One step: its loss and terms (batch means) over ``size`` examples."""
        self.loss += loss * size
        self.count += size
        for key, value in terms.items():
            self.terms[key] = self.terms.get(key, 0.0) + float(value) * size

    @property
    def mean_loss(self):
        return self.loss / self.count

    @property
    def mean_terms(self):
        """{term: size-weighted mean}."""
        return {key: value / self.count for key, value in self.terms.items()}


def record_train(history, epoch, totals, beta):
    """Append the epoch's training numbers: "epoch" (epochs done), "train_loss",
    "train_<term>", and "beta" (the weight at the epoch's last step) when ``beta`` is not None."""
    history["epoch"].append(epoch)
    history["train_loss"].append(totals.mean_loss)
    for key, value in totals.mean_terms.items():
        history.setdefault(f"train_{key}", []).append(value)
    if beta is not None:
        history.setdefault("beta", []).append(beta)


def record_validation(history, loss, terms):
    """Append the validation loss and its terms ("val_loss", "val_<term>")."""
    history["val_loss"].append(loss)
    for key, value in terms.items():
        history.setdefault(f"val_{key}", []).append(value)
