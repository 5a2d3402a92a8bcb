"""``scratchvae train``: train a model (default: a VAE on procedural sprites) and write a run folder.

    runs/<name>/model.npz      checkpoint (written after every epoch; model + Adam state + metadata)
    runs/<name>/history.json   fit()'s history: per-epoch losses and seconds
    runs/<name>/run.json       what was trained on what: dataset, split sizes, options
    runs/<name>/*.png          reconstructions, samples, latent traversal, loss curve

The default run (a 1024-512-10 VAE on 10,000 upright sprites, 10 epochs, Adam 2e-3) takes under
a minute on two cores, and its reconstructions keep each sprite's shape:
``benchmarks/shape_accuracy.py`` measures how often a classifier trained on true sprites
recognises the shape in them.
"""

import json
import time
from pathlib import Path

from scratchvae.commands.common import (  # noqa: F401  (DATASETS & co. lived here)
    DATASET_DEFAULTS,
    DATASETS,
    PROGRESS,
    SPRITES_SEEDS,
    add_progress_argument,
    check_root,
    dataset_name,
    int_list,
    load_dataset,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
    resolve_run,
)
from scratchvae.models import cli_entries

HELP = "train a model (default: a VAE on the embedded sprites) and save it with figures"

#: what ``val_loss`` is for each model (from the models' registry entries)
VAL_LOSS_MEANING = {name: entry.val_loss_meaning for name, entry in cli_entries().items()}


def add_arguments(parser):
    """``scratchvae train``'s options (dataset, model, sizes, epochs, ...) on its argparse sub-parser."""
    from scratchvae.kernels import BACKENDS, DEFAULT_BACKEND
    from scratchvae.registry import model_names

    parser.add_argument("--dataset", default="sprites", choices=DATASETS, type=dataset_name,
                        help="training data (sprites are generated, upright; the others are "
                             "read from --root and downloaded if missing)")
    parser.add_argument("--root", default=None,
                        help="data directory (default: $SCRATCHVAE_DATA or the user cache)")
    parser.add_argument("--model", default="vae", choices=model_names(), help="model to train")
    parser.add_argument("--likelihood", default=None,
                        choices=("bernoulli", "gaussian", "gaussian_fixed"),
                        help="decoder likelihood (default: bernoulli; gaussian for frey-face, "
                             "gaussian_fixed for cifar10)")
    parser.add_argument("--latent", type=positive_int, default=None,
                        help="size of z (default: 10 for sprites and frey-face, 20 for MNIST-like, "
                             "64 for cifar10)")
    parser.add_argument("--hidden", type=int_list, default=None,
                        help="hidden-layer widths, e.g. 512,256 (default: 512 for sprites, 400 "
                             "for MNIST-like)")
    parser.add_argument("--beta", type=nonnegative_float, default=1.0,
                        help="KL weight (beta-VAE)")
    parser.add_argument("--epochs", type=positive_int, default=10,
                        help="passes over the training set")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="examples per step")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="Adam learning rate (default: 2e-3 for sprites, else 1e-3)")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed for the initial weights, shuffling and noise")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, choices=BACKENDS,
                        help="kernels: numba (fast) or numpy (reference)")
    parser.add_argument("--out", default="runs", help="folder that holds the run folders")
    parser.add_argument("--name", default=None,
                        help="run folder name (default: <model>-<dataset>-<date>-<time>)")
    parser.add_argument("--n-train", type=positive_int, default=None,
                        help="training examples (default: 10000 sprites, else the whole split)")
    parser.add_argument("--n-test", type=positive_int, default=None,
                        help="test examples (default: 1000 sprites, else the whole split)")
    parser.add_argument("--kl-warmup", type=nonnegative_int, default=0,
                        help="epochs of linear KL warm-up (beta from 0 to --beta)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="data parallelism: threads, each on a slice of every batch "
                             "(default: automatic, on for convvae with numba and 2+ BLAS "
                             "threads; 1: off)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    add_progress_argument(parser)


def _run_name(out, model, dataset):
    base = f"{model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, counter = base, 2
    while (out / name).exists():
        name, counter = f"{base}-{counter}", counter + 1
    return name


def write_figures(model, run_dir, x, image_shape, history=None, rng=0):
    """Write the run's PNGs; return their paths. Figures a model cannot make are skipped."""
    from scratchvae import plotting

    written = []

    def save(fig, filename):
        path = run_dir / filename
        fig.savefig(path, dpi=100)
        written.append(path)

    n = min(len(x), 16)
    if model.needs_labels:  # cvae, m2: samples (classes in turn) only
        save(plotting.samples(model, image_shape, n=64, rng=rng), "samples.png")
        if history is not None:
            save(plotting.loss_curves(history), "loss_curve.png")
        return written
    save(plotting.reconstructions(x[:n], model.reconstruct(x[:n]), image_shape),
         "reconstructions.png")
    if model.can_sample:
        save(plotting.samples(model, image_shape, n=64, rng=rng), "samples.png")
    save(plotting.latent_traversal(model, x[0], image_shape), "traversal.png")
    if plotting.latent_size(model) == 2:
        save(plotting.latent_manifold_2d(model, image_shape, n=20), "manifold.png")
    if history is not None:
        save(plotting.loss_curves(history), "loss_curve.png")
    return written


# ---------------------------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------------------------


def _model_and_data(args):
    """(model, (x_train, y_train), (x_test, y_test), image_shape, options) for the options of
    ``args`` (dataset defaults filled in); labels are kept only for models that use them."""
    from scratchvae.registry import build_model

    defaults = DATASET_DEFAULTS[args.dataset]
    options = dict(
        hidden=args.hidden or defaults["hidden"], latent=args.latent or defaults["latent"],
        likelihood=args.likelihood or defaults["likelihood"], beta=args.beta,
        backend=args.backend, seed=args.seed,
    )
    x_train, y_train, image_shape = load_dataset(args.dataset, "train", args.root, args.n_train)
    x_test, y_test, _ = load_dataset(args.dataset, "test", args.root, args.n_test)
    if y_train is not None:  # for models that condition on labels (cvae, m2)
        options["n_classes"] = int(max(y_train.max(), y_test.max())) + 1
    model = build_model(args.model, x_train.shape[1], image_shape, options)
    if not model.needs_labels:
        y_train = y_test = None
    return model, (x_train, y_train), (x_test, y_test), image_shape, options


def run(args):
    """Run ``scratchvae train`` with the parsed ``args``: train, then write the run folder."""
    from scratchvae.progress import epoch_line, show_progress
    from scratchvae.train import fit

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} is a file; it must name a folder (for run folders)")
    check_root(args.root)
    lr = args.lr if args.lr is not None else DATASET_DEFAULTS[args.dataset].get("lr", 1e-3)
    started = time.perf_counter()
    model, (x_train, y_train), (x_test, y_test), image_shape, options = _model_and_data(args)

    run_dir = out / (args.name or _run_name(out, args.model, args.dataset))
    run_dir.mkdir(parents=True, exist_ok=True)
    info = dict(
        command="train", model_name=args.model, dataset=args.dataset, root=args.root,
        n_train=int(len(x_train)), n_test=int(len(x_test)), image_shape=list(image_shape),
        options={k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
        epochs=args.epochs, batch_size=args.batch_size, lr=lr, kl_warmup=args.kl_warmup,
    )
    (run_dir / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"training {args.model} on {args.dataset} ({len(x_train)} examples, "
          f"{model.n_params:,} parameters, backend {args.backend}) -> {run_dir}")

    progress = PROGRESS[args.progress]

    def report(epoch, history, model):
        if not show_progress(progress):  # fit prints this line itself beside its bar
            print(epoch_line(history, args.epochs), flush=True)
        return False

    history = fit(model, x_train, epochs=args.epochs, batch_size=args.batch_size,
                  x_val=x_test, y_train=y_train, y_val=y_test, rng=args.seed, lr=lr,
                  checkpoint=run_dir / "model.npz", progress=progress,
                  kl_warmup_epochs=args.kl_warmup, metadata=info, callbacks=[report],
                  threads=args.threads)
    (run_dir / "history.json").write_text(json.dumps(history, indent=1) + "\n")
    written = [run_dir / "model.npz", run_dir / "history.json", run_dir / "run.json"]
    if not args.no_figures:
        written += write_figures(model, run_dir, x_test, image_shape,
                                 history if history["epoch"] else None, rng=args.seed)
    _print_summary(args, history, written, run_dir, time.perf_counter() - started)
    return 0


def _print_summary(args, history, written, run_dir, seconds):
    """The last lines of ``scratchvae train``: losses, the files written, what to run next."""
    if history["epoch"]:
        print(f"done in {seconds:.1f} s: train_loss "
              f"{history['train_loss'][-1]:.3f}, val_loss {history['val_loss'][-1]:.3f} "
              f"({VAL_LOSS_MEANING.get(args.model, 'the model loss on the test set')})")
    print("wrote:")
    for path in written:
        print(f"  {path}")
    print(f"next: scratchvae evaluate {run_dir}   |   scratchvae sample {run_dir} -n 64")
