"""``scratchvae evaluate RUN``: test -ELBO, importance-sampled -log p(x) and active units.

RUN is a run folder written by ``scratchvae train`` (or its model.npz, or any checkpoint with
``--dataset``). The dataset and split sizes come from the checkpoint's metadata.
"""

from scratchvae.commands.common import (
    PROGRESS,
    add_progress_argument,
    at_most,
    check_root,
    dataset_name,
    nonnegative_int,
    positive_int,
)

HELP = "evaluate a trained run on its test set: -ELBO, importance-sampled NLL, active units"


def add_arguments(parser):
    """``scratchvae evaluate``'s arguments (RUN and its options) on its argparse sub-parser."""
    from scratchvae.commands.common import DATASETS

    parser.add_argument("run_path", metavar="RUN", help="run folder (or its model.npz)")
    parser.add_argument("--dataset", default=None, choices=DATASETS, type=dataset_name,
                        help="evaluate on this dataset (default: the one the run trained on)")
    parser.add_argument("--root", default=None, help="data directory (default: the run's)")
    parser.add_argument("--n-test", type=positive_int, default=None,
                        help="test examples (default: as many as the run used)")
    parser.add_argument("-k", "--k", type=at_most(100_000, nonnegative_int), default=100,
                        help="importance samples per example for -log p(x) (0: skip; at most "
                             "100000)")
    parser.add_argument("--is-examples", type=positive_int, default=1000,
                        help="test examples used for the importance-sampled estimate (it costs "
                             "k decoder passes per example)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the sampled z")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    add_progress_argument(parser)


def _check_model(model, path, dataset, x):
    """SystemExit unless the checkpoint's model (a package model: it declares the interface)
    reconstructs its input and takes examples of the size of ``dataset``'s."""
    if not model.has_decoder:
        raise SystemExit(f"error: {path} holds a {type(model).__name__}, which does not "
                         "reconstruct its input: evaluate needs an autoencoder or a VAE")
    if x[0].size != model.n_in:
        raise SystemExit(f"error: {path} holds a model of {model.n_in} inputs per example; "
                         f"{dataset} has {x[0].size} (pass --dataset with the data it was "
                         "trained on)")


def run(args):
    """Run ``scratchvae evaluate`` with the parsed ``args``: print the run's test figures."""
    import json
    import time

    from scratchvae import evaluate
    from scratchvae.checkpoint import load_checkpoint
    from scratchvae.commands.common import load_dataset, resolve_run

    check_root(args.root)
    _, path = resolve_run(args.run_path)
    saved = load_checkpoint(path)
    model, meta = saved.model, saved.metadata or {}
    dataset = args.dataset or meta.get("dataset")
    if dataset is None:
        raise SystemExit(f"error: {path} does not say which dataset it was trained on; pass "
                         "--dataset")
    root = args.root if args.root is not None else meta.get("root")
    n_test = args.n_test or (meta.get("n_test") if dataset == meta.get("dataset") else None)
    x, y, _ = load_dataset(dataset, "test", root, n_test)
    _check_model(model, path, dataset, x)
    results = {"run": str(path), "dataset": dataset, "split": "test", "n_examples": int(len(x)),
               "epoch": meta.get("epoch")}
    started = time.perf_counter()
    y = y if model.needs_labels else None  # cvae, m2: conditional on y
    if model.has_gaussian_encoder:
        elbo = evaluate.evaluate_elbo(model, x, rng=args.seed, y=y)
        results.update(neg_elbo=elbo["neg_elbo"], reconstruction=elbo["reconstruction"],
                       kl=elbo["kl"])
        if args.k > 0:
            n_is = min(len(x), args.is_examples)
            nll = evaluate.importance_sampled_nll(model, x[:n_is], k=args.k, rng=args.seed,
                                                  y=None if y is None else y[:n_is],
                                                  progress=PROGRESS[args.progress])
            results.update(is_nll=float(nll.mean()), is_k=args.k, is_examples=n_is)
        count, variances = evaluate.active_units(model, x, y=y)
        results.update(active_units=count, n_latent=int(len(variances)))
    results["reconstruction_mse"] = float(evaluate.reconstruction_error(model, x, y=y).mean())
    results["seconds"] = time.perf_counter() - started

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{path}  (epoch {results['epoch']}) on {dataset} test, {len(x)} examples")
    if "neg_elbo" in results:
        print(f"  -ELBO (sampled z)        {results['neg_elbo']:10.3f} nats per example")
        print(f"    reconstruction NLL     {results['reconstruction']:10.3f}")
        print(f"    KL(q(z|x) || p(z))     {results['kl']:10.3f}")
        if "is_nll" in results:
            print(f"  -log p(x), IS k={args.k:<6}  {results['is_nll']:10.3f} nats per example "
                  f"({results['is_examples']} examples)")
        print(f"  active units (Var_x mu > 0.01)  {results['active_units']} of "
              f"{results['n_latent']}")
    where = "at z = mu" if "neg_elbo" in results else "of x_hat = f(g(x))"
    print(f"  reconstruction MSE {where}, per pixel  {results['reconstruction_mse']:.5f}")
    print(f"  ({results['seconds']:.1f} s)")
    return 0
