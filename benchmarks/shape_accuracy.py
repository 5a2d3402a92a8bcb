"""Do the default run's reconstructions keep the sprite's shape? Shape accuracy of a classifier.

1. Runs the main job, ``scratchvae train`` with no options (only ``--out``/``--name`` point it
   at a temporary folder), in a fresh process, and times it; ``--cold`` gives that process an
   empty Numba cache (NUMBA_CACHE_DIR), so the JIT compilation is included.
2. Trains a judge on true sprites: ``sv.Classifier`` (an MLP softmax classifier, 1024-256-4)
   on 20,000 upright sprites drawn with a seed the run never saw (seed 2), 8 epochs.
3. Prints how often the judge recognises the shape of (a) the 1,000 true test sprites and
   (b) the default run's reconstructions of them (the mean images sigmoid(logits) at z = mu,
   the pictures in reconstructions.png); chance is 0.25. Also the share of 1,000 prior samples
   that the judge calls with probability >= 0.9 (a sample that is a smear gets a hedged call).

Exits with status 1 when the reconstructions' shape accuracy is below 0.8.

    python benchmarks/shape_accuracy.py            # warm: reuses the Numba cache
    python benchmarks/shape_accuracy.py --cold     # cold: empty Numba cache for the run
    python benchmarks/shape_accuracy.py --run runs/vae-sprites-...   # judge an existing run
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BAR = 0.8
CONFIDENT = 0.9


def run_default_job(out, cold):
    """``scratchvae train --out OUT --name default`` in a fresh process; its wall seconds."""
    env = dict(os.environ)
    if cold:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cache-")
    command = [sys.executable, "-m", "scratchvae", "train", "--out", str(out), "--name", "default"]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True)
    return time.perf_counter() - started


def train_judge(seed=2, n=20000, epochs=8):
    """An MLP classifier trained on ``n`` true (upright) sprites to tell their shape."""
    import scratchvae as sv
    from scratchvae.commands.common import SPRITES_FIXED

    ds = sv.data.sprites(n, rng=seed, fixed=SPRITES_FIXED)
    judge = sv.Classifier(n_in=ds.x.shape[1], n_classes=len(ds.shape_names), hidden=(256,),
                          rng=seed)
    sv.fit(judge, ds.x, y_train=ds.labels, epochs=epochs, batch_size=64, rng=seed,
           progress=False)
    return judge


def shape_accuracy(run_dir, judge=None):
    """Dict of the judge's shape accuracy on true test sprites and on the run's reconstructions,
    and the share of prior samples it calls with probability >= CONFIDENT."""
    import numpy as np

    import scratchvae as sv
    from scratchvae.commands.common import load_dataset

    model = sv.load(Path(run_dir) / "model.npz")
    x_test, shape_test, _ = load_dataset("sprites", "test")
    judge = judge or train_judge()
    samples = model.sample(1000, rng=0)
    return dict(
        true=judge.accuracy(x_test, shape_test),
        reconstructions=judge.accuracy(model.reconstruct(x_test), shape_test),
        confident_samples=float(np.mean(judge.predict_proba(samples).max(axis=1) >= CONFIDENT)),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=None,
                        help="judge this run folder instead of training the default job")
    parser.add_argument("--cold", action="store_true",
                        help="run the job with an empty Numba cache (JIT compile included)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run
        if run_dir is None:
            seconds = run_default_job(Path(tmp), args.cold)
            print(f"scratchvae train (default, {'cold' if args.cold else 'warm'} Numba cache): "
                  f"{seconds:.1f} s wall time")
            run_dir = Path(tmp) / "default"
        result = shape_accuracy(run_dir)
    print(f"shape accuracy on true test sprites:                {result['true']:.3f}")
    print(f"shape accuracy on the default run's reconstructions: {result['reconstructions']:.3f}"
          f" (bar {BAR}, chance 0.25)")
    print(f"prior samples the judge calls with p >= {CONFIDENT}:        "
          f"{result['confident_samples']:.3f}")
    return 0 if result["reconstructions"] >= BAR else 1


if __name__ == "__main__":
    sys.exit(main())
