"""Optimizers. State is keyed by the dotted parameter path ("encoder.0.W"), so no two
parameters ever share a moment buffer, and checkpoints store it under the same keys.

``step(grads)`` updates ``params`` in place: the model sees the new values immediately.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND, get_backend
from scratchvae.validation import check_array, check_number, check_positive_number


class Optimizer:
    """Base class: keeps a reference to the params dict and checks grads against it."""

    def __init__(self, params, lr):
        if not isinstance(params, dict) or not params:
            raise ValueError("params must be a non-empty dict of arrays, e.g. model.params")
        for key, param in params.items():
            if not isinstance(param, np.ndarray) or isinstance(param, np.ma.MaskedArray):
                raise ValueError(f"params[{key!r}] must be a numpy array updated in place, got "
                                 f"{type(param).__name__}")
            check_array(f"params[{key!r}]", param, finite=False)  # float32/float64 only
        self.params = params
        self.lr = check_positive_number("lr", lr)
        self.step_count = 0

    def _check_grads(self, grads):
        """The gradients as float arrays keyed like params (ValueError naming what is wrong).

        What a model's ``loss_and_grads`` returns (a dict with the params' keys, each an ndarray
        of its param's shape and dtype) is recognised by one comparison per key and returned
        as is; anything else (the first step of a user's own gradients, another key set, a
        list, a float64 gradient of a float32 param) gets the full check of
        :meth:`_validated_grads`.
        """
        if type(grads) is dict and self._matches_params(grads):
            return grads
        return self._validated_grads(grads)

    def _matches_params(self, grads):
        """True when ``grads`` has exactly the params' keys and every value is a plain ndarray
        with its param's shape and dtype (so the full check could only accept it)."""
        params = self.params
        if grads.keys() != params.keys():
            return False
        for key, grad in grads.items():
            param = params[key]
            if (type(grad) is not np.ndarray or grad.shape != param.shape
                    or grad.dtype != param.dtype):
                return False
        return True

    def _validated_grads(self, grads):
        """The full check of :meth:`_check_grads`: dict, keys, float arrays, shapes."""
        if not isinstance(grads, dict):
            raise ValueError(f"grads must be a dict keyed like params, got {type(grads).__name__}")
        missing = set(self.params) - set(grads)
        extra = set(grads) - set(self.params)
        if missing or extra:
            raise ValueError(
                "grads must have the same keys as params; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        checked = {}
        for key, grad in grads.items():
            grad = check_array(f"grads[{key!r}]", grad, finite=False)
            if grad.shape != self.params[key].shape:
                raise ValueError(
                    f"grads[{key!r}] has shape {grad.shape}, expected {self.params[key].shape}"
                )
            checked[key] = grad
        return checked

    def state_dict(self):
        """Arrays and numbers to save in a checkpoint: {"step": t, "<buffer>.<key>": array}."""
        state = {"step": np.array(self.step_count)}
        for buffer_name, buffers in self._buffers().items():
            for key, value in buffers.items():
                state[f"{buffer_name}.{key}"] = value
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (copies values into the existing buffers).

        Raises ValueError when "step" is not an integer >= 0 or a buffer is missing, has the
        wrong shape, is not a float array, holds NaN/inf or values a buffer cannot hold (Adam's
        second moment ``v`` is a running mean of g^2, never negative); nothing is changed then.
        """
        if "step" not in state:
            raise ValueError("optimizer state is missing 'step'")
        step = np.asarray(state["step"])
        if step.shape != () or step.dtype == np.bool_ or not np.issubdtype(step.dtype, np.integer):
            raise ValueError(f"optimizer state 'step' must be one integer, got {step.dtype} "
                             f"{step.shape}")
        if int(step) < 0:
            raise ValueError(f"optimizer state 'step' must be >= 0, got {int(step)}")
        values = {}
        for buffer_name, buffers in self._buffers().items():
            for key, buffer in buffers.items():
                name = f"{buffer_name}.{key}"
                if name not in state:
                    raise ValueError(f"optimizer state is missing {name!r}")
                value = check_array(f"optimizer state {name!r}", state[name],
                                    low=self._state_low.get(buffer_name))
                if value.shape != buffer.shape:
                    raise ValueError(f"optimizer state {name!r} has shape {value.shape}, "
                                     f"expected {buffer.shape}")
                values[buffer_name, key] = value
        buffers = self._buffers()
        for (buffer_name, key), value in values.items():
            buffers[buffer_name][key][...] = value
        self.step_count = int(step)

    _state_low = {}
    """buffer name -> the smallest value its entries may hold (checked at load)"""

    def _buffers(self):
        return {}

    def config(self):
        """Hyperparameters as JSON values; ``type(self)(params, **config())`` rebuilds it."""
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as in PyTorch:

        velocity = momentum * velocity + grad;   param -= lr * velocity
    """

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, lr)
        self.momentum = _check_unit_interval("momentum", momentum)
        self.velocity = {key: np.zeros_like(p) for key, p in params.items()}

    def step(self, grads):
        grads = self._check_grads(grads)
        self.step_count += 1
        for key, param in self.params.items():
            velocity = self.velocity[key]
            velocity *= self.momentum
            velocity += grads[key]
            param -= self.lr * velocity

    def _buffers(self):
        return {"velocity": self.velocity}

    def config(self):
        return {"lr": self.lr, "momentum": self.momentum}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015), the same update as ``torch.optim.Adam``:

        m = beta1 m + (1 - beta1) g;        v = beta2 v + (1 - beta2) g^2
        param -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)

    ``backend`` picks the update kernel: the fused "numba" one (default, like the models) or the
    "numpy" reference; both give the same numbers.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, backend=DEFAULT_BACKEND):
        super().__init__(params, lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.beta1 = _check_unit_interval("betas[0]", beta1)
        self.beta2 = _check_unit_interval("betas[1]", beta2)
        self.eps = check_positive_number("eps", eps)
        self.backend = backend
        self.kernels = get_backend(backend)
        self.m = {key: np.zeros_like(p) for key, p in params.items()}
        self.v = {key: np.zeros_like(p) for key, p in params.items()}

    _state_low = {"v": 0.0}  # a mean of squares: a negative v would make sqrt(v_hat) NaN

    def step(self, grads):
        grads = self._check_grads(grads)
        self.step_count += 1
        for key, param in self.params.items():
            self.kernels.adam_update(
                param, grads[key], self.m[key], self.v[key],
                self.lr, self.beta1, self.beta2, self.eps, self.step_count,
            )

    def _buffers(self):
        return {"m": self.m, "v": self.v}

    def config(self):
        return {"lr": self.lr, "betas": [self.beta1, self.beta2], "eps": self.eps,
                "backend": self.backend}


def _check_unit_interval(name, value):
    """A finite number in [0, 1) (momentum, Adam's betas)."""
    value = check_number(name, value, low=0.0)
    if value >= 1:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return value


def rebind(optimizer, params):
    """A copy of ``optimizer`` (same class, hyperparameters and state) that updates ``params``,
    a dict with the same keys and shapes (e.g. another model's params after loading)."""
    copy = type(optimizer)(params, **optimizer.config())
    copy.load_state_dict(optimizer.state_dict())
    return copy
