"""The one size limit of the data readers: what a file may declare before anything is inflated.

A small file can declare a huge array (an IDX header, a MAT tag, a gzip or zlib stream that
expands 1000 times). Every reader compares the bytes a header declares with
:data:`MAX_DECLARED_BYTES` before it inflates or allocates them, and refuses a larger claim with
a :class:`~scratchvae.data.errors.DataError` naming the file. The limit admits every dataset
scratchvae knows (the largest, CIFAR-10's training split, is 50,000 x 3,072 bytes = 154 MB;
MNIST's training images are 47 MB).
"""

import math

from scratchvae.data.errors import DataError

MAX_DECLARED_BYTES = 2**30
"""1 GiB: the most bytes one array (or one compressed element) of a data file may declare."""


def declared_bytes(dims, itemsize):
    """Bytes an array of shape ``dims`` declares, counting a 0 dimension as 1.

    Python ints, so nothing wraps around; zero-sized dimensions do not hide the others (NumPy
    refuses a shape such as (0, 2**32, 2**32) whose non-zero product is too big, too).
    """
    return math.prod(max(int(d), 1) for d in dims) * int(itemsize)


def check_declared_bytes(where, what, nbytes):
    """Raise DataError when ``nbytes`` (what ``what`` in ``where`` declares) is over the limit."""
    if nbytes > MAX_DECLARED_BYTES:
        raise DataError(f"{where}: {what} declares {nbytes:,} bytes, more than the "
                        f"{MAX_DECLARED_BYTES:,}-byte limit of scratchvae's readers "
                        "(scratchvae.data.limits.MAX_DECLARED_BYTES); a malformed or hostile file")
    return nbytes
