"""README's reading map names the functions that run (issue 27).

The table "Where to read the code" in README.md is parsed; one training step of every model is
run on the NumPy backend under a tracer (``sys.setprofile``) that records the code object of
every Python function called. Then:

- every function the map names in the math modules (functional, reparam, losses, conv) exists
  and runs in the traced steps: dense, activations, reparameterization, KL, likelihoods, and
  the conv ops for the ConvVAE; each model runs the ops of its kind;
- conversely, every op of those modules that runs (a public ``*_forward``, ``*_backward``,
  ``*_grad``, ``*_nll``, ``kl_*``, ``mse``, ``reparameterize``, ``im2col``, ``col2im``) is named
  in the map: the map and the code cannot drift apart;
- the gradients a model returns are the ones those calls produced: patching one named op to
  scale its output (``dense_backward``'s dW, ``conv2d_backward``'s dW, the KL gradient)
  changes the model's grads by exactly that factor where it should, and nowhere else.
"""

import importlib
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchvae as sv
from scratchvae import conv, functional, losses, reparam

ROOT = Path(__file__).resolve().parents[1]
MATH_MODULES = {"scratchvae/functional.py": functional, "scratchvae/reparam.py": reparam,
                "scratchvae/losses.py": losses, "scratchvae/conv.py": conv}
OP_NAME = re.compile(r"^(.*_forward|.*_backward|.*_grad|.*_nll|kl_.*|mse|reparameterize|"
                     r"im2col|col2im)$")


def expand(token):
    """Shell-style brace expansion, as the map writes names: ``dense{,_act}_{forward,backward}``
    -> dense_forward, dense_backward, dense_act_forward, dense_act_backward."""
    match = re.search(r"\{([^{}]*)\}", token)
    if not match:
        return [token]
    return [name for alternative in match[1].split(",")
            for name in expand(token[:match.start()] + alternative + token[match.end():])]


def reading_map():
    """[(what, path or None, [paths], [names])] from README's table "Where to read the code";
    paths are relative to the repository (the table writes them relative to scratchvae/)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Where to read the code", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in ("what", "---"):
            continue
        what, where = cells
        paths = ["scratchvae/" + p for p in re.findall(r"`([\w/]+\.py|[\w/]+/)`", where)]
        match = re.match(r"`([\w/]+\.py)`: (.*)", where)
        path = "scratchvae/" + match[1] if match else None
        names = []
        if match:
            tokens = re.findall(r"`([^`]+)`", match[2])
            names = [n for t in tokens if not t.endswith((".py", "/")) for n in expand(t)]
        rows.append((what, path, paths, names))
    return rows


def named_ops():
    """{code object: "path: name"} of the functions the map names in the math modules."""
    named = {}
    for _, path, _, names in reading_map():
        if path in MATH_MODULES:
            for name in names:
                function = getattr(MATH_MODULES[path], name)
                named[function.__code__] = f"{path}: {name}"
    return named


def traced(step):
    """Run ``step()`` under sys.setprofile; return the set of code objects called."""
    called = set()

    def profile(frame, event, arg):
        if event == "call":
            called.add(frame.f_code)

    sys.setprofile(profile)
    try:
        step()
    finally:
        sys.setprofile(None)
    return called


def _data(n_in, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(6, n_in))


def _labels():
    return np.array([0, 1, 2, 0, 1, 2])


MODELS = {  # name -> (build, step(model) -> grads), each on the NumPy backend, float64
    "VAE": (lambda: sv.VAE(n_in=12, hidden=(8,), n_latent=3, backend="numpy",
                           dtype=np.float64, rng=0),
            lambda m: m.loss_and_grads(_data(12), rng=1)[1]),
    "VAE gaussian": (lambda: sv.VAE(n_in=12, hidden=(8,), n_latent=3, likelihood="gaussian",
                                    backend="numpy", dtype=np.float64, rng=0),
                     lambda m: m.loss_and_grads(_data(12), rng=1)[1]),
    "Autoencoder": (lambda: sv.Autoencoder(n_in=12, hidden=(8,), n_code=3, backend="numpy",
                                           dtype=np.float64, rng=0),
                    lambda m: m.loss_and_grads(_data(12))[1]),
    "DenoisingAutoencoder": (lambda: sv.DenoisingAutoencoder(n_in=12, hidden=(8,), n_code=3,
                                                             backend="numpy", dtype=np.float64,
                                                             rng=0),
                             lambda m: m.loss_and_grads(_data(12), rng=1)[1]),
    "DenoisingVAE": (lambda: sv.DenoisingVAE(n_in=12, hidden=(8,), n_latent=3, backend="numpy",
                                             dtype=np.float64, rng=0),
                     lambda m: m.loss_and_grads(_data(12), rng=1)[1]),
    "CVAE": (lambda: sv.CVAE(n_in=12, n_classes=3, hidden=(8,), n_latent=3, backend="numpy",
                             dtype=np.float64, rng=0),
             lambda m: m.loss_and_grads(_data(12), _labels(), rng=1)[1]),
    "IWAE": (lambda: sv.IWAE(n_in=12, hidden=(8,), n_latent=3, k=4, backend="numpy",
                             dtype=np.float64, rng=0),
             lambda m: m.loss_and_grads(_data(12), rng=1)[1]),
    "M2": (lambda: sv.M2(n_in=12, n_classes=3, hidden=(8,), n_latent=3, backend="numpy",
                         dtype=np.float64, rng=0),
           lambda m: m.loss_and_grads(_data(12), np.array([0, 1, -1, -1, 2, -1]), rng=1)[1]),
    "AdversarialAutoencoder": (
        lambda: sv.AdversarialAutoencoder(n_in=12, hidden=(8,), n_code=2, disc_hidden=(5,),
                                          backend="numpy", dtype=np.float64, rng=0),
        lambda m: {**m.loss_and_grads(_data(12))[1],
                   **{f"D:{k}": v for k, v in m.discriminator_loss_and_grads(_data(12),
                                                                             rng=1)[1].items()},
                   **{f"G:{k}": v for k, v in m.generator_loss_and_grads(_data(12))[1].items()}}),
    "ConvVAE": (lambda: sv.ConvVAE(image_shape=(1, 8, 8), n_latent=3, channels=(2, 3),
                                   backend="numpy", dtype=np.float64, rng=0),
                lambda m: m.loss_and_grads(_data(64), rng=1)[1]),
    "Classifier": (lambda: sv.Classifier(n_in=12, n_classes=3, hidden=(8,), backend="numpy",
                                         dtype=np.float64, rng=0),
                   lambda m: m.loss_and_grads(_data(12), _labels())[1]),
}

DENSE = ["dense_forward", "dense_backward", "dense_act_forward", "dense_act_backward",
         "relu_forward", "relu_backward"]
LATENT = ["reparameterize", "reparameterize_backward", "kl_standard_normal",
          "kl_standard_normal_grad"]
BERNOULLI = ["bernoulli_nll", "bernoulli_nll_grad", "bernoulli_nll_and_grad"]
CONV = ["conv2d_forward", "conv2d_backward", "conv_transpose2d_forward",
        "conv_transpose2d_backward", "im2col", "col2im", "conv2d_act_forward",
        "conv2d_act_backward", "conv_transpose2d_act_forward", "conv_transpose2d_act_backward"]
EXPECTED = {  # the ops each model's step must run (names looked up in the map)
    "VAE": DENSE + LATENT + BERNOULLI + ["reparam_kl_forward", "reparam_kl_backward"],
    "VAE gaussian": DENSE + LATENT + ["gaussian_nll", "gaussian_nll_grad",
                                      "gaussian_nll_and_grad", "sigmoid_forward",
                                      "sigmoid_backward"],
    "Autoencoder": DENSE + ["mse", "mse_grad"],
    "DenoisingAutoencoder": DENSE + ["mse", "mse_grad"],
    "DenoisingVAE": DENSE + LATENT + BERNOULLI,
    "CVAE": DENSE + LATENT + BERNOULLI,
    "IWAE": DENSE + ["reparameterize", "reparameterize_backward"] + BERNOULLI,
    "M2": DENSE + LATENT + BERNOULLI,
    "AdversarialAutoencoder": DENSE + BERNOULLI,
    "ConvVAE": DENSE + LATENT + BERNOULLI + CONV,
    "Classifier": DENSE,
}


@pytest.fixture(scope="module")
def traces():
    """model name -> (code objects called during one step, the grads it returned)."""
    result = {}
    for name, (build, step) in MODELS.items():
        model = build()
        grads = {}
        called = traced(lambda: grads.update(step(model)))  # noqa: B023
        result[name] = (called, {k: np.array(v) for k, v in grads.items()})
    return result


def test_the_map_has_the_rows_the_issue_asks_for_and_every_path_exists():
    rows = reading_map()
    names = {name for _, _, _, row_names in rows for name in row_names}
    assert len(rows) >= 9
    for required in ("dense_forward", "dense_backward", "relu_forward", "reparameterize",
                     "reparameterize_backward", "kl_standard_normal", "kl_standard_normal_grad",
                     "bernoulli_nll", "gaussian_nll", "conv2d_forward", "conv2d_backward",
                     "conv_transpose2d_forward", "conv_transpose2d_backward", "im2col", "col2im"):
        assert required in names, required
    for what, path, paths, row_names in rows:
        assert paths, what
        for p in paths:
            assert (ROOT / p).exists(), (what, p)
        if path is not None:  # every name is defined in the file the row names
            module = importlib.import_module(path[:-3].replace("/", "."))
            for dotted in row_names:
                obj = module
                for part in dotted.split("."):
                    obj = getattr(obj, part)
                assert inspect.getsourcefile(obj) == str(ROOT / path), (dotted, path)


def test_every_op_the_map_names_runs_and_each_model_runs_its_ops(traces):
    named = named_ops()
    called_anywhere = set().union(*(called for called, _ in traces.values()))
    never = sorted(where for code, where in named.items() if code not in called_anywhere)
    assert not never, f"named in README's map but never run by a model's step: {never}"
    by_name = {where.split(": ")[1]: code for code, where in named.items()}
    for model, ops in EXPECTED.items():
        called, _ = traces[model]
        missing = [op for op in ops if by_name[op] not in called]
        assert not missing, f"{model}'s step does not run {missing}"


def test_every_op_that_runs_is_named_in_the_map(traces):
    named = set(named_ops())
    called_anywhere = set().union(*(called for called, _ in traces.values()))
    unnamed = []
    for path, module in MATH_MODULES.items():
        for name, function in vars(module).items():
            code = getattr(function, "__code__", None)
            if (code is not None and function.__module__ == module.__name__
                    and OP_NAME.match(name) and code in called_anywhere and code not in named):
                unnamed.append(f"{path}: {name}")
    assert not unnamed, f"ops that run but README's map does not name: {unnamed}"


def test_the_vae_step_is_the_method_the_map_names(traces):
    called, _ = traces["VAE"]
    assert sv.VAE.loss_and_grads.__code__ in called


def _scaled(function, index, factor):
    """``function`` with its output number ``index`` (of a tuple) multiplied by ``factor``."""
    def scaled(*args, **kwargs):
        out = list(function(*args, **kwargs))
        out[index] = out[index] * factor
        return tuple(out)
    return scaled


def _grads_before_and_after(model_name, module, op_name, index, factor, monkeypatch):
    """The model's grads, then its grads again with output number ``index`` of
    ``module.op_name`` multiplied by ``factor`` (a fresh model of the same seed each time)."""
    build, step = MODELS[model_name]
    want = {k: np.array(v) for k, v in step(build()).items()}
    monkeypatch.setattr(module, op_name, _scaled(getattr(module, op_name), index, factor))
    return want, step(build())


def _assert_only_scaled(got, want, scaled_keys, factor):
    """``got[key]`` is ``factor * want[key]`` for the keys in ``scaled_keys``, ``want[key]`` for
    every other key."""
    assert scaled_keys
    for key in want:
        np.testing.assert_allclose(got[key], (factor if key in scaled_keys else 1.0) * want[key],
                                   rtol=1e-12, atol=1e-300, err_msg=key)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_the_grads_are_what_dense_backward_produced(model_name, monkeypatch):
    # dense_backward's dW doubled: every dense weight gradient doubles, nothing else changes
    want, got = _grads_before_and_after(model_name, functional, "dense_backward", 1, 2.0,
                                        monkeypatch)
    assert set(got) == set(want)
    dense_weights = [k for k in want if k.endswith(".W") and want[k].ndim == 2]
    _assert_only_scaled(got, want, dense_weights, 2.0)


def test_the_convvae_grads_are_what_conv2d_backward_produced(monkeypatch):
    # conv2d_backward's dW tripled: the encoder's conv kernels' gradients triple
    want, got = _grads_before_and_after("ConvVAE", conv, "conv2d_backward", 1, 3.0, monkeypatch)
    conv_weights = [k for k in want if want[k].ndim == 4 and k.startswith("encoder.")]
    _assert_only_scaled(got, want, conv_weights, 3.0)


def test_the_vae_grads_are_what_the_kl_gradient_produced(monkeypatch):
    # with z's path unchanged, a KL gradient scaled by 0 leaves only the reconstruction's
    # gradient in mu and logvar: the encoder's grads change, the decoder's do not
    build, step = MODELS["VAE"]
    want = {k: np.array(v) for k, v in step(build()).items()}
    monkeypatch.setattr(reparam, "kl_standard_normal_grad",
                        lambda mu, logvar, **kw: (0 * mu, 0 * logvar))
    got = step(build())
    for key in want:
        if key.startswith("decoder."):
            np.testing.assert_array_equal(got[key], want[key])
        else:
            assert not np.allclose(got[key], want[key]), key
