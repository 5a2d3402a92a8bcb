"""Layers (params/grads dicts, one cache slot) and optimizers (Adam, SGD)."""

import numpy as np
import pytest

from scratchvae import layers, optim
from scratchvae.gradcheck import numerical_grad, rel_error


def _sequential_loss_and_grads(net, x, dout):
    out = net.forward(x)
    loss = float(np.sum(out * dout))
    dx = net.backward(dout)
    return loss, dx, {k: v.copy() for k, v in net.grads.items()}


@pytest.mark.parametrize("sizes", [(3, 4, 2), (5, 1), (2, 6, 6, 3)])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("activation", ["relu", "tanh", "softplus"])
def test_sequential_gradients_match_finite_differences(sizes, seed, activation):
    rng = np.random.default_rng(seed)
    net = layers.mlp(sizes, activation=activation, rng=seed, dtype=np.float64, backend="numpy")
    x = rng.standard_normal((4, sizes[0]))
    dout = rng.standard_normal((4, sizes[-1]))  # random upstream gradient
    _, dx, grads = _sequential_loss_and_grads(net, x, dout)
    assert set(grads) == set(net.params)
    for key, param in net.params.items():
        numeric = numerical_grad(lambda _p: np.sum(net.forward(x) * dout), param)
        assert rel_error(grads[key], numeric) < 1e-7, key
    numeric_dx = numerical_grad(lambda _x: np.sum(net.forward(x) * dout), x)
    assert rel_error(dx, numeric_dx) < 1e-7


def test_activation_layers_compose_in_sequential_with_dotted_keys():
    net = layers.Sequential(
        layers.Dense(3, 4, rng=0), layers.ReLU(), layers.Dense(4, 2, rng=1), layers.Sigmoid()
    )
    assert sorted(net.params) == ["0.W", "0.b", "2.W", "2.b"]
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = net.forward(x)
    assert out.shape == (5, 2) and np.all((out > 0) & (out < 1))
    dx = net.backward(np.ones_like(out))
    assert dx.shape == x.shape and sorted(net.grads) == sorted(net.params)


def test_backward_called_twice_gives_identical_grads():
    rng = np.random.default_rng(0)
    net = layers.mlp((3, 5, 2), rng=0, dtype=np.float64, backend="numpy")
    x, dout = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    net.forward(x)
    net.backward(dout)
    first = {k: v.copy() for k, v in net.grads.items()}
    net.backward(dout)
    for key in first:
        np.testing.assert_array_equal(net.grads[key], first[key])


def test_params_are_the_layers_own_arrays():
    net = layers.mlp((3, 4, 2), rng=0)
    net.params["0.W"][0, 0] = 123.0
    assert net.layers[0].params["W"][0, 0] == 123.0


def test_dense_initialisation_is_reproducible_and_bounded():
    a = layers.Dense(100, 10, rng=7)
    b = layers.Dense(100, 10, rng=7)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert np.max(np.abs(a.params["W"])) <= 1 / np.sqrt(100)
    assert not np.array_equal(a.params["W"], layers.Dense(100, 10, rng=8).params["W"])


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        layers.Dense(2, 2).backward(np.zeros((1, 2)))


def test_dense_rejects_bad_sizes_and_activation():
    with pytest.raises(ValueError, match="n_in must be a positive integer"):
        layers.Dense(0, 3)
    with pytest.raises(ValueError, match="activation must be one of"):
        layers.Dense(2, 3, activation="swish")


# --- optimizers -------------------------------------------------------------------------------


def test_adam_matches_three_hand_computed_steps():
    # By hand, lr = 0.1, betas (0.9, 0.999), eps = 1e-8, w0 = (1, -2):
    # step 1, g = (0.5, -1):  m = (0.05, -0.1), v = (2.5e-4, 1e-3), m_hat = (0.5, -1),
    #         v_hat = (0.25, 1)  ->  w = w0 - 0.1 * (0.5/0.5, -1/1) = (0.9, -1.9)
    # step 2, g = (0.2, 0.4): m = (0.065, -0.05), v = (2.8975e-4, 1.159e-3)
    #         m_hat = m / 0.19, v_hat = v / 0.001999  ->  w = (0.81014248, -1.86543942)
    # step 3, g = (-0.3, 0.1) ->  w = (0.78058715, -1.84474990)
    params = {"w": np.array([1.0, -2.0])}
    opt = optim.Adam(params, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    grads_seq = [np.array([0.5, -1.0]), np.array([0.2, 0.4]), np.array([-0.3, 0.1])]
    by_hand = [[0.9, -1.9], [0.81014248, -1.86543942], [0.78058715, -1.84474990]]
    for g, expected in zip(grads_seq, by_hand):
        opt.step({"w": g})
        np.testing.assert_allclose(params["w"], expected, rtol=1e-8)


def test_adam_first_step_moves_every_weight_by_lr():
    params = {"w": np.array([1.0, 1.0, 1.0])}
    optim.Adam(params, lr=0.01).step({"w": np.array([3.0, -0.001, 1e3])})
    np.testing.assert_allclose(params["w"], [0.99, 1.01, 0.99], rtol=1e-6)


def test_sgd_with_momentum_converges_on_a_quadratic():
    # f(w) = 1/2 (w - c)^T A (w - c), gradient A (w - c)
    A = np.diag([1.0, 10.0])
    c = np.array([3.0, -2.0])
    params = {"w": np.zeros(2)}
    opt = optim.SGD(params, lr=0.05, momentum=0.9)
    for _ in range(300):
        opt.step({"w": A @ (params["w"] - c)})
    np.testing.assert_allclose(params["w"], c, atol=1e-6)


def test_optimizer_state_is_separate_per_parameter():
    params = {"encoder.0.W": np.zeros(2), "decoder.0.W": np.zeros(2)}
    opt = optim.Adam(params, lr=0.1)
    opt.step({"encoder.0.W": np.ones(2), "decoder.0.W": np.zeros(2)})
    assert np.all(opt.m["encoder.0.W"] != 0) and np.all(opt.m["decoder.0.W"] == 0)
    assert not np.shares_memory(opt.m["encoder.0.W"], opt.m["decoder.0.W"])
    np.testing.assert_array_equal(params["decoder.0.W"], 0)


def test_optimizer_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    grads = [{"w": rng.standard_normal(3)} for _ in range(6)]
    a = {"w": np.ones(3)}
    opt_a = optim.Adam(a, lr=0.05)
    for g in grads:
        opt_a.step(g)
    b = {"w": np.ones(3)}
    opt_b = optim.Adam(b, lr=0.05)
    for g in grads[:3]:
        opt_b.step(g)
    state = {k: np.array(v, copy=True) for k, v in opt_b.state_dict().items()}
    c = {"w": b["w"].copy()}
    opt_c = optim.Adam(c, lr=0.05)
    opt_c.load_state_dict(state)
    for g in grads[3:]:
        opt_c.step(g)
    np.testing.assert_array_equal(c["w"], a["w"])


def test_optimizer_rejects_mismatched_grads():
    opt = optim.SGD({"w": np.zeros(2)}, lr=0.1)
    with pytest.raises(ValueError, match="missing"):
        opt.step({"v": np.zeros(2)})
    with pytest.raises(ValueError, match=r"grads\['w'\] has shape \(3,\), expected \(2,\)"):
        opt.step({"w": np.zeros(3)})


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1),
                                  lambda p: optim.Adam(p, backend="numpy"),
                                  lambda p: optim.Adam(p, backend="numba")])
def test_optimizer_checks_grads_after_fast_steps(make):
    """Steps with matching grads take the fast path; a later bad step still gets the full
    check (a ValueError naming the key) and changes nothing."""
    params = {"a.W": np.zeros((2, 3), np.float32), "a.b": np.zeros(3, np.float32)}
    opt = make(params)
    good = {"a.W": np.ones((2, 3), np.float32), "a.b": np.ones(3, np.float32)}
    assert opt._check_grads(good) is good  # recognised: no copy, no conversion
    for _ in range(3):
        opt.step(good)
    before = {key: value.copy() for key, value in params.items()}
    bad_cases = [
        ({"a.W": np.ones((3, 2), np.float32), "a.b": np.ones(3, np.float32)},
         r"grads\['a.W'\] has shape \(3, 2\), expected \(2, 3\)"),
        ({"a.W": np.ones((2, 3), np.float32), "a.b": np.ones(4, np.float32)},
         r"grads\['a.b'\] has shape \(4,\), expected \(3,\)"),
        ({"a.W": np.ones((2, 3), np.int64), "a.b": np.ones(3, np.float32)}, r"grads\['a.W'\]"),
        ({"a.W": np.ones((2, 3), np.float32)}, r"missing \['a.b'\]"),
        ({**good, "a.c": np.ones(1, np.float32)}, r"unexpected \['a.c'\]"),
        ([np.ones((2, 3))], "grads must be a dict"),
    ]
    for grads, message in bad_cases:
        with pytest.raises(ValueError, match=message):
            opt.step(grads)
    for key, value in params.items():
        np.testing.assert_array_equal(value, before[key])
    # grads the full check accepts (float64 for float32 params, nested lists) still work
    opt.step({"a.W": np.ones((2, 3)), "a.b": [1.0, 1.0, 1.0]})
    assert not np.array_equal(params["a.W"], before["a.W"])
