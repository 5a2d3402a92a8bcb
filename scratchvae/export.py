"""Move a VAE between scratchvae and the PyTorch examples VAE (pytorch/examples, vae/main.py).

That model is a 784-400-20 Bernoulli VAE with one hidden layer:

    h1     = relu(fc1(x))                    fc1:  Linear(784, 400)
    mu     = fc21(h1),  logvar = fc22(h1)    fc21, fc22: Linear(400, 20)
    z      = mu + eps * exp(0.5 * logvar)
    x_hat  = sigmoid(fc4(relu(fc3(z))))      fc3: Linear(20, 400), fc4: Linear(400, 784)

which is ``sv.VAE(784, hidden=(400,), n_latent=20, likelihood="bernoulli", activation="relu")``
with the names

    fc1 <-> encoder.0    fc21 <-> mu    fc22 <-> logvar    fc3 <-> decoder.0    fc4 <-> decoder.1

A ``torch.nn.Linear`` computes ``x @ weight.T + bias`` with weight (n_out, n_in), while a
scratchvae Dense computes ``x @ W + b`` with W (n_in, n_out): so ``weight = W.T``. Other sizes
(784-n_h-n_z) export the same way; the PyTorch model must then be built with those sizes.

    state = sv.export.to_pytorch_example(vae)                # dict of float32 NumPy arrays
    # in PyTorch: model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
"""

import numpy as np

from scratchvae.kernels import DEFAULT_BACKEND

LAYERS = {"fc1": "encoder.0", "fc21": "mu", "fc22": "logvar", "fc3": "decoder.0",
          "fc4": "decoder.1"}
"""PyTorch example layer name -> scratchvae parameter prefix."""

STATE_KEYS = tuple(f"{name}.{kind}" for name in LAYERS for kind in ("weight", "bias"))


def _shapes(n_in, n_h, n_z):
    """Shapes of the PyTorch state dict (weight is (n_out, n_in))."""
    sizes = {"fc1": (n_h, n_in), "fc21": (n_z, n_h), "fc22": (n_z, n_h), "fc3": (n_h, n_z),
             "fc4": (n_in, n_h)}
    shapes = {}
    for name, (n_out, n_inputs) in sizes.items():
        shapes[f"{name}.weight"] = (n_out, n_inputs)
        shapes[f"{name}.bias"] = (n_out,)
    return shapes


def to_pytorch_example(vae):
    """The parameters of ``vae`` as the state dict of the PyTorch examples VAE.

    vae: ``sv.VAE(n_in, hidden=(n_h,), n_latent=n_z, likelihood="bernoulli",
    activation="relu")``. Returns {"fc1.weight": (n_h, n_in), "fc1.bias": (n_h,),
    "fc21.weight": (n_z, n_h), "fc21.bias", "fc22.weight", "fc22.bias", "fc3.weight":
    (n_h, n_z), "fc3.bias", "fc4.weight": (n_in, n_h), "fc4.bias": (n_in,)}: new C-contiguous
    float32 arrays (weights are transposed copies of W). Raises ValueError for any other
    architecture.
    """
    _check_exportable(vae)
    params = vae.params
    state = {}
    for name, prefix in LAYERS.items():
        state[f"{name}.weight"] = np.array(params[f"{prefix}.W"].T, dtype=np.float32, order="C")
        state[f"{name}.bias"] = np.array(params[f"{prefix}.b"], dtype=np.float32, order="C")
    return state


def from_pytorch_example(state_dict, dtype=np.float32, backend=DEFAULT_BACKEND):
    """A ``sv.VAE`` holding the weights of a PyTorch examples VAE state dict (the inverse of
    :func:`to_pytorch_example`).

    state_dict: mapping with exactly the keys fc1/fc21/fc22/fc3/fc4 .weight/.bias, values NumPy
    arrays or CPU torch tensors (sizes are read from the shapes: fc1.weight is (n_h, n_in),
    fc21.weight (n_z, n_h)). Returns ``VAE(n_in, (n_h,), n_z, likelihood="bernoulli",
    activation="relu", dtype=dtype, backend=backend)`` with ``W = weight.T``, ``b = bias``.
    """
    from scratchvae.models.vae import VAE

    state = _check_state_dict(state_dict)
    n_h, n_in = state["fc1.weight"].shape
    n_z = state["fc21.weight"].shape[0]
    for key, shape in _shapes(n_in, n_h, n_z).items():
        if state[key].shape != shape:
            raise ValueError(
                f"state_dict[{key!r}] must have shape {shape} (from fc1.weight {(n_h, n_in)} and "
                f"fc21.weight's {n_z} latent dimensions), got {state[key].shape}"
            )
    vae = VAE(n_in, hidden=(n_h,), n_latent=n_z, likelihood="bernoulli", activation="relu",
              dtype=dtype, backend=backend)
    params = vae.params
    for name, prefix in LAYERS.items():
        params[f"{prefix}.W"][...] = state[f"{name}.weight"].T
        params[f"{prefix}.b"][...] = state[f"{name}.bias"]
    return vae


def _check_exportable(vae):
    """(n_in, n_h, n_z) of a VAE with the PyTorch example's architecture, else ValueError."""
    from scratchvae.models.vae import VAE

    wanted = ("vae must be a sv.VAE with likelihood='bernoulli', one hidden layer "
              "(hidden=(n_h,)) and activation='relu', the architecture of the PyTorch examples "
              "VAE (fc1, fc21, fc22, fc3, fc4)")
    if not isinstance(vae, VAE):
        raise ValueError(f"{wanted}; got a {type(vae).__name__}")
    hidden = vae.config().get("hidden")  # None for the conv VAE (it has channels instead)
    hidden = None if hidden is None else tuple(hidden)
    got = (f"likelihood={vae.likelihood!r}, hidden={hidden}, activation={vae.activation!r}")
    if (vae.likelihood != "bernoulli" or hidden is None or len(hidden) != 1
            or vae.activation != "relu"):
        raise ValueError(f"{wanted}; got {got}")
    n_in, (n_h,), n_z = vae.n_in, hidden, vae.n_latent
    expected = {f"{prefix}.{kind}": (shape if kind == "W" else shape[1:])
                for prefix, shape in [("encoder.0", (n_in, n_h)), ("mu", (n_h, n_z)),
                                      ("logvar", (n_h, n_z)), ("decoder.0", (n_z, n_h)),
                                      ("decoder.1", (n_h, n_in))]
                for kind in ("W", "b")}
    shapes = {key: value.shape for key, value in vae.params.items()}
    if shapes != expected:
        raise ValueError(f"{wanted}; its parameters {shapes} differ from that layout {expected} "
                         f"(a {type(vae).__name__} with extra inputs or layers)")
    return n_in, n_h, n_z


def _check_state_dict(state_dict):
    if not hasattr(state_dict, "keys"):
        raise ValueError(f"state_dict must be a dict of arrays, got {type(state_dict).__name__}")
    missing = [k for k in STATE_KEYS if k not in state_dict]
    unexpected = sorted(set(state_dict.keys()) - set(STATE_KEYS))
    if missing or unexpected:
        raise ValueError(
            f"state_dict must have exactly the keys {list(STATE_KEYS)} (the PyTorch examples "
            f"VAE); missing {missing}, unexpected {unexpected}"
        )
    state = {}
    for key in STATE_KEYS:
        value = state_dict[key]
        if hasattr(value, "detach"):  # a torch tensor, without importing torch
            value = value.detach().cpu().numpy()
        value = np.asarray(value)
        want_ndim = 2 if key.endswith("weight") else 1
        if value.ndim != want_ndim or not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"state_dict[{key!r}] must be a {want_ndim}-D float array, got "
                             f"{value.dtype} with shape {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"state_dict[{key!r}] contains NaN or inf")
        state[key] = value
    return state
