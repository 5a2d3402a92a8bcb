"""``scratchvae gradcheck``: check every op and a tiny VAE against finite differences."""

from scratchvae.commands.common import nonnegative_int, positive_float

HELP = "gradient-check every op, loss and a tiny VAE (float64, central differences) and print a table"


def add_arguments(parser):
    """``scratchvae gradcheck``'s options (--seed, --tol, ...) on its argparse sub-parser."""
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed for inputs and upstream gradients")
    parser.add_argument("--tol", type=positive_float, default=1e-7,
                        help="max relative error allowed")


def _op_cases(rng):
    """(name, forward, backward, inputs, wrt) for every op in the core."""
    from scratchvae import functional as F
    from scratchvae import losses
    from scratchvae.reparam import reparameterize, reparameterize_backward

    x = rng.standard_normal((4, 5))
    cases = [("dense", F.dense_forward, F.dense_backward,
              [x, rng.standard_normal((5, 3)), rng.standard_normal(3)], None)]
    for name, (forward, backward) in F.ACTIVATIONS.items():
        if name != "identity":
            cases.append((name, forward, backward, [rng.standard_normal((4, 5)) * 2], None))
    mu, logvar = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)) * 0.5
    cases.append(("reparameterize", reparameterize, reparameterize_backward,
                  [mu, logvar, rng.standard_normal((4, 3))], (0, 1)))

    def per_example(loss, grad):
        """Wrap a (batch,) loss and the gradient of its sum as an op pair."""
        def forward(*inputs):
            return loss(*inputs), inputs

        def backward(dloss, inputs):
            grads = grad(*inputs)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(dloss[:, None] * g for g in grads)

        return forward, backward

    kl = per_example(losses.kl_standard_normal, losses.kl_standard_normal_grad)
    cases.append(("kl_standard_normal", *kl, [mu, logvar], None))
    target = rng.uniform(size=(4, 6))
    bern = per_example(lambda lg: losses.bernoulli_nll(lg, target),
                       lambda lg: losses.bernoulli_nll_grad(lg, target))
    cases.append(("bernoulli_nll", *bern, [rng.standard_normal((4, 6))], None))
    gauss = per_example(lambda m, lv: losses.gaussian_nll(target, m, lv),
                        lambda m, lv: losses.gaussian_nll_grad(target, m, lv))
    cases.append(("gaussian_nll", *gauss,
                  [rng.uniform(size=(4, 6)), rng.standard_normal((4, 6)) * 0.5], None))
    mse = per_example(lambda xh: losses.mse(xh, target), lambda xh: losses.mse_grad(xh, target))
    cases.append(("mse", *mse, [rng.uniform(size=(4, 6))], None))
    return cases


def run(args):
    """Run ``scratchvae gradcheck`` with the parsed ``args``: check every op, then a tiny VAE."""
    import numpy as np

    import scratchvae as sv
    from scratchvae.gradcheck import GradientCheckError, check_model, check_op

    rng = np.random.default_rng(args.seed)
    rows = []
    for name, forward, backward, inputs, wrt in _op_cases(rng):
        try:
            report = check_op(forward, backward, inputs, rng=args.seed, tol=args.tol, wrt=wrt)
        except GradientCheckError as err:
            print(err)
            rows.append((f"op {name}", float("inf")))
            continue
        rows.append((f"op {name}", report.max_rel_error))
    for likelihood in ("bernoulli", "gaussian", "gaussian_fixed"):
        vae = sv.VAE(n_in=8, hidden=(6,), n_latent=3, likelihood=likelihood, beta=0.5,
                     sigma=0.5, activation="tanh", dtype=np.float64, backend="numpy",
                     rng=args.seed)
        x = rng.uniform(size=(5, 8))
        eps = rng.standard_normal((5, 3))
        try:
            report = check_model(vae, x, eps=eps, tol=args.tol)
        except GradientCheckError as err:
            print(err)
            rows.append((f"VAE({likelihood})", float("inf")))
            continue
        for entry in report.entries:
            rows.append((f"VAE({likelihood}) {entry.name}", entry.rel_error))
    width = max(len(name) for name, _ in rows)
    print(f"{'quantity':<{width}}  rel_error  (tol {args.tol:.0e}, float64, central differences)")
    failed = 0
    for name, err in rows:
        ok = err < args.tol
        failed += not ok
        print(f"{name:<{width}}  {err:9.2e}  {'ok' if ok else 'FAIL'}")
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if failed else 0
