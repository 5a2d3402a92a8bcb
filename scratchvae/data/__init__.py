"""Data: procedural sprites (the embedded default), IDX/MAT/CIFAR readers, a dataset registry
with verified downloads, and minibatch iteration.

    import scratchvae as sv
    ds = sv.data.sprites(20000, rng=0)                          # ds.x (20000, 1024), ds.factors
    x, y = sv.data.load("mnist", split="test", root="../shared/data")   # float32 (10000, 784)
    for idx in sv.data.iterate_minibatches(len(x), 128, rng):   # int64 index arrays
        ...

Nothing here downloads or imports pooch until a missing file is requested.
"""

from scratchvae.data.batches import iterate_minibatches, minibatches, num_batches
from scratchvae.data.cifar import RestrictedUnpickler, read_cifar10
from scratchvae.data.download import (
    ENV_VAR,
    FileStatus,
    data_dir,
    dataset_dir,
    fetch,
    fetch_file,
    file_md5,
    file_sha256,
    file_status,
)
from scratchvae.data.errors import DataError
from scratchvae.data.frey import read_frey
from scratchvae.data.idx import read_idx, write_idx
from scratchvae.data.loaders import (
    STATIC_BINARIZE_SEED,
    DataSplit,
    binarize,
    load,
    load_split,
)
from scratchvae.data.matfile import read_mat, read_mat_variable
from scratchvae.data.registry import DATASETS, DatasetInfo, RemoteFile, get_info
from scratchvae.data.sprites import (
    FACTOR_NAMES,
    FACTOR_RANGES,
    SHAPE_NAMES,
    Sprites,
    render_sprites,
    sample_factors,
    sprites,
)

__all__ = [
    "DATASETS", "DataError", "DataSplit", "DatasetInfo", "ENV_VAR", "FACTOR_NAMES",
    "FACTOR_RANGES", "FileStatus", "RemoteFile", "RestrictedUnpickler", "SHAPE_NAMES",
    "STATIC_BINARIZE_SEED", "Sprites", "binarize", "data_dir", "dataset_dir", "fetch",
    "fetch_file", "file_md5", "file_sha256", "file_status", "get_info", "iterate_minibatches",
    "load", "load_split", "minibatches", "num_batches", "read_cifar10", "read_frey", "read_idx",
    "read_mat", "read_mat_variable", "render_sprites", "sample_factors", "sprites", "write_idx",
]
