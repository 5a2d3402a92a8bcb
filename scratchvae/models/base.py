"""What every model shares: named sub-networks, dotted parameter keys, input checks, config.

A model is a set of named sub-networks (``self.networks``: name -> Sequential or Dense).
``params`` maps "<network>.<layer>.<name>" (e.g. "encoder.0.W") to the layers' own arrays, so
optimizers update the model in place; ``loss_and_grads`` returns grads with the same keys.
"""


from scratchvae.kernels import BACKENDS, get_backend
from scratchvae.validation import check_array, check_choice, check_dtype


class Model:
    """Base class. Subclasses set ``self.networks`` and ``self._config`` in ``__init__``."""

    #: extra keyword arguments of loss_and_grads that carry noise (used by checks and fit)
    noise_arguments = ()

    def _setup(self, dtype, backend):
        self.dtype = check_dtype("dtype", dtype)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.kernels = get_backend(backend)
        self.networks = {}

    @property
    def params(self):
        """Dict "<network>.<layer>.<name>" -> array (the live arrays, not copies)."""
        params = self.__dict__.get("_params")
        if params is None:
            params = {
                f"{net_name}.{key}": value
                for net_name, net in self.networks.items()
                for key, value in net.params.items()
            }
            self._params = params
        return params

    def _collect_grads(self):
        return {
            f"{net_name}.{key}": value
            for net_name, net in self.networks.items()
            for key, value in net.grads.items()
        }

    @property
    def n_params(self):
        """Total number of scalar parameters."""
        return int(sum(p.size for p in self.params.values()))

    def config(self):
        """The constructor arguments as JSON-friendly values (saved in checkpoints)."""
        config = dict(self._config)
        config["dtype"] = str(self.dtype)
        config["backend"] = self.backend
        return config

    def _check_x(self, x, name="x", binary_range=False):
        """x as a (batch, n_in) array of the model's dtype; finite; in [0, 1] if required."""
        # shape and dtype first; values once, after any conversion (one min and one max)
        x = check_array(name, x, ndim=2, shape=(None, self.n_in), finite=False)
        if x.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one example, got shape {x.shape}")
        if x.dtype != self.dtype:  # float32 <-> float64 (check_array refused other dtypes)
            x = x.astype(self.dtype)
        check_array(name, x, low=0.0 if binary_range else None,
                    high=1.0 if binary_range else None)
        return x

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._config.items())
        return f"{type(self).__name__}({args})"

