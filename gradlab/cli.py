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
A one-cycle run has a planned length, so ``--resume`` finishes it; with
``--schedule decay`` (warm-up, then times ``--lr-decay`` per epoch) the
learning rate depends on the step alone and ``--resume --epochs N`` can also
extend a finished run.  tqdm and matplotlib are optional
(``pip install -e ".[train]"``): without them progress is printed as plain
lines and the plot is skipped.
"""
import argparse
import contextlib
import json
import os
import sys
import time

__all__ = ["main", "build_parser", "train"]

CHECKPOINT = "checkpoint.gradlab"
METRICS = "metrics.json"
CURVE = "learning_curve.png"

# The recipe: what a run needs to be repeated exactly.  Resuming takes these
# from the checkpoint; giving a different value on the command line is an error.
RECIPE_DEFAULTS = {
    "dataset": "mnist",
    "batch_size": 128,
    "lr": None,  # DEFAULT_LR[optimizer]
    "optimizer": "adam",
    "schedule": "onecycle",
    "lr_decay": 0.5,
    "seed": 0,
    "limit_train": None,
    "limit_test": None,
}
DEFAULT_LR = {"adam": 3e-3, "sgd": 0.05}  # sgd: with momentum 0.9
DEFAULT_EPOCHS = {"mnist": 4, "digits": 15}  # digits is 40x smaller: more passes
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
ONECYCLE_WARMUP, ONECYCLE_FLOOR = 0.15, 0.01  # warm-up fraction of the run, final lr fraction
DECAY_WARMUP_EPOCHS = 0.25


# ---------------------------------------------------------------- command line


def build_parser():
    parser = argparse.ArgumentParser(prog="gradlab", description="gradlab: an educational deep-learning engine.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser("exercises", help="exercises that rebuild gradlab's core, graded (list, new, check)",
                        add_help=False)
    t = commands.add_parser("train", help="train LeNet-5 on MNIST (or scikit-learn's digits)",
                            description="Train LeNet-5 on MNIST with a progress bar; write a checkpoint, "
                                        "metrics.json and a learning curve into --out after every epoch.")
    t.add_argument("--data", metavar="DIR", default=None,
                   help="folder holding (or to hold) the MNIST files "
                        "(default: $GRADLAB_DATA, else ~/.cache/gradlab)")
    t.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="download MNIST into --data when the files are missing (default: yes)")
    t.add_argument("--dataset", choices=["mnist", "digits"], default=None,
                   help="mnist, or scikit-learn's digits resized to 28x28 (default: mnist)")
    t.add_argument("--epochs", type=_positive_int, default=None,
                   help=f"number of epochs (default: {DEFAULT_EPOCHS['mnist']} on MNIST, "
                        f"{DEFAULT_EPOCHS['digits']} on digits, or the checkpoint's when resuming)")
    t.add_argument("--batch-size", type=_positive_int, default=None,
                   help=f"training batch size (default: {RECIPE_DEFAULTS['batch_size']})")
    t.add_argument("--lr", type=float, default=None,
                   help=f"peak learning rate (default: {DEFAULT_LR['adam']} for adam, {DEFAULT_LR['sgd']} for sgd)")
    t.add_argument("--optimizer", choices=["adam", "sgd"], default=None,
                   help="adam, or sgd with momentum 0.9 (default: adam)")
    t.add_argument("--schedule", choices=["onecycle", "decay", "constant"], default=None,
                   help="learning-rate schedule: onecycle (warm-up, then linear decay to the end of the "
                        "run), decay (warm-up, then times --lr-decay per epoch; can be extended on resume) "
                        f"or constant (default: {RECIPE_DEFAULTS['schedule']})")
    t.add_argument("--lr-decay", type=float, default=None,
                   help=f"factor the learning rate is multiplied by per epoch (default: {RECIPE_DEFAULTS['lr_decay']})")
    t.add_argument("--seed", type=int, default=None, help="seed for the initial weights and the shuffling (default: 0)")
    t.add_argument("--out", metavar="DIR", default="runs/lenet",
                   help="where the checkpoint, metrics.json and the plot go (default: runs/lenet)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--threads", type=_positive_int, default=None,
                   help="threads for the kernels and BLAS (default: all cores)")
    t.add_argument("--limit-train", type=_positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs, tests)")
    t.add_argument("--limit-test", type=_positive_int, default=None, metavar="N",
                   help="evaluate on the first N test images only")
    t.add_argument("--no-progress", action="store_true", help="no progress bar, only the per-epoch lines")
    return parser


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def main(argv=None):
    """Entry point of the ``gradlab`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["exercises"]:
        from . import exercises
        return exercises.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            train(args)
    except TrainError as e:
        print(f"gradlab train: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; the last finished epoch is in the checkpoint (--resume continues)",
              file=sys.stderr)
        return 130
    return 0


class TrainError(Exception):
    """A problem with the options or the files, reported without a traceback."""


def say(*parts):
    print(*parts, flush=True)


# ---------------------------------------------------------------- data


def data_dir(arg):
    return os.path.expanduser(arg or os.environ.get("GRADLAB_DATA") or "~/.cache/gradlab")


def load_data(name, root, download, limit_train, limit_test):
    """(train set, test set, name actually used); falls back to digits when MNIST is missing."""
    from .datasets import MNIST, DatasetNotFoundError, DigitsMNIST, DownloadError, transforms
    from .utils.data import Subset

    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    if name == "mnist":
        try:
            train_set = MNIST(root, train=True, transform=tf, download=download)
            test_set = MNIST(root, train=False, transform=tf, download=download)
        except (DatasetNotFoundError, DownloadError) as e:
            say(_fallback_note(root, download, e))
            name = "digits"
    if name == "digits":
        train_set = DigitsMNIST(train=True, transform=tf)
        test_set = DigitsMNIST(train=False, transform=tf)
    if limit_train is not None and limit_train < len(train_set):
        train_set = Subset(train_set, range(limit_train))
    if limit_test is not None and limit_test < len(test_set):
        test_set = Subset(test_set, range(limit_test))
    return train_set, test_set, name


def _fallback_note(root, download, error):
    why = "the download failed" if download else "downloading is off (--no-download)"
    first_line = str(error).splitlines()[0]
    return (f"MNIST is not available in {root} and {why}: {first_line}\n"
            "Training on scikit-learn's digits instead (8x8 digits resized to 28x28). "
            f"To train on MNIST, put the four MNIST files into {root} or run with --download "
            "on a machine with network access.")


# ---------------------------------------------------------------- recipe and resume


def resolve_recipe(args, saved=None):
    """The recipe from the command line, the checkpoint (when resuming) and the defaults."""
    recipe = {}
    for key, default in RECIPE_DEFAULTS.items():
        given = getattr(args, key)
        if saved is not None and key in saved:
            if given is not None and given != saved[key]:
                flag = "--" + key.replace("_", "-")
                raise TrainError(f"the checkpoint was trained with {flag} {saved[key]}, not {given}; "
                                 f"drop {flag} to resume, or use another --out for a new run")
            recipe[key] = saved[key]
        else:
            recipe[key] = default if given is None else given
    if recipe["lr"] is None:
        recipe["lr"] = DEFAULT_LR[recipe["optimizer"]]
    return recipe


def resolve_epochs(args, recipe, checkpoint):
    """How many epochs the run has in all.  A one-cycle schedule is planned for a length."""
    if checkpoint is None:
        return args.epochs or DEFAULT_EPOCHS[recipe["dataset"]]
    planned = int(checkpoint["epochs"])
    if args.epochs is None or args.epochs == planned:
        return planned
    if recipe["schedule"] == "onecycle":
        raise TrainError(f"this run's one-cycle schedule was planned for {planned} epochs: resume with "
                         f"--epochs {planned} (or without --epochs); only the 'decay' and 'constant' "
                         "schedules can be extended")
    return args.epochs


def load_checkpoint(out):
    import gradlab

    path = os.path.join(out, CHECKPOINT)
    if not os.path.isfile(path):
        raise TrainError(f"--resume: no checkpoint at {path}")
    return gradlab.load(path)


# ---------------------------------------------------------------- training


def lr_at(step, steps_per_epoch, epochs, schedule, peak, decay):
    """The learning rate of a training step (counted from 0 over the whole run).

    onecycle: linear warm-up to ``peak`` over the first 15% of the run, then
              linear decay to 1% of it at the end (needs the run's length).
    decay:    linear warm-up over a quarter epoch, then times ``decay`` per
              epoch; depends on the step alone, so a run can be extended.
    constant: ``peak`` throughout.
    Warm-up keeps Adam's first, noisy steps small; the decay lets the weights settle.
    """
    if schedule == "constant":
        return peak
    if schedule == "onecycle":
        total = steps_per_epoch * epochs
        warmup = max(1, int(ONECYCLE_WARMUP * total))
        if step < warmup:
            return peak * (step + 1) / warmup
        return peak * max(ONECYCLE_FLOOR, (total - 1 - step) / max(1, total - warmup))
    warmup = max(1, int(DECAY_WARMUP_EPOCHS * steps_per_epoch))
    return peak * min(1.0, (step + 1) / warmup) * decay ** (step / steps_per_epoch)


class Run:
    """Everything a training run holds: model, optimizer, loaders, shuffling, history."""

    def __init__(self, recipe, epochs, train_set, test_set):
        import gradlab
        from .models import LeNet5
        from .utils.data import DataLoader

        self.recipe, self.epochs = recipe, epochs
        gradlab.manual_seed(recipe["seed"])
        self.model = LeNet5()
        self.optimizer = make_optimizer(recipe["optimizer"], self.model.parameters(), recipe["lr"])
        self.shuffle = gradlab.Generator().manual_seed(recipe["seed"])
        self.train_loader = DataLoader(train_set, batch_size=recipe["batch_size"], shuffle=True,
                                       generator=self.shuffle)
        self.test_loader = DataLoader(test_set, batch_size=1000)
        self.history = {"epochs": [], "loss_curve": []}
        self.done = 0  # finished epochs

    def restore(self, checkpoint):
        import gradlab

        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        gradlab.set_rng_state(checkpoint["rng"]["global"])
        self.shuffle.set_state(checkpoint["rng"]["shuffle"])
        self.history = checkpoint["history"]
        self.done = int(checkpoint["epoch"])

    def save(self, out):
        import gradlab

        gradlab.save({
            "epoch": self.done,
            "epochs": self.epochs,
            "recipe": self.recipe,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": {"global": gradlab.get_rng_state(), "shuffle": self.shuffle.get_state()},
            "history": self.history,
        }, os.path.join(out, CHECKPOINT))

    def set_lr(self, step):
        r = self.recipe
        lr = lr_at(step, len(self.train_loader), self.epochs, r["schedule"], r["lr"], r["lr_decay"])
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train_epoch(self, bar):
        """One pass over the training set; returns (mean loss, number of images)."""
        import gradlab.nn.functional as F

        self.model.train()
        total_loss, images = 0.0, 0
        step = self.done * len(self.train_loader)
        for x, y in self.train_loader:
            self.set_lr(step)
            loss = F.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            value = loss.item()
            total_loss += value * len(y)
            images += len(y)
            step += 1
            bar.update(value, total_loss / images, len(y))
        return total_loss / max(images, 1), images

    def test_accuracy(self):
        """Fraction of the test set classified correctly."""
        import gradlab

        self.model.eval()
        correct = total = 0
        with gradlab.no_grad():
            for x, y in self.test_loader:
                correct += int((self.model(x).argmax(1) == y).sum().item())
                total += len(y)
        return correct / max(total, 1)

    def metrics(self):
        return {"dataset": self.recipe["dataset"], "epochs": self.history["epochs"],
                "recipe": self.recipe, "loss_curve": self.history["loss_curve"]}


def make_optimizer(name, params, lr):
    from . import optim

    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9)


@contextlib.contextmanager
def thread_limit(n):
    """Run the block with BLAS and the kernels' OpenMP limited to n threads (None: no limit)."""
    if n is None:
        yield
        return
    from . import kernels

    before = kernels.get_num_threads()
    kernels.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            say("note: threadpoolctl is not installed; --threads limits gradlab's kernels but not BLAS")
            yield
        else:
            with threadpool_limits(limits=n):
                yield
    finally:
        kernels.set_num_threads(before)


def train(args):
    """Run ``gradlab train`` with parsed arguments; returns the metrics dict."""
    with thread_limit(args.threads):
        return _train(args)


def _train(args):
    checkpoint = load_checkpoint(args.out) if args.resume else None
    recipe = resolve_recipe(args, checkpoint["recipe"] if checkpoint else None)
    train_set, test_set, used = load_data(recipe["dataset"], data_dir(args.data), args.download,
                                          recipe["limit_train"], recipe["limit_test"])
    if checkpoint and used != recipe["dataset"]:
        raise TrainError(f"the checkpoint was trained on {recipe['dataset']}, but only {used} is available now")
    recipe["dataset"] = used
    epochs = resolve_epochs(args, recipe, checkpoint)
    run = Run(recipe, epochs, train_set, test_set)
    if checkpoint:
        run.restore(checkpoint)
    _print_header(run, len(train_set), len(test_set))
    if run.done >= epochs:
        say(f"the checkpoint already has {run.done} epochs: nothing to do (--epochs N continues a "
            "'decay' or 'constant' run to N)")
        return run.metrics()
    os.makedirs(args.out, exist_ok=True)
    first = run.done + 1
    while run.done < epochs:
        _one_epoch(run, args, quiet=run.done >= first)
    say(f"done: test accuracy {100 * run.history['epochs'][-1]['test_accuracy']:.2f}%; "
        f"checkpoint, metrics and plot in {args.out}")
    return run.metrics()


def _one_epoch(run, args, quiet):
    """Train, evaluate, report and write everything for the next epoch."""
    epoch = run.done + 1
    bar = Progress(epoch, run.epochs, len(run.train_loader), disable=args.no_progress)
    started = time.perf_counter()
    loss, images = run.train_epoch(bar)
    train_seconds = time.perf_counter() - started
    bar.close()
    accuracy = run.test_accuracy()
    seconds = time.perf_counter() - started
    run.history["epochs"].append({"epoch": epoch, "train_loss": loss, "test_accuracy": accuracy,
                                  "seconds": seconds, "images_per_second": images / train_seconds})
    run.history["loss_curve"].extend(bar.curve)
    run.done = epoch
    say(f"epoch {epoch}/{run.epochs}  train loss {loss:.4f}  test accuracy {100 * accuracy:.2f}%  "
        f"time {seconds:.1f} s  ({images / train_seconds:,.0f} images/s)")
    run.save(args.out)
    metrics = run.metrics()
    write_json(os.path.join(args.out, METRICS), metrics)
    plot_curve(os.path.join(args.out, CURVE), metrics, quiet=quiet)


def _print_header(run, n_train, n_test):
    from . import kernels

    r = run.recipe
    resumed = f", resuming after epoch {run.done}" if run.done else ""
    say(f"LeNet-5 on {r['dataset']} ({n_train:,} training / {n_test:,} test images): "
        f"{r['optimizer']} lr {r['lr']:g} ({_schedule_text(r)}), batch {r['batch_size']}, "
        f"{run.epochs} epochs, seed {r['seed']}, kernels: {kernels.get_backend()}{resumed}")


def _schedule_text(recipe):
    if recipe["schedule"] == "decay":
        return f"warm-up, then x{recipe['lr_decay']:g} per epoch"
    return recipe["schedule"]


# ---------------------------------------------------------------- output


class Progress:
    """A tqdm bar showing loss and images/s; plain lines when tqdm is missing.

    Also records the mean loss of every ~2% of the epoch for the plot
    (``curve``: a list of ``[epochs done, loss]``).
    """

    def __init__(self, epoch, epochs, total, disable=False):
        self.desc, self.total, self.done = f"epoch {epoch}/{epochs}", total, 0
        self.epoch = epoch - 1
        self.images, self.started = 0, time.perf_counter()
        self.every = max(1, total // 50)
        self.curve = []
        self.window = []  # batch losses since the last curve point
        self.bar = None
        self.plain = False
        if not disable:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=self.desc, unit="batch", dynamic_ncols=True, leave=False)
            except ImportError:
                self.plain = True

    def update(self, batch_loss, running_loss, n):
        self.done += 1
        self.images += n
        self.window.append(batch_loss)
        if self.done % self.every and self.done != self.total:
            return
        self.curve.append([self.epoch + self.done / self.total, sum(self.window) / len(self.window)])
        self.window = []
        loss = running_loss
        rate = self.images / max(time.perf_counter() - self.started, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix_str(f"loss {loss:.4f}, {rate:,.0f} img/s", refresh=False)
            self.bar.update(self.done - self.bar.n)
        elif self.plain and self.done % max(1, self.total // 10) < self.every:
            say(f"  {self.desc}: {100 * self.done // self.total:3d}%  loss {loss:.4f}  {rate:,.0f} img/s")

    def close(self):
        if self.bar is not None:
            self.bar.close()


def write_json(path, obj):
    """Write JSON atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def plot_curve(path, metrics, quiet=False):
    """Training loss (per ~2% of an epoch) and test accuracy (per epoch) as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if not quiet:
            say("note: matplotlib is not installed; skipping the learning-curve plot "
                '(pip install -e ".[train]")')
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    curve = metrics["loss_curve"]
    left.plot([c[0] for c in curve], [c[1] for c in curve], label="mean over ~2% of an epoch")
    epochs = metrics["epochs"]
    left.plot([e["epoch"] - 0.5 for e in epochs], [e["train_loss"] for e in epochs], "o", label="epoch mean")
    left.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss")
    left.legend()
    right.plot([e["epoch"] for e in epochs], [100 * e["test_accuracy"] for e in epochs], "o-")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"test accuracy ({metrics['dataset']})")
    right.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
