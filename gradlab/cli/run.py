"""One run of ``gradlab train``: data, recipe and resume, the training loop, checkpoints.

A run never leaves a checkpoint it did not mean to: the checkpoint is
written only after an epoch whose losses and weights are all finite, so a
run that diverges (a NaN or infinite loss) stops with ``RunFailed`` naming
the epoch and step, and the last good checkpoint stays as it was.
"""
import contextlib
import math
import os
import time

from .options import DEFAULT_EPOCHS, DEFAULT_LR, EXPORTS, RECIPE_DEFAULTS, RECIPES, check_recipe, dict_problem
from .output import Progress, plot_curve, say, write_json

__all__ = ["train", "Run", "lr_at", "TrainError", "RunFailed", "Interrupted", "CHECKPOINT", "METRICS", "CURVE"]

CHECKPOINT = "checkpoint.gradlab"
METRICS = "metrics.json"
CURVE = "learning_curve.png"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
ONECYCLE_WARMUP, ONECYCLE_FLOOR = 0.15, 0.01  # warm-up fraction of the run, final lr fraction
TEST_BATCH = 2000  # evaluation batch under no_grad: larger batches were no faster (docs/performance.md)
DECAY_WARMUP_EPOCHS = 0.25
EMA_START = 0.5  # --ema: the weights are averaged over the second half of the run


class TrainError(Exception):
    """A problem with the options or the files, found before training: exit status 2, no traceback."""


class RunFailed(Exception):
    """The run started but cannot go on (the loss diverged, --out became unwritable): exit status 1."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with what is in the checkpoint at that moment (``saved_epoch``: None when there is none)."""

    def __init__(self, saved_epoch, path):
        super().__init__()
        self.saved_epoch, self.path = saved_epoch, path


# ---------------------------------------------------------------- data


def data_dir(arg):
    return os.path.expanduser(arg or os.environ.get("GRADLAB_DATA") or "~/.cache/gradlab")


def _file_datasets():
    """--dataset name -> (class in gradlab.datasets, (mean, std) of its training pixels or None: computed)."""
    from ..datasets import KMNIST, MNIST, FashionMNIST

    return {"mnist": (MNIST, (MNIST_MEAN, MNIST_STD)),
            "fashion-mnist": (FashionMNIST, (FASHION_MNIST_MEAN, FASHION_MNIST_STD)),
            "kmnist": (KMNIST, None)}  # no published figures at hand to check: its own images give them


def load_data(name, root, download, limit_train, limit_test):
    """(train set, test set, name actually used); falls back to digits when the data set's files are missing."""
    from ..datasets import DatasetNotFoundError, DigitsMNIST, DownloadError, transforms
    from ..utils.data import Subset

    known = _file_datasets()
    if name in known:
        cls, stats = known[name]
        try:
            train_set = cls(root, train=True, download=download)
            test_set = cls(root, train=False, download=download)
        except (DatasetNotFoundError, DownloadError) as e:
            say(_fallback_note(cls.__name__, root, download, e))
            name = "digits"
    if name == "digits":
        train_set, test_set = DigitsMNIST(train=True), DigitsMNIST(train=False)
    mean, std = (MNIST_MEAN, MNIST_STD) if name == "digits" else stats or _pixel_stats(train_set._images_np)
    train_set.transform = test_set.transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((mean,), (std,))])
    if limit_train is not None and limit_train < len(train_set):
        train_set = Subset(train_set, range(limit_train))
    if limit_test is not None and limit_test < len(test_set):
        test_set = Subset(test_set, range(limit_test))
    return train_set, test_set, name


def _pixel_stats(images):
    """(mean, std) of uint8 pixels scaled to [0, 1], from their histogram (no float copy of the images)."""
    import numpy as np

    counts = np.bincount(images.ravel(), minlength=256)
    values = np.arange(256) / 255
    mean = float(counts @ values) / counts.sum()
    return mean, math.sqrt(float(counts @ (values - mean) ** 2) / counts.sum())


def _fallback_note(title, root, download, error):
    why = "the download failed" if download else "downloading is off (--no-download)"
    first_line = str(error).splitlines()[0]
    where = root if title == "MNIST" else os.path.join(root, title, "raw")
    return (f"{title} is not available in {root} and {why}: {first_line}\n"
            "Training on scikit-learn's digits instead (8x8 digits resized to 28x28). "
            f"To train on {title}, put its four files into {where} or run with --download "
            "on a machine with network access.")


# ---------------------------------------------------------------- recipe and resume


def resolve_recipe(args, saved=None):
    """The recipe from the command line, the checkpoint (when resuming), the named --recipe and the defaults."""
    name = (saved or {}).get("recipe") or getattr(args, "recipe", None) or "standard"
    named = RECIPES[name]
    recipe = {}
    for key, default in RECIPE_DEFAULTS.items():
        given = getattr(args, key, None)
        if saved is not None and key in saved:
            if given is not None and given != saved[key]:
                flag = "--" + key.replace("_", "-")
                raise TrainError(f"the checkpoint was trained with {flag} {saved[key]}, not {given}; "
                                 f"drop {flag} to resume, or use another --out for a new run")
            recipe[key] = saved[key]
        else:
            recipe[key] = named.get(key, default) if given is None else given
    if saved is None and args.epochs is not None and args.steps is None:
        recipe["steps"] = None  # --epochs given: whole epochs, whatever the named recipe plans
    if recipe["lr"] is None:
        recipe["lr"] = DEFAULT_LR[recipe["optimizer"]]
    if recipe["eval_from"] is not None and recipe["eval_every"] is None:
        raise TrainError("--eval-from needs --eval-every")
    return recipe


def resolve_epochs(args, recipe, checkpoint, steps_per_epoch):
    """How many epochs the run has in all.  A one-cycle schedule is planned for a length."""
    if checkpoint is None:
        if recipe["steps"] is not None:
            return -(-recipe["steps"] // steps_per_epoch)
        return args.epochs or DEFAULT_EPOCHS[recipe["dataset"]]
    planned = int(checkpoint["epochs"])
    if args.epochs is None or args.epochs == planned:
        return planned
    if checkpoint["history"].get("reached"):
        raise TrainError("this run stopped at the first evaluation that reached its --target: it cannot be "
                         "extended; start a new run in another --out")
    if recipe["steps"] is not None:
        raise TrainError(f"this run was planned for --steps {recipe['steps']}: it cannot be extended")
    if recipe["ema"]:
        raise TrainError("this run averages its weights over the second half of its planned "
                         f"{planned} epochs (--ema): it cannot be extended")
    if recipe["schedule"] == "onecycle":
        raise TrainError(f"this run's one-cycle schedule was planned for {planned} epochs: resume with "
                         f"--epochs {planned} (or without --epochs); only the 'decay' and 'constant' "
                         "schedules can be extended")
    return args.epochs


def load_checkpoint(out):
    """The checkpoint in ``out``, read and checked; a missing, unreadable or foreign file is a TrainError."""
    import gradlab

    path = os.path.join(out, CHECKPOINT)
    if not os.path.isfile(path):
        raise TrainError(f"--resume: no checkpoint at {path}")
    try:
        checkpoint = gradlab.load(path)
    except Exception as e:  # a damaged file: any reader error says the same to the user
        raise TrainError(f"--resume: cannot read the checkpoint {path}: {e}") from None
    problem = _checkpoint_problem(checkpoint)
    if problem:
        raise TrainError(f"--resume: {path} is not a checkpoint of gradlab train: {problem}")
    return checkpoint


_CHECKPOINT_KEYS = ("epoch", "epochs", "recipe", "model", "optimizer", "rng", "history")


def _checkpoint_problem(checkpoint):
    """What makes ``checkpoint`` unusable for --resume, or None (what ``Run.save`` writes is usable)."""
    problem = dict_problem(checkpoint, _CHECKPOINT_KEYS, "it")
    if problem:
        return problem
    epoch, epochs = checkpoint["epoch"], checkpoint["epochs"]
    if not all(type(n) is int for n in (epoch, epochs)) or not 0 <= epoch <= epochs or epochs < 1:
        return f"its epoch counts make no sense (epoch {epoch!r} of {epochs!r})"
    rng, history = checkpoint["rng"], checkpoint["history"]
    if not (isinstance(rng, dict) and {"global", "shuffle"} <= set(rng)):
        return "its random-number states are missing"
    if not (isinstance(history, dict) and isinstance(history.get("epochs"), list)
            and isinstance(history.get("loss_curve"), list)):
        return "its history is missing"
    if not all(isinstance(checkpoint[key], dict) for key in ("model", "optimizer")):
        return "its model or optimizer state is not a state dict"
    return check_recipe(checkpoint["recipe"])


# ---------------------------------------------------------------- training


def lr_at(step, steps_per_epoch, epochs, schedule, peak, decay, total=None):
    """The learning rate of a training step (counted from 0 over the whole run).

    onecycle: linear warm-up to ``peak`` over the first 15% of the run, then
              linear decay to 1% of it at the end (needs the run's length:
              ``total`` steps, else ``epochs`` whole epochs).
    decay:    linear warm-up over a quarter epoch, then times ``decay`` per
              epoch; depends on the step alone, so a run can be extended.
    constant: ``peak`` throughout.
    Warm-up keeps Adam's first, noisy steps small; the decay lets the weights settle.
    """
    if schedule == "constant":
        return peak
    if schedule == "onecycle":
        total = total or steps_per_epoch * epochs
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
        from ..models import LeNet5
        from ..utils.data import DataLoader

        self.recipe, self.epochs = recipe, epochs
        gradlab.manual_seed(recipe["seed"])
        self.model = LeNet5()
        self.optimizer = make_optimizer(recipe["optimizer"], self.model.parameters(), recipe["lr"],
                                        recipe["beta2"])
        self.shuffle = gradlab.Generator().manual_seed(recipe["seed"])
        self.train_loader = DataLoader(train_set, batch_size=recipe["batch_size"], shuffle=True,
                                       generator=self.shuffle)
        self.test_loader = DataLoader(test_set, batch_size=1000)
        self.history = {"epochs": [], "loss_curve": [], "evaluations": []}
        self.done = 0  # finished epochs
        self.saved = None  # the epoch in the checkpoint, None before there is one
        self.total_steps = recipe["steps"] or epochs * len(self.train_loader)
        self.averaged = None  # --ema: a LeNet5 holding the moving average, from step ema_start on
        self.ema_start = max(1, int(EMA_START * self.total_steps))
        self.eval_at = evaluation_steps(self.total_steps, recipe["eval_every"], recipe["eval_from"])
        self.clock = None  # time.perf_counter() when this process started training
        self.eval_seconds = 0.0  # spent in evaluate()
        self.stop = []  # not empty once Ctrl-C asked training to stop (see _stop_between_steps)
        if self.eval_at is not None:  # many evaluations: the test set normalised once, before the clock starts
            self.test_loader = list(DataLoader(test_set, batch_size=TEST_BATCH))

    def restore(self, checkpoint, path):
        import gradlab

        try:
            self.model.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            gradlab.set_rng_state(checkpoint["rng"]["global"])
            self.shuffle.set_state(checkpoint["rng"]["shuffle"])
        except Exception as e:  # shapes, keys or states that do not fit this model: a foreign file
            raise TrainError(f"--resume: {path} does not fit LeNet-5 and its optimizer: {e}") from None
        if checkpoint.get("averaged") is not None:
            self.averaged = self._average_copy()
            try:
                self.averaged.load_state_dict(checkpoint["averaged"])
            except Exception as e:
                raise TrainError(f"--resume: {path} has averaged weights that do not fit LeNet-5: {e}") from None
        self.history = checkpoint["history"]
        self.history.setdefault("evaluations", [])
        self.done = self.saved = checkpoint["epoch"]

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
            "averaged": None if self.averaged is None else self.averaged.state_dict(),
        }, os.path.join(out, CHECKPOINT))
        self.saved = self.done

    def set_lr(self, step):
        r = self.recipe
        lr = lr_at(step, len(self.train_loader), self.epochs, r["schedule"], r["lr"], r["lr_decay"], r["steps"])
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def train_epoch(self, bar):
        """One pass over the training set (or up to the run's last step, or until an evaluation reaches
        the target); returns (mean loss, number of images)."""
        import gradlab.nn.functional as F

        self.model.train()
        total_loss, images = 0.0, 0
        step = self.done * len(self.train_loader)
        smoothing = self.recipe["label_smoothing"]
        for x, y in self.train_loader:
            if self.stop:
                raise KeyboardInterrupt
            if step >= self.total_steps or self.reached():
                break  # here, not after the step: a pass run to its end leaves the shuffling state as before
            self.set_lr(step)
            loss = F.cross_entropy(self.model(x), y, label_smoothing=smoothing)
            value = loss.item()
            if not math.isfinite(value):  # before the step: the weights keep their last finite values
                raise self.diverged(f"the loss became {value}", step)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total_loss += value * len(y)
            images += len(y)
            step += 1
            if self.recipe["ema"] and step >= self.ema_start:
                self.update_average()
            bar.update(value, total_loss / images, len(y))
            if self.eval_at is not None and step in self.eval_at:
                self.evaluate(step)
                self.model.train()
        return total_loss / max(images, 1), images

    def _average_copy(self):
        import copy
        return copy.deepcopy(self.model)

    def update_average(self):
        """avg = D * avg + (1 - D) * weights; the first call copies the weights."""
        import gradlab

        if self.averaged is None:
            self.averaged = self._average_copy()
            return
        with gradlab.no_grad():
            for avg, weight in zip(self.averaged.parameters(), self.model.parameters()):
                avg.lerp_(weight, 1 - self.recipe["ema"])

    def final_model(self):
        """The model the evaluations measure: the moving average when there is one."""
        return self.model if self.averaged is None else self.averaged

    def evaluate(self, step):
        """Test accuracy after ``step`` steps, recorded with the seconds of training so far; notes the
        first evaluation that reaches the target."""
        before = time.perf_counter()
        accuracy = self.test_accuracy()
        now = time.perf_counter()
        self.eval_seconds += now - before
        seconds = now - self.clock
        record = {"step": step, "epoch": round(step / len(self.train_loader), 3), "test_accuracy": accuracy,
                  "seconds": seconds}
        self.history["evaluations"].append(record)
        target = self.recipe["target"]
        if target is not None and not self.reached() and 100 * accuracy >= target - 1e-9:
            self.history["reached"] = dict(record, target=target)
        return accuracy

    def reached(self):
        """The evaluation that reached the target (a dict), or None."""
        return self.history.get("reached")

    def diverged(self, what, step):
        """RunFailed for a run that went non-finite at ``step`` (counted over the whole run)."""
        per_epoch = len(self.train_loader)
        kept = (f"the checkpoint still holds epoch {self.saved}" if self.saved is not None
                else "no checkpoint was written")
        return RunFailed(f"{what} in epoch {step // per_epoch + 1}, step {step % per_epoch + 1} of {per_epoch} "
                         f"(lr {self.optimizer.param_groups[0]['lr']:g}); stopped, {kept}. "
                         "A smaller --lr usually helps.")

    def weights_finite(self):
        import numpy as np

        return all(np.isfinite(p._data).all() for p in self.model.parameters())

    def test_accuracy(self):
        """Fraction of the test set classified correctly (by the moving average, when there is one)."""
        import gradlab

        model = self.final_model()
        model.eval()
        correct = total = 0
        with gradlab.no_grad():
            for x, y in self.test_loader:
                correct += int((model(x).argmax(1) == y).sum().item())
                total += len(y)
        return correct / max(total, 1)

    def metrics(self):
        out = {"dataset": self.recipe["dataset"], "epochs": self.history["epochs"],
               "recipe": self.recipe, "loss_curve": self.history["loss_curve"],
               "evaluations": self.history["evaluations"]}
        if self.reached():
            out["reached"] = self.reached()
        return out


def evaluation_steps(total, every, start=None):
    """The steps (counted from 1 over the run) after which the test set is evaluated: every ``every``
    steps from ``start`` (default ``every``), and the last; None for "after each epoch" (``every`` None)."""
    if every is None:
        return None
    return set(range(start or every, total + 1, every)) | {total}


def make_optimizer(name, params, lr, beta2=0.999):
    from .. import optim

    if name == "adam":
        return optim.Adam(params, lr=lr, betas=(0.9, beta2))
    return optim.SGD(params, lr=lr, momentum=0.9)


@contextlib.contextmanager
def thread_limit(n):
    """Run the block with BLAS and the kernels' OpenMP limited to n threads (None: no limit)."""
    if n is None:
        yield
        return
    from .. import kernels

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
    """Set up (every user error surfaces here, before any epoch), then train epoch by epoch."""
    checkpoint = load_checkpoint(args.out) if args.resume else None
    recipe = resolve_recipe(args, checkpoint["recipe"] if checkpoint else None)
    started = time.perf_counter()
    train_set, test_set, used = load_data(recipe["dataset"], data_dir(args.data), args.download,
                                          recipe["limit_train"], recipe["limit_test"])
    if checkpoint and used != recipe["dataset"]:
        raise TrainError(f"the checkpoint was trained on {recipe['dataset']}, but only {used} is available now")
    recipe["dataset"] = used
    epochs = resolve_epochs(args, recipe, checkpoint, -(-len(train_set) // recipe["batch_size"]))
    run = Run(recipe, epochs, train_set, test_set)
    if checkpoint:
        run.restore(checkpoint, os.path.join(args.out, CHECKPOINT))
    _print_header(run, len(train_set), len(test_set), time.perf_counter() - started)
    if run.reached():
        say(f"this run already reached its target: {_reached_text(run.reached())}; nothing to do")
        return run.metrics()
    if run.done >= epochs:
        say(f"the checkpoint already has {run.done} epochs: nothing to do (--epochs N continues a "
            "'decay' or 'constant' run to N)")
        return run.metrics()
    first = run.done + 1
    run.clock = time.perf_counter()
    try:
        with _stop_between_steps() as run.stop:
            while run.done < epochs and not run.reached():
                _one_epoch(run, args, quiet=run.done >= first)
            if run.stop:    # Ctrl-C after the last step: the checkpoint holds the whole run
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        raise Interrupted(run.saved, os.path.join(args.out, CHECKPOINT)) from None
    if recipe["target"] is not None:
        _say_target(run)
        plot_curve(os.path.join(args.out, CURVE), run.metrics())  # drawn once, after the clock
    last = run.history["evaluations"][-1]["test_accuracy"] if run.history["evaluations"] else \
        run.history["epochs"][-1]["test_accuracy"]
    say(f"done: test accuracy {100 * last:.2f}%; checkpoint, metrics and plot in {args.out}")
    export_model(run.final_model(), args.export, args.out)
    return run.metrics()


def _reached_text(reached):
    return (f"reached {reached['target']:g}% test accuracy ({100 * reached['test_accuracy']:.2f}%) at step "
            f"{reached['step']} (epoch {reached['epoch']:.2f}) after {reached['seconds']:.2f} s of training")


def _say_target(run):
    evaluations = run.history["evaluations"]
    if run.reached():
        n = len(evaluations)  # the run stopped at the one that reached the target
        say(f"{_reached_text(run.reached())} ({n} test evaluation{'s' * (n != 1)} included)")
    else:
        best = max(evaluations, key=lambda e: e["test_accuracy"]) if evaluations else None
        said = f": the best evaluation was {100 * best['test_accuracy']:.2f}% at step {best['step']}" if best else ""
        say(f"did not reach {run.recipe['target']:g}% test accuracy in {run.total_steps} steps{said}")


def export_model(model, formats, out):
    """The trained model in the formats of --export: safetensors and PyTorch's state_dict, ONNX's graph."""
    import gradlab
    for fmt in formats:
        path = os.path.join(out, EXPORTS[fmt][0])
        if fmt == "onnx":
            from .. import onnx
            onnx.export(model, gradlab.zeros(1, 1, 28, 28), path, input_names=["image"], output_names=["logits"])
        else:
            gradlab.save(model.state_dict(), path, format=fmt)
        say(f"wrote {path}")


@contextlib.contextmanager
def _stop_between_steps():
    """While training: the first Ctrl-C only asks to stop (the list yielded becomes non-empty, and the
    training loop raises KeyboardInterrupt at its next step), a second one interrupts at once.

    A KeyboardInterrupt raised wherever the signal lands can stop a checkpoint write or the plot's first
    import of matplotlib half done; and one that escapes an ``exec`` or ``eval`` of a string (typing and
    dataclasses run them while a module is imported) makes CPython end the process by SIGINT at exit even
    after ``main`` handled it, so the exit status is not 130.  Off the main thread (where signal handlers
    cannot be set) Ctrl-C stays a plain KeyboardInterrupt."""
    import signal

    requested = []

    def ask_to_stop(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)
    try:
        previous = signal.signal(signal.SIGINT, ask_to_stop)
    except ValueError:
        yield requested
        return
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def _one_epoch(run, args, quiet):
    """Train, evaluate, report and write everything for the next epoch."""
    epoch = run.done + 1
    bar = Progress(epoch, run.epochs, len(run.train_loader), disable=args.no_progress)
    started = time.perf_counter()
    evaluated, eval_seconds = len(run.history["evaluations"]), run.eval_seconds
    try:
        loss, images = run.train_epoch(bar)
    finally:
        bar.close()
    train_seconds = time.perf_counter() - started - (run.eval_seconds - eval_seconds)
    if run.eval_at is None:
        accuracy = run.evaluate(epoch * len(run.train_loader))
    else:  # the last of this epoch's evaluations, if it had any
        mine = run.history["evaluations"][evaluated:]
        accuracy = mine[-1]["test_accuracy"] if mine else None
    seconds = time.perf_counter() - started
    run.history["epochs"].append({"epoch": epoch, "train_loss": loss, "test_accuracy": accuracy,
                                  "seconds": seconds, "images_per_second": images / train_seconds})
    run.history["loss_curve"].extend(bar.curve)
    if not run.weights_finite():  # the last step of the epoch overflowed: keep the previous checkpoint
        raise run.diverged("the weights became non-finite", epoch * len(run.train_loader) - 1)
    run.done = epoch
    shown = "-" if accuracy is None else f"{100 * accuracy:.2f}%"
    say(f"epoch {epoch}/{run.epochs}  train loss {loss:.4f}  test accuracy {shown}  "
        f"time {seconds:.1f} s  ({images / train_seconds:,.0f} images/s)")
    if run.reached():  # stopped inside this epoch: the checkpoint holds a finished run
        run.epochs = epoch
    try:
        run.save(args.out)
        metrics = run.metrics()
        write_json(os.path.join(args.out, METRICS), metrics)
        if run.recipe["target"] is None:  # with a target, drawn once at the end: it is not training
            plot_curve(os.path.join(args.out, CURVE), metrics, quiet=quiet)
    except OSError as e:  # the folder was checked at the start; it changed since (removed, full, read-only)
        raise RunFailed(f"cannot write into --out {args.out} after epoch {epoch}: {e}") from None


def _print_header(run, n_train, n_test, load_seconds):
    from .. import kernels

    r = run.recipe
    resumed = f", resuming after epoch {run.done}" if run.done else ""
    cpu = f" {kernels.cpu_build()}" if kernels.get_backend() == "cython" else ""
    length = f"{r['steps']} steps" if r["steps"] else f"{run.epochs} epochs"
    extras = "".join([f", beta2 {r['beta2']:g}" if r["beta2"] != RECIPE_DEFAULTS["beta2"] else "",
                      f", label smoothing {r['label_smoothing']:g}" if r["label_smoothing"] else "",
                      f", moving average {r['ema']:g} over the second half" if r["ema"] else ""])
    say(f"LeNet-5 on {r['dataset']} ({n_train:,} training / {n_test:,} test images): "
        f"{r['optimizer']} lr {r['lr']:g} ({_schedule_text(r)}){extras}, batch {r['batch_size']}, {length}, "
        f"seed {r['seed']}, recipe {r['recipe']}, kernels: {kernels.get_backend()}{cpu}{resumed}; "
        f"data loaded in {load_seconds:.2f} s")
    if run.eval_at is not None or r["target"] is not None:
        when = (f"every {r['eval_every']} steps from step {r['eval_from'] or r['eval_every']} and at the end"
                if run.eval_at is not None else "after each epoch")
        goal = f"; stops at the first evaluation reaching {r['target']:g}%" if r["target"] is not None else ""
        say(f"test evaluations: {when}{goal}; the clock starts with the first training step")


def _schedule_text(recipe):
    if recipe["schedule"] == "decay":
        return f"warm-up, then x{recipe['lr_decay']:g} per epoch"
    return recipe["schedule"]
