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
  uninterrupted run with the same seed would have.
* ``metrics.json``: ``{"dataset": ..., "epochs": [{"epoch", "train_loss",
  "test_accuracy", "seconds"}, ...], ...}``.
* ``learning_curve.png``: training loss and test accuracy (needs matplotlib).

The data: the four MNIST files under ``--data`` (default ``$GRADLAB_DATA``,
else ``~/.cache/gradlab``), downloaded there unless ``--no-download``.  When
they cannot be had, the run says so and trains on scikit-learn's digits
(resized to 28x28) instead, so the command always runs.

The default recipe (Adam, batch 128, lr 2e-3 with a linear warm-up over the
first quarter epoch, then halved every epoch) reaches 99% MNIST test
accuracy in 3 epochs.  The learning rate of a step depends on the step
alone, not on ``--epochs``, so a short run is the start of a longer one and
``--resume --epochs N`` can extend a finished run.  tqdm and matplotlib are optional
(``pip install -e ".[train]"``): without them progress is printed as plain
lines and the plot is skipped.
"""
import argparse
import json
import math
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
    "lr": 2e-3,
    "optimizer": "adam",
    "schedule": "decay",
    "lr_decay": 0.5,
    "seed": 0,
    "limit_train": None,
    "limit_test": None,
}
DEFAULT_EPOCHS = 3
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
WARMUP_EPOCHS = 0.25


# ---------------------------------------------------------------- command line


def build_parser():
    parser = argparse.ArgumentParser(prog="gradlab", description="gradlab: an educational deep-learning engine.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
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
    t.add_argument("--epochs", type=_positive_int, default=DEFAULT_EPOCHS,
                   help=f"number of epochs (default: {DEFAULT_EPOCHS})")
    t.add_argument("--batch-size", type=_positive_int, default=None,
                   help=f"training batch size (default: {RECIPE_DEFAULTS['batch_size']})")
    t.add_argument("--lr", type=float, default=None,
                   help=f"peak learning rate (default: {RECIPE_DEFAULTS['lr']})")
    t.add_argument("--optimizer", choices=["adam", "sgd"], default=None,
                   help="adam, or sgd with momentum 0.9 (default: adam)")
    t.add_argument("--schedule", choices=["decay", "constant"], default=None,
                   help="learning-rate schedule: warm-up then decay by --lr-decay per epoch, or constant "
                        "(default: decay)")
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
    return recipe


def load_checkpoint(out):
    import gradlab

    path = os.path.join(out, CHECKPOINT)
    if not os.path.isfile(path):
        raise TrainError(f"--resume: no checkpoint at {path}")
    return gradlab.load(path)


def save_checkpoint(out, model, optimizer, shuffle, epoch, recipe, history):
    import gradlab

    gradlab.save({
        "epoch": epoch,
        "recipe": recipe,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": {"global": gradlab.get_rng_state(), "shuffle": shuffle.get_state()},
        "history": history,
    }, os.path.join(out, CHECKPOINT))


# ---------------------------------------------------------------- training


def make_optimizer(name, params, lr):
    from . import optim

    if name == "adam":
        return optim.Adam(params, lr=lr)
    return optim.SGD(params, lr=lr, momentum=0.9)


def lr_at(step, steps_per_epoch, peak, schedule, decay):
    """Linear warm-up to ``peak`` over a quarter epoch, times ``decay`` per epoch (smoothly).

    Warm-up keeps Adam's first, noisy steps small; the decay lets the
    weights settle.  Only the step number matters, not the planned length.
    """
    if schedule == "constant":
        return peak
    warmup = max(1, int(WARMUP_EPOCHS * steps_per_epoch))
    return peak * min(1.0, (step + 1) / warmup) * decay ** (step / steps_per_epoch)


def train_one_epoch(model, loader, optimizer, recipe, first_step, bar):
    """One pass over the data; returns (mean loss, number of images)."""
    import gradlab.nn.functional as F

    model.train()
    total_loss, images, step = 0.0, 0, first_step
    for x, y in loader:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, len(loader), recipe["lr"], recipe["schedule"], recipe["lr_decay"])
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        n = len(y)
        total_loss += loss.item() * n
        images += n
        step += 1
        bar.update(total_loss / images, n)
    return total_loss / max(images, 1), images


def evaluate(model, loader):
    """Fraction of the test set classified correctly."""
    import gradlab

    model.eval()
    correct = total = 0
    with gradlab.no_grad():
        for x, y in loader:
            correct += int((model(x).argmax(1) == y).sum().item())
            total += len(y)
    return correct / max(total, 1)


def set_threads(n):
    """Limit BLAS and OpenMP (the kernels) to n threads."""
    if n is None:
        return
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=n)
    except ImportError:
        say("note: threadpoolctl is not installed; --threads only sets OMP_NUM_THREADS for the kernels")
    os.environ["OMP_NUM_THREADS"] = str(n)
    try:
        from . import kernels
        if hasattr(kernels, "set_num_threads"):
            kernels.set_num_threads(n)
    except ImportError:
        pass


def train(args):
    """Run ``gradlab train`` with parsed arguments; returns the metrics dict."""
    import gradlab
    from .models import LeNet5
    from .utils.data import DataLoader

    out = args.out
    checkpoint = load_checkpoint(out) if args.resume else None
    recipe = resolve_recipe(args, checkpoint["recipe"] if checkpoint else None)
    set_threads(args.threads)
    root = data_dir(args.data)
    train_set, test_set, used = load_data(recipe["dataset"], root, args.download,
                                          recipe["limit_train"], recipe["limit_test"])
    if checkpoint and used != checkpoint["recipe"]["dataset"]:
        raise TrainError(f"the checkpoint was trained on {checkpoint['recipe']['dataset']}, "
                         f"but only {used} is available now")
    recipe["dataset"] = used

    gradlab.manual_seed(recipe["seed"])
    model = LeNet5()
    optimizer = make_optimizer(recipe["optimizer"], model.parameters(), recipe["lr"])
    shuffle = gradlab.Generator().manual_seed(recipe["seed"])
    train_loader = DataLoader(train_set, batch_size=recipe["batch_size"], shuffle=True, generator=shuffle)
    test_loader = DataLoader(test_set, batch_size=1000)
    history = {"epochs": [], "loss_curve": []}
    start_epoch = 0
    if checkpoint:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        gradlab.set_rng_state(checkpoint["rng"]["global"])
        shuffle.set_state(checkpoint["rng"]["shuffle"])
        history = checkpoint["history"]
        start_epoch = int(checkpoint["epoch"])

    _print_header(recipe, args, len(train_set), len(test_set), start_epoch)
    if start_epoch >= args.epochs:
        say(f"the checkpoint already has {start_epoch} epochs (--epochs {args.epochs}): nothing to do")
        return _metrics(recipe, history)
    os.makedirs(out, exist_ok=True)
    steps_per_epoch = len(train_loader)
    for epoch in range(start_epoch + 1, args.epochs + 1):
        bar = Progress(epoch, args.epochs, steps_per_epoch, disable=args.no_progress)
        started = time.perf_counter()
        loss, images = train_one_epoch(model, train_loader, optimizer, recipe, (epoch - 1) * steps_per_epoch, bar)
        train_seconds = time.perf_counter() - started
        bar.close()
        accuracy = evaluate(model, test_loader)
        seconds = time.perf_counter() - started
        history["epochs"].append({"epoch": epoch, "train_loss": loss, "test_accuracy": accuracy,
                                  "seconds": seconds, "images_per_second": images / train_seconds})
        history["loss_curve"].extend(bar.curve)
        say(f"epoch {epoch}/{args.epochs}  train loss {loss:.4f}  test accuracy {100 * accuracy:.2f}%  "
            f"time {seconds:.1f} s  ({images / train_seconds:,.0f} images/s)")
        save_checkpoint(out, model, optimizer, shuffle, epoch, recipe, history)
        metrics = _metrics(recipe, history)
        write_json(os.path.join(out, METRICS), metrics)
        plot_curve(os.path.join(out, CURVE), metrics, quiet=epoch > start_epoch + 1)
    say(f"done: test accuracy {100 * history['epochs'][-1]['test_accuracy']:.2f}%, "
        f"checkpoint, metrics and plot in {out}")
    return metrics


def _print_header(recipe, args, n_train, n_test, start_epoch):
    from . import kernels

    backend = getattr(kernels, "get_backend", lambda: "numpy")()
    resumed = f", resuming after epoch {start_epoch}" if start_epoch else ""
    say(f"LeNet-5 on {recipe['dataset']} ({n_train:,} training / {n_test:,} test images): "
        f"{recipe['optimizer']} lr {recipe['lr']:g} ({_schedule_text(recipe)}), batch {recipe['batch_size']}, "
        f"{args.epochs} epochs, seed {recipe['seed']}, kernels: {backend}{resumed}")


def _schedule_text(recipe):
    if recipe["schedule"] == "constant":
        return "constant"
    return f"warm-up, then x{recipe['lr_decay']:g} per epoch"


def _metrics(recipe, history):
    return {"dataset": recipe["dataset"], "epochs": history["epochs"], "recipe": recipe,
            "loss_curve": history["loss_curve"]}


# ---------------------------------------------------------------- output


class Progress:
    """A tqdm bar showing loss and images/s; plain lines when tqdm is missing.

    Also samples the running loss every ~2% of the epoch for the plot
    (``curve``: a list of ``[fraction of epochs done, loss]``).
    """

    def __init__(self, epoch, epochs, total, disable=False):
        self.desc, self.total, self.done = f"epoch {epoch}/{epochs}", total, 0
        self.epoch = epoch - 1
        self.images, self.started = 0, time.perf_counter()
        self.every = max(1, total // 50)
        self.curve = []
        self.bar = None
        self.plain = False
        if not disable:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=self.desc, unit="batch", dynamic_ncols=True, leave=False)
            except ImportError:
                self.plain = True

    def update(self, loss, n):
        self.done += 1
        self.images += n
        if self.done % self.every and self.done != self.total:
            return
        self.curve.append([self.epoch + self.done / self.total, loss])
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
    left.plot([c[0] for c in curve], [c[1] for c in curve], label="running mean")
    epochs = metrics["epochs"]
    left.plot([e["epoch"] for e in epochs], [e["train_loss"] for e in epochs], "o", label="epoch mean")
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
