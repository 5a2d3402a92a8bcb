"""Optimizers. State is keyed by the dotted parameter path ("encoder.0.W"), so no two
parameters ever share a moment buffer, and checkpoints store it under the same keys.

``step(grads)`` updates ``params`` in place: the model sees the new values immediately.
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND, get_backend


class Optimizer:
    """Base class: keeps a reference to the params dict and checks grads against it."""

    def __init__(self, params, lr):
        if not isinstance(params, dict) or not params:
            raise ValueError("params must be a non-empty dict of arrays, e.g. model.params")
        if not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.params = params
        self.lr = float(lr)
        self.step_count = 0

    def _check_grads(self, grads):
        missing = set(self.params) - set(grads)
        extra = set(grads) - set(self.params)
        if missing or extra:
            raise ValueError(
                "grads must have the same keys as params; "
                f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            )
        for key, grad in grads.items():
            if grad.shape != self.params[key].shape:
                raise ValueError(
                    f"grads[{key!r}] has shape {grad.shape}, expected {self.params[key].shape}"
                )

    def state_dict(self):
        """Arrays and numbers to save in a checkpoint: {"step": t, "<buffer>.<key>": array}."""
        state = {"step": np.array(self.step_count)}
        for buffer_name, buffers in self._buffers().items():
            for key, value in buffers.items():
                state[f"{buffer_name}.{key}"] = value
        return state

    def load_state_dict(self, state):
        """Restore what :meth:`state_dict` returned (copies values into the existing buffers)."""
        self.step_count = int(state["step"])
        for buffer_name, buffers in self._buffers().items():
            for key in buffers:
                name = f"{buffer_name}.{key}"
                if name not in state:
                    raise ValueError(f"optimizer state is missing {name!r}")
                buffers[key][...] = state[name]

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
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = {key: np.zeros_like(p) for key, p in params.items()}

    def step(self, grads):
        self._check_grads(grads)
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
        beta1, beta2 = betas
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"betas must both be in [0, 1), got {betas!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.backend = backend
        self.kernels = get_backend(backend)
        self.m = {key: np.zeros_like(p) for key, p in params.items()}
        self.v = {key: np.zeros_like(p) for key, p in params.items()}

    def step(self, grads):
        self._check_grads(grads)
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


def rebind(optimizer, params):
    """A copy of ``optimizer`` (same class, hyperparameters and state) that updates ``params``,
    a dict with the same keys and shapes (e.g. another model's params after loading)."""
    copy = type(optimizer)(params, **optimizer.config())
    copy.load_state_dict(optimizer.state_dict())
    return copy
