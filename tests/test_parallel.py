"""Data parallelism (scratchvae.parallel): the same loss and gradients as the model itself."""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import scratchvae as sv
from scratchvae import parallel
from scratchvae.kernels import conv_jit, jit


def _models(backend, dtype=np.float64):
    return [
        sv.VAE(n_in=12, hidden=(7,), n_latent=3, dtype=dtype, backend=backend, rng=1),
        sv.ConvVAE(image_shape=(1, 8, 8), n_latent=3, channels=(4,), dtype=dtype,
                   backend=backend, rng=2),
    ]


def _batch(model, n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, model.n_in)).astype(model.dtype)
    eps = rng.standard_normal((n, model.n_latent)).astype(model.dtype)
    return x, eps


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_loss_grads_and_terms_equal_the_model_on_the_whole_batch(backend, threads, n):
    for model in _models(backend):
        x, eps = _batch(model, n)
        loss, grads = model.loss_and_grads(x, eps, beta=0.7)
        grads = {k: g.copy() for k, g in grads.items()}
        terms = dict(model.last_loss_terms)
        with parallel.DataParallel(model, threads) as data_parallel:
            loss_dp, grads_dp = data_parallel.loss_and_grads(x, eps, beta=0.7)
        assert loss_dp == pytest.approx(loss, rel=1e-12)
        assert grads_dp.keys() == grads.keys()
        for key in grads:
            np.testing.assert_allclose(grads_dp[key], grads[key], rtol=1e-10, atol=1e-13,
                                       err_msg=f"{type(model).__name__} {key}")
        assert model.last_loss_terms == pytest.approx(terms, rel=1e-12)
        assert data_parallel.last_loss_terms is model.last_loss_terms


def test_noise_is_drawn_for_the_whole_batch_so_the_thread_count_does_not_change_it():
    for model in _models("numba"):
        x, _ = _batch(model, 6)
        loss, _ = model.loss_and_grads(x, rng=123)
        for threads in (2, 4):
            loss_dp, _ = parallel.DataParallel(model, threads).loss_and_grads(x, rng=123)
            assert loss_dp == pytest.approx(loss, rel=1e-12)


def test_every_copy_uses_the_models_current_beta():
    model = _models("numba")[0]
    data_parallel = parallel.DataParallel(model, 2)
    model.beta = 3.0  # changed after the copies were made
    x, eps = _batch(model, 6)
    loss, _ = model.loss_and_grads(x, eps)
    loss_dp, _ = data_parallel.loss_and_grads(x, eps)
    assert loss_dp == pytest.approx(loss, rel=1e-12)


def test_float32_results_match_the_model_to_float32_rounding():
    model = _models("numba", np.float32)[1]
    x, eps = _batch(model, 16)
    loss, grads = model.loss_and_grads(x, eps)
    grads = {k: g.copy() for k, g in grads.items()}
    loss_dp, grads_dp = parallel.DataParallel(model, 2).loss_and_grads(x, eps)
    assert loss_dp == pytest.approx(loss, rel=1e-5)
    for key in grads:
        assert grads_dp[key].dtype == np.float32
        np.testing.assert_allclose(grads_dp[key], grads[key], rtol=1e-4, atol=1e-6)


def test_copies_share_the_parameters_so_an_optimizer_step_updates_all():
    model = _models("numba")[1]
    data_parallel = parallel.DataParallel(model, 3)
    assert data_parallel.params is model.params
    for replica in data_parallel.replicas[1:]:
        assert replica is not model
        for key, value in model.params.items():
            assert replica.params[key] is value
    x, eps = _batch(model, 9)
    _, grads = data_parallel.loss_and_grads(x, eps)
    before = {k: v.copy() for k, v in model.params.items()}
    sv.optim.Adam(data_parallel.params, lr=0.1).step(grads)
    changed = [k for k in before if not np.array_equal(before[k], model.params[k])]
    assert changed
    for replica in data_parallel.replicas[1:]:
        for key in changed:
            np.testing.assert_array_equal(replica.params[key], model.params[key])


def test_blas_thread_count_is_set_back_after_a_step_and_after_an_error():
    model = _models("numba")[1]
    x, eps = _batch(model, 6)
    with threadpool_limits(limits=2, user_api="blas"):
        data_parallel = parallel.DataParallel(model, 2)
        data_parallel.loss_and_grads(x, eps)
        assert parallel.blas_threads() == 2
        bad = x.copy()
        bad[-1, 0] = np.nan  # in the second thread's slice: its error reaches the caller
        with pytest.raises(ValueError, match="NaN"):
            data_parallel.loss_and_grads(bad, eps)
        assert parallel.blas_threads() == 2
        data_parallel.close()


def test_bad_arguments_are_refused_with_the_expected_shapes():
    model = _models("numba")[0]
    data_parallel = parallel.DataParallel(model, 2)
    with pytest.raises(ValueError, match=r"x must be a 2-D array \(n, 12\)"):
        data_parallel.loss_and_grads(np.zeros(12))
    with pytest.raises(ValueError, match=r"eps must have shape \(4, 3\)"):
        data_parallel.loss_and_grads(np.zeros((4, 12)), eps=np.zeros((4, 2)))
    with pytest.raises(ValueError, match="threads must be"):
        parallel.DataParallel(model, 0)


@pytest.mark.parametrize("make", [
    lambda: sv.CVAE(n_in=12, n_classes=3, hidden=(5,), n_latent=2),
    lambda: sv.Autoencoder(n_in=12, hidden=(5,), n_code=2),
    lambda: sv.IWAE(n_in=12, hidden=(5,), n_latent=2),
])
def test_models_whose_loss_is_not_a_plain_mean_are_refused(make):
    with pytest.raises(ValueError, match="DataParallel supports VAE or ConvVAE models"):
        parallel.DataParallel(make(), 2)


def test_for_training_chooses_data_parallel_for_the_conv_vae_on_numba_with_several_blas_threads():
    dense, conv = _models("numba")
    conv_numpy = _models("numpy")[1]
    with threadpool_limits(limits=2, user_api="blas"):
        chosen = parallel.for_training(conv)
        assert isinstance(chosen, parallel.DataParallel) and chosen.threads == 2
        assert parallel.for_training(dense) is dense  # measured slower in parallel
        assert parallel.for_training(conv_numpy) is conv_numpy
        assert parallel.for_training(conv, threads=1) is conv
        assert parallel.for_training(dense, threads=3).threads == 3
    with threadpool_limits(limits=1, user_api="blas"):
        assert parallel.for_training(conv) is conv
    with pytest.raises(ValueError, match="DataParallel supports"):
        parallel.for_training(sv.Autoencoder(n_in=12, hidden=(5,), n_code=2), threads=2)


def test_fit_with_threads_gives_the_history_of_fit_without():
    x = np.random.default_rng(0).uniform(size=(40, 64))
    results = []
    for threads in (1, 2):
        model = _models("numba")[1]
        history = sv.fit(model, x, epochs=2, batch_size=16, x_val=x[:8], rng=3, progress=False,
                         threads=threads)
        results.append((history, model.params))
    (h1, p1), (h2, p2) = results
    np.testing.assert_allclose(h2["train_loss"], h1["train_loss"], rtol=1e-9)
    np.testing.assert_allclose(h2["train_kl"], h1["train_kl"], rtol=1e-9)
    np.testing.assert_allclose(h2["val_loss"], h1["val_loss"], rtol=1e-9)
    for key in p1:
        np.testing.assert_allclose(p2[key], p1[key], rtol=1e-8, atol=1e-12)


def test_every_numba_kernel_releases_the_python_lock():
    """The threads of DataParallel run at the same time only if the kernels release the GIL."""
    kernels = [value for module in (jit, conv_jit) for value in vars(module).values()
               if hasattr(value, "targetoptions") and value.__module__ == module.__name__]
    assert len(kernels) > 15
    for kernel in kernels:
        assert kernel.targetoptions.get("nogil") is True, kernel.__name__


def test_fit_refuses_threads_for_models_that_train_with_their_own_step_or_are_not_supported():
    x = np.random.default_rng(0).uniform(size=(16, 12))
    aae = sv.AdversarialAutoencoder(n_in=12, hidden=(5,), n_code=2, disc_hidden=(4,))
    with pytest.raises(ValueError, match="threads=2 needs a model trained by loss_and_grads"):
        sv.fit(aae, x, epochs=1, progress=False, threads=2)
    with pytest.raises(ValueError, match="DataParallel supports VAE or ConvVAE"):
        sv.fit(sv.Autoencoder(n_in=12, hidden=(5,), n_code=2), x, epochs=1, progress=False,
               threads=2)
