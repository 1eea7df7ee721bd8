"""``gradlab train``: the flagship job, LeNet-5 on MNIST.

    gradlab train --data ~/.cache/gradlab --out runs/lenet
    python -m gradlab train --epochs 1 --limit-train 2000 --out runs/quick
    gradlab train --out runs/lenet --resume          # continue after a stop

What a run does, epoch by epoch: trains with a progress bar (loss, images/s),
evaluates on the test set, prints ``train loss / test accuracy / time``, and
writes into ``--out``:

* ``checkpoint.gradlab``: model and optimizer state, the epoch, and the
  random-number states (the global one and the shuffling generator's), saved
  with ``gradlab.save`` (atomic: a stop mid-write keeps the previous one).
  ``--resume`` continues from it and ends with exactly the weights an
  uninterrupted run with the same seed would have, bit for bit, whatever
  ``--threads`` each part ran with (the kernels take their parallel sums in
  an order that does not depend on the threads).
* ``metrics.json``: ``{"dataset": ..., "epochs": [{"epoch", "train_loss",
  "test_accuracy", "seconds"}, ...], ...}``.
* ``learning_curve.png``: training loss and test accuracy (needs matplotlib).

The data: the four MNIST files under ``--data`` (default ``$GRADLAB_DATA``,
else ``~/.cache/gradlab``), downloaded there unless ``--no-download``.  When
they cannot be had, the run says so and trains on scikit-learn's digits
(resized to 28x28) instead, so the command always runs.

The default recipe (Adam, batch 128, 4 epochs, a one-cycle schedule: the
learning rate rises linearly to 3e-3 over the first 15% of the steps, then
falls linearly to nearly 0 at the end) reaches 99% MNIST test accuracy
(99.1-99.3% over seeds 0-2).  On digits the default is 15 epochs.
``--recipe fast`` is the shortest run to 99% found (1.5 planned epochs,
label smoothing, a moving average of the weights, test evaluations every 35
steps from step 528; it stops at the first evaluation reaching ``--target``
99% and prints the steps and seconds of training it took).
A one-cycle run has a planned length, so ``--resume`` finishes it; with
``--schedule decay`` (warm-up, then times ``--lr-decay`` per epoch) the
learning rate depends on the step alone and ``--resume --epochs N`` can also
extend a finished run.  tqdm and matplotlib are optional
(``pip install -e ".[train]"``): without them progress is printed as plain
lines and the plot is skipped.

What goes wrong is said without a traceback: a bad flag, an --out that
cannot be written, a --resume from a damaged or foreign file end at once
with ``gradlab train: error: ...`` and exit status 2; a run whose loss
becomes NaN or infinite stops with exit status 1, naming the epoch and step
and keeping the last good checkpoint; Ctrl-C during training stops it before
its next step (a second press at once), exits with 130 and says what the
checkpoint holds.

The package: ``options`` (flags and their checks), ``run`` (the training
run), ``output`` (progress, metrics, plot).
"""
import sys

# the names gradlab.cli had as one module stay importable from it (bench/train_lenet.py uses several)
from .options import DEFAULT_EPOCHS, DEFAULT_LR, RECIPE_DEFAULTS, build_parser, parse_args  # noqa: F401
from .output import Progress, plot_curve, say, write_json  # noqa: F401
from .run import (CHECKPOINT, CURVE, DECAY_WARMUP_EPOCHS, METRICS, MNIST_MEAN, MNIST_STD,  # noqa: F401
                  ONECYCLE_FLOOR, ONECYCLE_WARMUP, Interrupted, Run, RunFailed, TrainError, data_dir,
                  load_checkpoint, load_data, lr_at, make_optimizer, resolve_epochs, resolve_recipe,
                  thread_limit, train)

__all__ = ["main", "build_parser", "train"]


def main(argv=None):
    """Entry point of the ``gradlab`` console script; returns the exit status.

    2: a user error (argparse exits with it itself for a bad flag); 1: the run
    failed after it started; 130: interrupted.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["exercises"]:
        from .. import exercises
        return exercises.main(argv[1:])
    args = parse_args(argv)
    try:
        if args.command == "train":
            train(args)
    except TrainError as e:
        print(f"gradlab train: error: {e}", file=sys.stderr)
        return 2
    except RunFailed as e:
        print(f"gradlab train: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print("\n" + _interrupted_note(e), file=sys.stderr)
        return 130
    return 0


def _interrupted_note(e):
    if not isinstance(e, Interrupted):
        return "interrupted before training started; nothing was written"
    if e.saved_epoch is None:
        return "interrupted during the first epoch; no checkpoint was written yet (run again to start over)"
    return f"interrupted; {e.path} holds epoch {e.saved_epoch} (--resume continues from there)"
