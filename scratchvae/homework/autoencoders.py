"""Checkers for homework 2: the autoencoder and denoising-autoencoder loss and training step.

The tiny autoencoder of the homework (keys as in the package's models):

    h     = tanh(x_in @ params["encoder.W"] + params["encoder.b"])     the code, (batch, n_code)
    x_hat = h @ params["decoder.W"] + params["decoder.b"]              linear output, (batch, n_in)
    loss  = 1/B sum_n ||x_hat_n - x_target_n||^2       summed over pixels, mean over the batch

A plain autoencoder calls it with ``x_in = x_target = x``; a denoising autoencoder with the
corrupted ``x_in = x_tilde`` and the clean ``x_target = x``.
"""

import numpy as np

from scratchvae import functional as F
from scratchvae.homework._core import (
    Check,
    expect_close_to_fd,
    expect_param_grads_close_to_fd,
    finite_difference_grad,
    rng_for,
)
from scratchvae.homework._mistakes import gradient_hints
from scratchvae.losses import mse, mse_grad

AE_KEYS = ("encoder.W", "encoder.b", "decoder.W", "decoder.b")


# ---------------------------------------------------------------------------------------------
# the squared-error loss
# ---------------------------------------------------------------------------------------------


def check_mse_loss(mse_loss):
    """Check ``mse_loss(x_hat, x) -> (loss, dx_hat)``: ``loss = 1/B sum_n sum_i (x_hat - x)^2``
    (a float) and its gradient ``dx_hat = 2 (x_hat - x) / B`` (shaped like x_hat)."""
    check = Check("mse_loss", "scratchvae.losses.mse and finite differences")
    for k, shape in enumerate([(4, 6), (1, 5), (8, 3), (3, 3)]):
        rng = rng_for(check.exercise, k)
        x = rng.uniform(0, 1, shape)
        x_hat = rng.uniform(-0.5, 1.5, shape)
        case = f"case {k + 1}: x {shape}"
        result = check.call(mse_loss, {"x_hat": x_hat.copy(), "x": x.copy()}, case)
        loss, dx_hat = check.unpack(result, ("loss", "dx_hat"), case)
        batch, d = shape
        sq = (x_hat - x) ** 2
        check.expect_scalar("loss", loss, float(np.mean(mse(x_hat, x))), case, {
            "mean over pixels vs sum? Sum over pixels, then average over the batch: "
            "loss = np.sum((x_hat - x)**2) / batch": sq.mean(),
            "divide by the batch size: the loss is a mean over examples": sq.sum(),
            "square the difference (x_hat - x)**2": np.sum(x_hat - x) / batch,
            "no square root: the loss is the squared error": np.sum(np.sqrt(sq.sum(1))) / batch,
            "one number: sum over the pixels, then average over the batch (not one loss per "
            "example)": sq.sum(axis=1) / batch,
            "one number: sum over the pixels, then average over the batch":
                sq.sum(axis=1) if batch > 1 else None,
            "no factor 1/2: loss = np.sum((x_hat - x)**2) / batch": sq.sum() / (2 * batch),
        })
        exact = mse_grad(x_hat, x) / batch
        check.expect_array("dx_hat", dx_hat, exact, case, {
            "missing factor 2: d/dx_hat (x_hat - x)^2 = 2 (x_hat - x)": exact / 2,
            "sign: the gradient is 2 (x_hat - x) / batch, not 2 (x - x_hat) / batch": -exact,
            "the loss is a mean over the batch, so its gradient carries 1/batch": exact * batch,
            "mean over pixels vs sum? The loss sums over pixels: dx_hat = 2 (x_hat - x) / batch":
                exact / d,
            "one gradient per entry of x_hat, shape (batch, n_pixels): don't sum over the batch":
                exact.sum(axis=0),
        }, extra=" (the same as x_hat)")
        numeric = finite_difference_grad(lambda v: np.mean(mse(v, x)), x_hat)
        expect_close_to_fd(check, "dx_hat", dx_hat, numeric, case)
    return check.done()


# ---------------------------------------------------------------------------------------------
# the corruption of a denoising autoencoder: masking noise
# ---------------------------------------------------------------------------------------------


def _check_kept_pixels_equal_x(check, got, x, level, case):
    """Fail unless the pixels of ``got`` that are not 0 equal x (hints: dropout's rescaling,
    destroyed pixels set to something other than 0)."""
    kept = got != 0
    if np.allclose(got[kept], x[kept], rtol=1e-12, atol=0):
        return
    ratio = np.median(got[kept] / x[kept])
    hint = None
    if level > 0 and np.isclose(ratio, 1 / (1 - level)):
        hint = ("kept pixels are scaled by 1 / (1 - level): that is dropout's rescaling; "
                "masking noise leaves the kept pixels as they are")
    changed = ~np.isclose(got, x, rtol=1e-12, atol=0)
    if hint is None and level > 0 and abs(float(changed.mean()) - level) <= 0.015:
        hint = ("masking noise sets the destroyed pixels to 0, not to another value "
                "(about `level` of the pixels changed, but not to 0)")
    check.fail("the pixels you did not set to 0 should equal x, but some changed "
               f"(median ratio x_tilde / x = {ratio:.4g})", case, hint)


def _check_mask_is_per_pixel(check, zeroed, level, case):
    """Fail if the mask ``zeroed`` (batch, pixels) is the same for every example or is one
    value per example."""
    kept = ~zeroed
    if 0 < level and np.all(zeroed == zeroed[:1]):
        check.fail("every example has the same mask: draw one value per pixel of every "
                   "example, shape x.shape, not x.shape[1:]", case)
    if 0 < level and np.all(zeroed.all(axis=1) | kept.all(axis=1)):
        check.fail("every example is either zeroed completely or kept completely: the mask "
                   "has one value per example", case,
                   "draw one random number per PIXEL, rng.random(x.shape), not one per "
                   "example (rng.random((x.shape[0], 1))): masking noise destroys pixels "
                   "independently")


def check_masking_noise(masking_noise):
    """Check ``masking_noise(x, level, rng) -> x_tilde``: every pixel independently set to 0
    with probability ``level`` (drawn from the Generator ``rng``, never ``np.random``), the other
    pixels unchanged (no rescaling), x itself unchanged.

    The draws are random, so this checks properties on a large batch (fixed seeds): the fraction
    of zeroed pixels, that kept pixels equal x, that masks differ between examples, and that the
    same seed gives the same result.
    """
    check = Check("masking_noise", "the definition of masking noise (properties on 60000 pixels)")
    for k, level in enumerate([0.25, 0.5, 0.1, 0.0]):
        x = rng_for(check.exercise, k).uniform(0.05, 1.0, (200, 300))  # no pixel is already 0
        case = f"case {k + 1}: x {x.shape}, level={level}"
        seed = 100 + k
        got = check.call(masking_noise, {"x": x.copy(), "level": level,
                                         "rng": np.random.default_rng(seed)}, case,
                         mutation_hint="x_tilde = x.copy() first, or x * mask")
        if not isinstance(got, np.ndarray) or got.shape != x.shape:
            check.expect_array("x_tilde", got, x, case)  # reports the type / shape problem
        if got.dtype != np.float64:
            check.fail(f"`x_tilde` has dtype {got.dtype}, expected float64", case)
        zeroed = got == 0
        _check_kept_pixels_equal_x(check, got, x, level, case)
        _check_mask_is_per_pixel(check, zeroed, level, case)
        fraction = float(zeroed.mean())
        if abs(fraction - level) > 0.015:
            hint = ("level is the fraction of pixels DESTROYED (set to 0), not the fraction kept"
                    if abs(fraction - (1 - level)) <= 0.015 else None)
            check.fail(f"{fraction:.3f} of the pixels are 0, expected about level={level}", case,
                       hint)
        again = check.run(masking_noise, [x.copy(), level, np.random.default_rng(seed)], case)
        if not np.array_equal(again, got):
            check.fail("the same rng seed gave different results: draw from the rng argument "
                       "(rng.random(x.shape)), not from np.random", case)
        if level > 0:
            other = check.run(masking_noise, [x.copy(), level, np.random.default_rng(seed + 1000)],
                              case)
            if np.array_equal(other, got):
                check.fail("different rng seeds gave the same mask: draw the mask from rng",
                           case)
    return check.done()


# ---------------------------------------------------------------------------------------------
# the tiny (denoising) autoencoder: loss and gradients, and one SGD step
# ---------------------------------------------------------------------------------------------


def ae_init(n_in, n_code, rng):
    """Parameters of the tiny autoencoder (float64), as the notebook and the checker use them."""
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    return {
        "encoder.W": rng.standard_normal((n_in, n_code)) / np.sqrt(n_in),
        "encoder.b": 0.1 * rng.standard_normal(n_code),
        "decoder.W": rng.standard_normal((n_code, n_in)) / np.sqrt(n_code),
        "decoder.b": 0.1 * rng.standard_normal(n_in),
    }


def ae_reference(params, x_in, x_target, mistake=None):
    """The tiny autoencoder's loss and grads from the package's ops; ``mistake`` names a known
    wrong variant (used to recognise it in a student's answer)."""
    batch = x_in.shape[0]
    if mistake == "target_is_input":
        x_target = x_in
    pre, enc_cache = F.dense_forward(x_in, params["encoder.W"], params["encoder.b"])
    h, act_cache = F.tanh_forward(pre)
    x_hat, dec_cache = F.dense_forward(h, params["decoder.W"], params["decoder.b"])
    loss = float(np.mean(mse(x_hat, x_target)))
    dx_hat = mse_grad(x_hat, x_target) / (1 if mistake == "no_batch_mean" else batch)
    dh, dWd, dbd = F.dense_backward(dx_hat, dec_cache)
    if mistake == "tanh_at_input":
        dpre = dh * (1 - pre * pre)
    elif mistake == "tanh_no_square":
        dpre = dh * (1 - h)
    else:
        dpre = F.tanh_backward(dh, act_cache)
    _, dWe, dbe = F.dense_backward(dpre, enc_cache)
    return loss, {"encoder.W": dWe, "encoder.b": dbe, "decoder.W": dWd, "decoder.b": dbd}


AE_MISTAKES = {
    "target_is_input": "compare the reconstruction with the clean x_target, not with the "
                       "(corrupted) input x_in",
    "no_batch_mean": "the loss is a mean over the batch, so every gradient carries 1/batch",
    "tanh_at_input": "tanh's derivative is 1 - h**2 with h = tanh(pre), the OUTPUT of tanh, "
                     "not 1 - pre**2",
    "tanh_no_square": "tanh's derivative is 1 - h**2 (squared)",
}


def _check_grads_dict(check, grads, expected, keys_shapes, case, hints_by_key):
    """Fail unless ``grads`` is a dict with the keys of params, each close to ``expected``."""
    if not isinstance(grads, dict):
        check.fail(f"`grads` should be a dict keyed like params, got {type(grads).__name__}",
                   case)
    missing = [k for k in keys_shapes if k not in grads]
    extra = [k for k in grads if k not in keys_shapes]
    if missing or extra:
        check.fail(f"`grads` must have the same keys as params; missing {missing}, "
                   f"unexpected {extra}", case)
    for key in keys_shapes:
        check.expect_array(f"grads['{key}']", grads[key], expected[key], case,
                           hints_by_key.get(key), extra=f" (the same as params['{key}'])")


def check_ae_loss_and_grads(ae_loss_and_grads):
    """Check ``ae_loss_and_grads(params, x_in, x_target) -> (loss, grads)`` for the tiny
    autoencoder of this module's docstring, with grads a dict keyed like params. Cases include
    a plain AE (x_in is x_target) and a denoising AE (x_in a corrupted x_target)."""
    check = Check("ae_loss_and_grads", "the package's dense/tanh/mse ops and finite differences")
    for k, (batch, n_in, n_code, denoising) in enumerate(
            [(4, 6, 3, False), (5, 5, 2, True), (1, 4, 4, True), (6, 7, 3, True)]):
        rng = rng_for(check.exercise, k)
        params = ae_init(n_in, n_code, rng)
        x = rng.uniform(0, 1, (batch, n_in))
        x_in = x * (rng.random(x.shape) >= 0.3) if denoising else x.copy()
        kind = "denoising, x_in = masked x_target" if denoising else "plain, x_in = x_target"
        case = f"case {k + 1} ({kind}): x {x.shape}, n_code={n_code}"
        args = {"params": {key: v.copy() for key, v in params.items()}, "x_in": x_in.copy(),
                "x_target": x.copy()}
        result = check.call(ae_loss_and_grads, args, case)
        loss, grads = check.unpack(result, ("loss", "grads"), case)
        exp_loss, exp_grads = ae_reference(params, x_in, x)
        variants = {m: ae_reference(params, x_in, x, m) for m in AE_MISTAKES}
        check.expect_scalar("loss", loss, exp_loss, case, {
            **{AE_MISTAKES[m]: variants[m][0] for m in AE_MISTAKES},
            "the loss is a mean over the batch: divide the summed squared error by the batch "
            "size": exp_loss * batch if batch > 1 else None,
            "sign: the loss is the squared error, >= 0": -exp_loss,
        })
        hints = {key: {**{AE_MISTAKES[m]: variants[m][1][key] for m in AE_MISTAKES},
                       **gradient_hints(exp_grads[key], batch)}
                 for key in AE_KEYS}
        _check_grads_dict(check, grads, exp_grads, AE_KEYS, case, hints)
        expect_param_grads_close_to_fd(check, grads, params,
                                       lambda p: ae_reference(p, x_in, x)[0], AE_KEYS, case)
    return check.done()


def check_sgd_step(sgd_step):
    """Check ``sgd_step(params, grads, lr)``: ``params[key] -= lr * grads[key]`` for every key,
    IN PLACE (the model holds these very arrays), grads unchanged; the return value is ignored."""
    check = Check("sgd_step", "p - lr * g, updated in place")
    for k, lr in enumerate([0.1, 0.01, 1.0]):
        rng = rng_for(check.exercise, k)
        params = ae_init(5, 2 + k, rng)
        grads = {key: rng.standard_normal(v.shape) for key, v in params.items()}
        before = {key: v.copy() for key, v in params.items()}
        arrays = dict(params)  # the array objects a model would hold
        case = f"case {k + 1}: lr={lr}"
        grads_in = {key: g.copy() for key, g in grads.items()}
        check.call(sgd_step, {"params": params, "grads": grads_in, "lr": lr}, case,
                   mutable=("params",))
        for key in AE_KEYS:
            expected = before[key] - lr * grads[key]
            live = arrays[key]
            if np.array_equal(live, before[key]):
                rebound = params.get(key) is not live
                hint = ("you assigned a new array (params[key] = params[key] - lr * grads[key]); "
                        "update it in place with params[key] -= lr * grads[key]: the model "
                        "holds the old array object" if rebound else
                        "update params in place; returning new values is not enough")
                check.fail(f"params['{key}'] was not changed in place", case, hint)
            check.expect_array(f"params['{key}']", live, expected, case, {
                "sign: gradient DESCENT subtracts the gradient (p -= lr * g)":
                    before[key] + lr * grads[key],
                "multiply the gradient by the learning rate lr": before[key] - grads[key],
                "step by lr * grads[key] exactly (no extra factor)":
                    before[key] - lr * grads[key] / 2,
                "step along the gradient itself, lr * grads[key], not its sign":
                    before[key] - lr * np.sign(grads[key]),
            })
    return check.done()
