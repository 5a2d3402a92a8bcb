"""Read the Frey Face data, ``frey_rawface.mat`` (Brendan Frey's face, from Sam Roweis' page).

The file holds one MATLAB variable ``ff``: uint8, 560 x 1965. Each column is one 28-pixel-high,
20-pixel-wide grey-scale frame of a video, stored row by row (20 values of the top row, then
the next row, ...). In NumPy terms: ``ff.T.reshape(1965, 28, 20)`` is the stack of frames,
which is how the VAE literature reads it (``loadmat(...)["ff"].T.reshape(-1, 28, 20)``).
The .mat file is read with :mod:`scratchvae.data.matfile` (level 4 or 5), not scipy.
"""

import numpy as np

from scratchvae.data.errors import DataError
from scratchvae.data.matfile import read_mat_variable

FILE = "frey_rawface.mat"
IMAGE_SHAPE = (28, 20)
N_IMAGES = 1965
N_TRAIN = 1765  # train = the first 1,765 frames, test = the last 200 (a held-out stretch of video)


def read_frey(path):
    """Read ``frey_rawface.mat`` -> uint8 ``(1965, 560)``, one frame per row (28 x 20, row order).

    Checks the structure (variable ``ff``, uint8, 560 x 1965) and raises :class:`DataError`
    naming the file when it differs.
    """
    ff = read_mat_variable(path, "ff")
    expected = (IMAGE_SHAPE[0] * IMAGE_SHAPE[1], N_IMAGES)
    if ff.dtype != np.uint8 or ff.shape != expected:
        raise DataError(f"{path}: variable 'ff' must be uint8 of shape {expected}, got "
                        f"{ff.dtype} {ff.shape}")
    return np.ascontiguousarray(ff.T)
