"""The NumPy conv ops under their backend names: the very functions of :mod:`scratchvae.conv`.

Kept so ``from scratchvae.kernels import conv_reference`` reads as the twin of ``conv_jit``;
the readable loops (im2col, col2im) and the conv ops with their activations live in
:mod:`scratchvae.conv`, and :data:`scratchvae.kernels.reference.OPS` lists them with the other ops.
"""

from scratchvae.conv import (  # noqa: F401
    ConvActCache,
    col2im,
    conv2d_act_backward,
    conv2d_act_forward,
    conv_transpose2d_act_backward,
    conv_transpose2d_act_forward,
    im2col,
)
