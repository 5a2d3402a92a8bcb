"""``scratchvae sample RUN -n 64``: decode z ~ N(0, I) from a trained model into a PNG grid."""

from scratchvae.commands.common import at_most, int_list, nonnegative_int

MAX_SAMPLES = 10000
"""The most samples one PNG grid holds (-n); more would need gigabytes for nothing useful."""

HELP = "draw samples from a trained model (decoder means for z ~ N(0, I)) into a PNG"


def add_arguments(parser):
    """``scratchvae sample``'s arguments (RUN, -n and its options) on its argparse sub-parser."""
    parser.add_argument("run_path", metavar="RUN", help="run folder (or its model.npz)")
    parser.add_argument("-n", type=at_most(MAX_SAMPLES), default=64,
                        help=f"number of samples (1 to {MAX_SAMPLES})")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of z")
    parser.add_argument("--out", default=None,
                        help="PNG file to write, or a folder to write it in (default: "
                             "RUN/samples-n<N>-seed<SEED>.png)")
    parser.add_argument("--image-shape", type=int_list, default=None,
                        help="image shape such as 28,28 or 3,32,32 (default: from the run)")


def _image_shape(shape, meta, n_in):
    import math

    if shape:
        if math.prod(shape) != n_in:
            raise SystemExit(f"error: --image-shape {','.join(map(str, shape))} holds "
                             f"{math.prod(shape)} pixels; the model makes {n_in}")
        return shape
    if meta.get("image_shape"):
        return tuple(meta["image_shape"])
    side = math.isqrt(n_in)
    if side * side == n_in:
        return (side, side)
    raise SystemExit(f"error: cannot tell the image shape of {n_in} pixels; pass --image-shape")


def run(args):
    """Run ``scratchvae sample`` with the parsed ``args``: write a grid of decoded samples."""
    from pathlib import Path

    from scratchvae import plotting
    from scratchvae.checkpoint import load_checkpoint
    from scratchvae.commands.common import resolve_run

    run_dir, path = resolve_run(args.run_path)
    saved = load_checkpoint(path)
    model = saved.model
    if not model.can_sample:
        raise SystemExit(f"error: {type(model).__name__} has no prior to sample from (train a "
                         "VAE)")
    image_shape = _image_shape(args.image_shape, saved.metadata or {}, model.n_in)
    default_name = f"samples-n{args.n}-seed{args.seed}.png"
    out = Path(args.out) if args.out else run_dir / default_name
    if out.is_dir():
        out = out / default_name
    if not out.parent.is_dir():
        raise SystemExit(f"error: --out {out}: the folder {out.parent} does not exist")
    fig = plotting.samples(model, image_shape, n=args.n, rng=args.seed,
                           title=f"{args.n} samples, seed {args.seed}")
    fig.savefig(out, dpi=100)
    print(out)
    return 0
