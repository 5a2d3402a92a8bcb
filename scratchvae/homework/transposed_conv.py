"""Checkers for homework 5: the transposed convolution, from the lecture's 2 x 2 example to a
layer with channels, stride and padding, and its backward.

The lecture's picture: every input pixel stamps the kernel, scaled by the pixel, onto the output;
stamps sit ``stride`` pixels apart and overlapping stamps ADD. With x = [[0, 1], [2, 3]] and
K = [[0, 1], [2, 3]] (stride 1, no padding):

    [[0, 0, 1],
     [0, 4, 6],        = 0 * K at (0, 0) + 1 * K at (0, 1) + 2 * K at (1, 0) + 3 * K at (1, 1)
     [4, 12, 9]]

The general layer (shapes as in PyTorch and :mod:`scratchvae.conv`):

    full[n, o, h*stride + i, w*stride + j] += sum_c x[n, c, h, w] * W[c, o, i, j]
    out = full[:, :, padding : -padding, padding : -padding] + b[o]        (no crop if padding = 0)

x: (N, C_in, H, W), W: (C_in, C_out, kh, kw), b: (C_out,) -> out: (N, C_out, H_out, W_out) with
``H_out = (H - 1) * stride - 2 * padding + kh``. The checks compare with
:func:`scratchvae.conv.conv_transpose2d_forward` / ``_backward`` and finite differences.
"""

import numpy as np

from scratchvae import conv
from scratchvae.homework._core import (
    Check,
    expect_close_to_fd,
    finite_difference_grad_of_input,
    rng_for,
)
from scratchvae.homework._mistakes import expect_in_order

_REF = "scratchvae.conv.conv_transpose2d and finite differences"
LECTURE_X = np.array([[0.0, 1.0], [2.0, 3.0]])
LECTURE_K = np.array([[0.0, 1.0], [2.0, 3.0]])
LECTURE_Y = np.array([[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]])
"""The lecture's example: trans_conv(LECTURE_X, LECTURE_K) == LECTURE_Y."""


def stamps(x, W, stride=1, padding=0, flip=False, assign=False, swap_channels=False,
           crop="both"):
    """The uncropped-then-cropped stamp sum in NumPy loops, with the known mistakes as options
    (``flip`` the kernel, ``assign`` instead of add, ``swap_channels``: W read as conv2d's
    (C_out, C_in, kh, kw); ``crop``: "both" sides (right), only the "start" or the "end", or
    "slice", ``full[p:-p]``, which is empty for p = 0). No bias. The checker's second,
    independent forward."""
    if swap_channels:
        W = W.transpose(1, 0, 2, 3)
    if flip:
        W = W[:, :, ::-1, ::-1]
    N, _, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    full = np.zeros((N, C_out, (H - 1) * stride + kh, (Wd - 1) * stride + kw))
    for h in range(H):
        for w in range(Wd):
            stamp = np.einsum("nc,cokl->nokl", x[:, :, h, w], W)
            window = full[:, :, h * stride:h * stride + kh, w * stride:w * stride + kw]
            if assign:
                window[...] = stamp
            else:
                window += stamp
    return _crop(full, padding, crop)


def _crop(full, p, how="both"):
    """full[:, :, p:-p, p:-p] done right ("both"), or one of the known wrong crops."""
    H, Wd = full.shape[2], full.shape[3]
    if how == "start":
        return full[:, :, p:, p:]
    if how == "end":
        return full[:, :, :H - p, :Wd - p]
    if how == "slice":
        return full[:, :, p:-p, p:-p]
    return full[:, :, p:H - p, p:Wd - p]


def stamps_backward(dout, x, W, stride=1, padding=0, mistake=None):
    """Gradients ``(dx, dW, db)`` of ``sum(stamps(x, W, stride, padding) * dout)`` in NumPy
    loops: dout is zero-padded back to the uncropped size (shifted by ``padding``), then every
    input pixel (h, w) reads the window it stamped. ``mistake`` gives a known wrong variant:
    "no_shift" (dout placed at the top left of the uncropped array, not shifted by the
    padding), "no_stride" (windows 1 pixel apart), "assign_dW" (dW overwritten by each pixel's
    contribution instead of summed), "flip", "swap" (W read as (C_out, C_in, kh, kw))."""
    N, C_in, H, Wd = x.shape
    _, C_out, kh, kw = W.shape
    s = 1 if mistake == "no_stride" else stride
    Wk = W[:, :, ::-1, ::-1] if mistake == "flip" else W
    if mistake == "swap":  # only possible when C_in == C_out (else the einsum cannot run)
        Wk = W.transpose(1, 0, 2, 3)
    full_h, full_w = (H - 1) * stride + kh, (Wd - 1) * stride + kw
    dfull = np.zeros((N, C_out, max(full_h, (H - 1) * s + kh), max(full_w, (Wd - 1) * s + kw)))
    if mistake == "no_shift":
        dfull[:, :, :dout.shape[2], :dout.shape[3]] = dout
    else:
        dfull[:, :, padding:padding + dout.shape[2], padding:padding + dout.shape[3]] = dout
    dx, dW = np.zeros_like(x), np.zeros(W.shape)
    for h in range(H):
        for w in range(Wd):
            window = dfull[:, :, h * s:h * s + kh, w * s:w * s + kw]
            dx[:, :, h, w] = np.einsum("nokl,cokl->nc", window, Wk)
            contribution = np.einsum("nc,nokl->cokl", x[:, :, h, w], window)
            if mistake == "assign_dW":
                dW = contribution
            else:
                dW += contribution
    if mistake == "flip":
        dW = dW[:, :, ::-1, ::-1]
    if mistake == "swap":
        dW = dW.transpose(1, 0, 2, 3)
    return dx, dW, dout.sum(axis=(0, 2, 3))


# ---------------------------------------------------------------------------------------------
# the lecture's single-channel version: stride 1, no padding
# ---------------------------------------------------------------------------------------------


KERNEL_T = "stamp K as it is, not its transpose K.T"
OFFSETS_SWAPPED = ("pixel X[i, j] stamps at Y[i:i + kh, j:j + kw]: row offset i, column offset j "
                   "(you swapped them)")


def _transpose_hints(X, K):
    """The two transposition mistakes; in the lecture's example (X equal to K) they give the
    same Y, so one hint names both."""
    x4, k4 = X[None, None], K[None, None]
    kernel_t = stamps(x4, k4.transpose(0, 1, 3, 2))[0, 0] if K.shape[0] == K.shape[1] else None
    offsets = stamps(X.T[None, None], k4)[0, 0] if X.shape[0] == X.shape[1] else None
    if kernel_t is not None and offsets is not None and np.allclose(kernel_t, offsets):
        return {f"{KERNEL_T}; or {OFFSETS_SWAPPED}": kernel_t}
    return {KERNEL_T: kernel_t, OFFSETS_SWAPPED: offsets}


def check_trans_conv(trans_conv):
    """Check ``trans_conv(X, K) -> Y``: one channel, stride 1, no padding, no bias,
    X (h, w), K (kh, kw) -> Y (h + kh - 1, w + kw - 1), ``Y[i:i+kh, j:j+kw] += X[i, j] * K``.
    Case 1 is the lecture's example."""
    check = Check("trans_conv", "the lecture's example and scratchvae.conv.conv_transpose2d")
    cases = [(LECTURE_X, LECTURE_K)]
    for k, (x_shape, k_shape) in enumerate([((3, 4), (2, 2)), ((2, 3), (3, 2)), ((4, 4), (3, 3)),
                                            ((1, 1), (2, 3))]):
        rng = rng_for(check.exercise, k)
        cases.append((rng.standard_normal(x_shape), rng.standard_normal(k_shape)))
    for k, (X, K) in enumerate(cases):
        case = f"case {k + 1}: X {X.shape}, K {K.shape}" + (" (the lecture's example)"
                                                             if k == 0 else "")
        got = check.call(trans_conv, {"X": X.copy(), "K": K.copy()}, case)
        x4, k4 = X[None, None], K[None, None]
        expected = (LECTURE_Y if k == 0
                    else conv.conv_transpose2d_forward(x4, k4, np.zeros(1))[0][0, 0])
        valid = None
        if X.shape[0] >= K.shape[0] and X.shape[1] >= K.shape[1]:
            valid = conv.conv2d_forward(x4, k4, np.zeros(1))[0][0, 0]
        check.expect_array("Y", got, expected, case, {
            "the kernel is flipped: each input pixel stamps K as it is, Y[i:i+kh, j:j+kw] += "
            "X[i, j] * K (no flip)": stamps(x4, k4, flip=True)[0, 0],
            "overlapping stamps ADD: use +=, not =": stamps(x4, k4, assign=True)[0, 0],
            "that is an ordinary convolution (output h - kh + 1): a transposed convolution "
            "GROWS the image to (h + kh - 1, w + kw - 1)": valid,
            **_transpose_hints(X, K),
            "the output is (h + kh - 1, w + kw - 1): the last stamp starts at row h - 1 and "
            "ends at row h - 1 + kh - 1": np.pad(expected, ((0, 1), (0, 1))),
        }, extra=" = (h + kh - 1, w + kw - 1)")
    return check.done()


# ---------------------------------------------------------------------------------------------
# the layer: channels, batch, stride, padding, bias; and its backward
# ---------------------------------------------------------------------------------------------

LAYER_CASES = [  # (N, C_in, H, W, C_out, kh, kw, stride, padding)
    (2, 3, 3, 4, 2, 3, 3, 1, 0),
    (1, 2, 3, 3, 3, 2, 2, 2, 0),
    (2, 2, 3, 2, 2, 3, 3, 2, 1),   # C_in == C_out: a swapped W layout still has the right shape
    (1, 1, 2, 3, 2, 4, 3, 2, 1),
    (3, 2, 2, 2, 1, 3, 3, 3, 1),
]


def _layer_case(exercise, k):
    N, C_in, H, Wd, C_out, kh, kw, stride, padding = LAYER_CASES[k]
    rng = rng_for(exercise, k)
    x = rng.standard_normal((N, C_in, H, Wd))
    W = rng.standard_normal((C_in, C_out, kh, kw))
    b = rng.standard_normal(C_out)
    case = (f"case {k + 1}: x {x.shape}, W {W.shape}, stride={stride}, padding={padding}")
    return x, W, b, stride, padding, case


LAYOUT_HINT = ("W has shape (C_in, C_out, kh, kw) in a transposed convolution (a conv2d "
               "kernel is (C_out, C_in, ...)): output channel o gets sum_c x[:, c] * W[c, o], "
               "e.g. np.einsum('nc,cokl->nokl', x[:, :, h, w], W)")


CROP_BOTH = ("padding crops `padding` rows and columns on BOTH sides of the full stamp sum: "
             "full[:, :, p:H_full - p, p:W_full - p]")
CROP_ZERO = ("with padding = 0, full[:, :, 0:-0] is EMPTY (-0 is 0): slice up to "
             "full.shape[2] - padding instead")


def check_conv_transpose2d(conv_transpose2d):
    """Check ``conv_transpose2d(x, W, b, stride, padding) -> out`` (this module's docstring)."""
    check = Check("conv_transpose2d", "scratchvae.conv.conv_transpose2d_forward")
    for k in range(len(LAYER_CASES)):
        x, W, b, stride, padding, case = _layer_case(check.exercise, k)
        got = check.call(conv_transpose2d, {"x": x.copy(), "W": W.copy(), "b": b.copy(),
                                            "stride": stride, "padding": padding}, case,
                         crash_hint=LAYOUT_HINT)
        expected = conv.conv_transpose2d_forward(x, W, b, stride, padding)[0]
        bias = b.reshape(1, -1, 1, 1)
        x_padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
        square = W.shape[0] == W.shape[1]
        check.expect_array("out", got, expected, case, {
            "padding CROPS the output of a transposed convolution: drop `padding` rows and "
            "columns on each side of the full stamp sum": stamps(x, W, stride) + bias,
            "stamps sit `stride` pixels apart: input pixel (h, w) stamps at (h * stride, "
            "w * stride)": stamps(x, W, 1, padding) + bias,
            "add the bias b[o] to every pixel of output channel o": stamps(x, W, stride, padding),
            "the kernel is flipped: stamp W[c, o] as it is": stamps(x, W, stride, padding,
                                                                     flip=True) + bias,
            "overlapping stamps ADD: use +=, not =": stamps(x, W, stride, padding,
                                                            assign=True) + bias,
            LAYOUT_HINT: stamps(x, W, stride, padding, swap_channels=True) + bias
                         if square else None,
            CROP_BOTH: stamps(x, W, stride, padding, crop="start") + bias if padding else None,
            CROP_BOTH + " (you cropped only the end)": stamps(x, W, stride, padding,
                                                             crop="end") + bias
                                                      if padding else None,
            CROP_ZERO: stamps(x, W, stride, padding, crop="slice") + bias
                       if not padding else None,
            "padding in a transposed convolution CROPS the output; it does not pad the input "
            "(that is conv2d's padding)": stamps(x_padded, W, stride) + bias if padding else None,
            "add the bias once per output pixel, after summing the stamps (not once per "
            "stamp: overlapping stamps would add it several times)":
                stamps(x, W, stride, padding) + bias * stamps(
                    np.ones((1, 1) + x.shape[2:]), np.ones((1, 1) + W.shape[2:]), stride,
                    padding),
            "stamp W[c, o] as it is: W[c, o, i, j] lands at row offset i and column offset j "
            "(you transposed the kernel's two spatial axes)":
                stamps(x, W.transpose(0, 1, 3, 2), stride, padding) + bias
                if W.shape[2] == W.shape[3] else None,
            "stamps sit `stride` pixels apart, and padding crops `padding` on each side: you "
            "did neither": stamps(x, W, 1, 0) + bias if stride > 1 and padding else None,
        }, extra=" = (N, C_out, (H - 1) * stride - 2 * padding + kh, ...)")
    return check.done()


NO_SHIFT = ("shift dout by the padding: the forward cropped `padding` pixels on each side, so "
            "dout[:, :, i, j] belongs to the uncropped pixel (i + padding, j + padding). Pad "
            "dout back with zeros on BOTH sides, e.g. np.pad(dout, ((0, 0), (0, 0), (p, p), "
            "(p, p))), before reading the windows")
BWD_STRIDE = ("input pixel (h, w) stamped at (h * stride, w * stride): read its window of the "
              "(padded) dout there, stride pixels apart")


def check_conv_transpose2d_backward(conv_transpose2d_backward):
    """Check ``conv_transpose2d_backward(dout, x, W, stride, padding) -> (dx, dW, db)``: the
    gradients of ``sum(conv_transpose2d(x, W, b, stride, padding) * dout)``."""
    check = Check("conv_transpose2d_backward", _REF)
    for k in range(len(LAYER_CASES)):
        x, W, b, stride, padding, case = _layer_case(check.exercise, k)
        out, cache = conv.conv_transpose2d_forward(x, W, b, stride, padding)
        dout = rng_for(check.exercise, 100 + k).standard_normal(out.shape)
        result = check.call(conv_transpose2d_backward, {
            "dout": dout.copy(), "x": x.copy(), "W": W.copy(), "stride": stride,
            "padding": padding}, case, crash_hint=LAYOUT_HINT)
        dx, dW, db = check.unpack(result, ("dx", "dW", "db"), case)
        ex, eW, eb = conv.conv_transpose2d_backward(dout, cache)
        expect_in_order(check, (dx, dW, db), (ex, eW, eb), ("dx", "dW", "db"), case)
        flipped = conv.conv_transpose2d_forward(x, W[:, :, ::-1, ::-1].copy(), b, stride,
                                                padding)[1]
        square = W.shape[0] == W.shape[1]
        wrong = {m: stamps_backward(dout, x, W, stride, padding, m)
                 for m in ("no_shift", "no_stride", "assign_dW") + (("swap",) if square else ())}
        check.expect_array("dx", dx, ex, case, {
            "the kernel is flipped: dx[n, c, h, w] = sum over the stamp of pixel (h, w) of "
            "dout * W[c, o] as it is": conv.conv_transpose2d_backward(dout, flipped)[0],
            NO_SHIFT: wrong["no_shift"][0] if padding else None,
            BWD_STRIDE: wrong["no_stride"][0] if stride > 1 else None,
            LAYOUT_HINT: wrong["swap"][0] if square else None,
            "sign: dx is the gradient of sum(out * dout), not its negative": -ex,
        }, extra=" (the same as x)")
        check.expect_array("dW", dW, eW, case, {
            "sum dW over the batch, don't average": eW / x.shape[0] if x.shape[0] > 1 else None,
            "W has shape (C_in, C_out, kh, kw): dW[c, o] = sum x[:, c, h, w] * (dout in the "
            "stamp of (h, w))[:, o]": eW.transpose(1, 0, 2, 3),
            "every input pixel adds its contribution to dW: accumulate with dW += ..., don't "
            "overwrite dW = ... (only the last pixel would count)": wrong["assign_dW"][1],
            NO_SHIFT: wrong["no_shift"][1] if padding else None,
            BWD_STRIDE: wrong["no_stride"][1] if stride > 1 else None,
            "the kernel is flipped: dW[c, o, i, j] pairs x[c] with dout at offset (i, j) of "
            "the stamp, as it is": eW[:, :, ::-1, ::-1],
            "sign: dW is the gradient of sum(out * dout), not its negative": -eW,
            "don't divide dW by the number of input pixels: every pixel's contribution adds":
                eW / (x.shape[2] * x.shape[3]),
        }, extra=" (the same as W)")
        check.expect_array("db", db, eb, case, {
            "sum db over the batch AND both spatial axes: db = dout.sum(axis=(0, 2, 3))":
                dout.sum(axis=0),
            "sum, don't average: every output pixel gets b[o]": dout.mean(axis=(0, 2, 3)),
            "sum over axes (0, 2, 3): axis 1 is the channel": dout.sum(axis=(0, 1, 2)),
            "sum db over the spatial axes too, don't average them: every output pixel gets b[o]":
                eb / (dout.shape[2] * dout.shape[3]),
        }, extra=" (the same as b)")
        for name, got, i in (("dx", dx, 0), ("dW", dW, 1), ("db", db, 2)):
            numeric = finite_difference_grad_of_input(
                lambda x, W, b: np.sum(conv.conv_transpose2d_forward(x, W, b, stride, padding)[0]
                                       * dout), [x, W, b], i)
            expect_close_to_fd(check, name, got, numeric, case)
    return check.done()
