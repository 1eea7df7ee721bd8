"""The command line of ``gradlab train``: its flags, and the checks that run before any work.

Every flag is checked when it is parsed (argparse ``type=`` functions) or,
for ``--out``, right after: a user error ends the command at once with
``gradlab train: error: ...`` and exit status 2, as argparse does, before
any data is loaded or any epoch trained.  ``check_recipe`` applies the same
rules to the recipe a checkpoint brings back.
"""
import argparse
import importlib.util
import math
import os
import tempfile

__all__ = ["build_parser", "parse_args", "check_out_dir", "check_recipe", "dict_problem", "positive_int", "learning_rate",
           "decay_factor", "seed", "thread_count", "below_one", "percent", "MAX_THREADS", "MAX_SEED", "DATASETS",
           "RECIPES"]

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
    # added with --recipe fast; a checkpoint written before them reads as these defaults
    "recipe": "standard",
    "label_smoothing": 0.0,
    "beta2": 0.999,
    "ema": 0.0,  # 0: evaluate the weights themselves
    "steps": None,  # None: whole epochs
    "target": None,  # percent; None: train to the end
    "eval_every": None,  # None: evaluate after every epoch
    "eval_from": None,  # None: from step eval_every
}
_LATER_KEYS = ("recipe", "label_smoothing", "beta2", "ema", "steps", "target", "eval_every", "eval_from")
DEFAULT_LR = {"adam": 3e-3, "sgd": 0.05}  # sgd: with momentum 0.9
DATASETS = ("mnist", "fashion-mnist", "kmnist", "digits")
DEFAULT_EPOCHS = {"mnist": 4, "fashion-mnist": 4, "kmnist": 4, "digits": 15}  # digits is 40x smaller: more passes
#: --recipe NAME: the defaults it gives the other flags (a flag given on the command line wins).
#: "fast": the shortest run to 99% MNIST test accuracy found (docs/performance.md, "Time to 99% on MNIST").
RECIPES = {
    "standard": {},
    "fast": {"batch_size": 128, "optimizer": "adam", "lr": 6e-3, "beta2": 0.99, "label_smoothing": 0.1,
             "ema": 0.99, "schedule": "onecycle", "steps": 704, "target": 99.0, "eval_every": 35,
             "eval_from": 528},
}
MAX_THREADS = 1024  # far above any machine's cores; a bigger number is a typo
MAX_SEED = 2**64 - 1  # PyTorch's range for manual_seed


# ---------------------------------------------------------------- one flag each


def _number(text, kind):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                         f"got {text!r}") from None


def positive_int(text):
    value = _number(text, int)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def learning_rate(text):
    value = _number(text, float)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def decay_factor(text):
    value = _number(text, float)
    if not (math.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"expected a factor in (0, 1] (the learning rate is multiplied "
                                         f"by it every epoch), got {text}")
    return value


def seed(text):
    value = _number(text, int)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2**64 - 1, got {text}")
    return value


def below_one(text):
    value = _number(text, float)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def percent(text):
    value = _number(text, float)
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"expected a test accuracy in percent, in (0, 100], got {text}")
    return value


def thread_count(text):
    value = _number(text, int)
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_THREADS} threads, got {text}")
    return value


# ---------------------------------------------------------------- the parser


#: --export FORMAT: (file written into --out, the package it needs)
EXPORTS = {"safetensors": ("model.safetensors", "safetensors"), "onnx": ("model.onnx", "onnx"), "torch": ("model.pt", None)}


def build_parser():
    parser = argparse.ArgumentParser(prog="gradlab", description="gradlab: an educational deep-learning engine.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    commands.add_parser("exercises", help="exercises that rebuild gradlab's core, graded (list, new, check)",
                        add_help=False)
    t = commands.add_parser("train", help="train LeNet-5 on MNIST, Fashion-MNIST, KMNIST (or scikit-learn's digits)",
                            description="Train LeNet-5 on MNIST, Fashion-MNIST or KMNIST with a progress bar; "
                                        "write a checkpoint, metrics.json and a learning curve into --out "
                                        "after every epoch.")
    t.add_argument("--data", metavar="DIR", default=None,
                   help="folder holding (or to hold) the data set's files; Fashion-MNIST and KMNIST go in "
                        "DIR/FashionMNIST and DIR/KMNIST (default: $GRADLAB_DATA, else ~/.cache/gradlab)")
    t.add_argument("--download", action=argparse.BooleanOptionalAction, default=True,
                   help="download the data set into --data when its files are missing (default: yes)")
    t.add_argument("--dataset", choices=DATASETS, default=None,
                   help="mnist, fashion-mnist, kmnist, or scikit-learn's digits resized to 28x28; the first "
                        "three fall back to digits when their files are missing (default: mnist)")
    fast = RECIPES["fast"]
    t.add_argument("--recipe", choices=sorted(RECIPES), default=None,
                   help="a named set of defaults for the flags below (a flag given wins). standard: Adam, "
                        "batch 128, one-cycle, 4 epochs, a test evaluation after each epoch. fast: the "
                        f"shortest run to 99%% MNIST test accuracy found: Adam lr {fast['lr']:g} with beta2 "
                        f"{fast['beta2']:g}, label smoothing {fast['label_smoothing']:g}, batch "
                        f"{fast['batch_size']}, one-cycle over {fast['steps']} steps (1.5 epochs), a moving "
                        f"average of the weights ({fast['ema']:g}) over the second half; the test set is "
                        f"evaluated every {fast['eval_every']} steps from step {fast['eval_from']} and the "
                        f"run stops at the first evaluation reaching {fast['target']:g}%% (default: standard)")
    t.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                   help=f"number of epochs (default: {DEFAULT_EPOCHS['mnist']} on MNIST and its kin, "
                        f"{DEFAULT_EPOCHS['digits']} on digits, or the checkpoint's when resuming)")
    t.add_argument("--steps", type=positive_int, default=None, metavar="N",
                   help="train N steps in all instead of whole epochs (the last epoch is cut short); the "
                        "one-cycle schedule is planned over them (cannot be given with --epochs)")
    t.add_argument("--target", type=percent, default=None, metavar="PCT",
                   help="stop at the first test evaluation whose accuracy reaches PCT percent, and say how "
                        "many steps and seconds of training it took")
    t.add_argument("--eval-every", type=positive_int, default=None, metavar="N",
                   help="evaluate on the test set every N training steps (and at the end) instead of "
                        "after each epoch")
    t.add_argument("--eval-from", type=positive_int, default=None, metavar="STEP",
                   help="with --eval-every: the first step to evaluate after (default: N)")
    t.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help=f"training batch size (default: {RECIPE_DEFAULTS['batch_size']})")
    t.add_argument("--lr", type=learning_rate, default=None,
                   help=f"peak learning rate, > 0 (default: {DEFAULT_LR['adam']} for adam, "
                        f"{DEFAULT_LR['sgd']} for sgd)")
    t.add_argument("--optimizer", choices=["adam", "sgd"], default=None,
                   help="adam, or sgd with momentum 0.9 (default: adam)")
    t.add_argument("--schedule", choices=["onecycle", "decay", "constant"], default=None,
                   help="learning-rate schedule: onecycle (warm-up, then linear decay to the end of the "
                        "run), decay (warm-up, then times --lr-decay per epoch; can be extended on resume) "
                        f"or constant (default: {RECIPE_DEFAULTS['schedule']})")
    t.add_argument("--label-smoothing", type=below_one, default=None, metavar="X",
                   help="label smoothing of the cross-entropy loss, in [0, 1) (default: 0)")
    t.add_argument("--beta2", type=below_one, default=None, metavar="B",
                   help="Adam's second-moment decay, in [0, 1) (default: 0.999)")
    t.add_argument("--ema", type=below_one, default=None, metavar="D",
                   help="evaluate, save and export a moving average of the weights, updated after every step "
                        "of the run's second half as avg = D * avg + (1 - D) * weights; D in [0, 1), "
                        "0: off (default: 0)")
    t.add_argument("--lr-decay", type=decay_factor, default=None,
                   help="factor in (0, 1] the learning rate is multiplied by per epoch "
                        f"(default: {RECIPE_DEFAULTS['lr_decay']})")
    t.add_argument("--seed", type=seed, default=None,
                   help="seed for the initial weights and the shuffling, 0 to 2**64 - 1 (default: 0)")
    t.add_argument("--out", metavar="DIR", default="runs/lenet",
                   help="where the checkpoint, metrics.json and the plot go (default: runs/lenet)")
    t.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    t.add_argument("--threads", type=thread_count, default=None, metavar="N",
                   help=f"threads for the kernels and BLAS, 1 to {MAX_THREADS} (default: all cores)")
    t.add_argument("--limit-train", type=positive_int, default=None, metavar="N",
                   help="train on the first N training images only (quick runs, tests)")
    t.add_argument("--limit-test", type=positive_int, default=None, metavar="N",
                   help="evaluate on the first N test images only")
    t.add_argument("--no-progress", action="store_true", help="no progress bar, only the per-epoch lines")
    t.add_argument("--export", action="append", choices=sorted(EXPORTS), default=[], metavar="FORMAT",
                   help="when training ends, also write the model as model.safetensors, model.onnx or model.pt "
                        "(PyTorch's format, for torch.load) into --out; repeat the flag for several")
    parser.train_parser = t  # for errors found after parsing: "gradlab train: error: ..."
    return parser


def parse_args(argv=None):
    """Parsed and checked arguments; a user error exits with status 2 and ``gradlab train: error: ...``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        if args.epochs is not None and args.steps is not None:
            parser.train_parser.error("argument --steps: not allowed with --epochs (give one run length)")
        if (args.eval_from is not None and args.eval_every is None and not args.resume
                and RECIPES[args.recipe or "standard"].get("eval_every") is None):
            parser.train_parser.error("argument --eval-from: needs --eval-every (or a --recipe that has it)")
        problem = check_out_dir(args.out, create=not args.resume)
        if problem:
            parser.train_parser.error(f"argument --out: {problem}")
        for fmt in args.export:
            package = EXPORTS[fmt][1]
            if package and importlib.util.find_spec(package) is None:
                parser.train_parser.error(f"argument --export: {fmt} needs the {package} package "
                                          "(pip install \"gradlab[interop]\")")
    return args


# ---------------------------------------------------------------- --out


def check_out_dir(out, create=True):
    """What is wrong with ``out`` as the run's output folder, or None.

    The folder is created (``create``) and a file is written into it and
    removed: a read-only or full file system, a path through a file, or a
    name too long is reported now rather than after the first epoch.
    """
    if not out or not out.strip():
        return "expected a folder for the checkpoint and metrics, got an empty name"
    if os.path.exists(out) and not os.path.isdir(out):
        return f"{out} exists and is not a folder"
    if not os.path.isdir(out):
        if not create:
            return None  # --resume: the missing checkpoint is reported with its path
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            return f"cannot create the folder {out}: {e.strerror or e}"
    try:
        with tempfile.NamedTemporaryFile(dir=out, prefix=".gradlab-write-test-"):
            pass
    except OSError as e:
        return f"cannot write into {out}: {e.strerror or e}"
    return None


# ---------------------------------------------------------------- a checkpoint's recipe


_RECIPE_CHECKS = {
    "batch_size": positive_int, "lr": learning_rate, "lr_decay": decay_factor, "seed": seed,
    "limit_train": positive_int, "limit_test": positive_int, "label_smoothing": below_one, "beta2": below_one, "ema": below_one,
    "steps": positive_int, "target": percent, "eval_every": positive_int, "eval_from": positive_int,
}
_MAY_BE_NONE = ("limit_train", "limit_test", "steps", "target", "eval_every", "eval_from")
_RECIPE_CHOICES = {"dataset": DATASETS, "optimizer": ("adam", "sgd"),
                   "schedule": ("onecycle", "decay", "constant"), "recipe": tuple(RECIPES)}


def dict_problem(value, keys, what):
    """What is wrong with ``value`` as a dict holding ``keys`` (``what`` names it in the answer), or None."""
    if not isinstance(value, dict):
        return f"{what} is a {type(value).__name__}, not a dict"
    missing = [key for key in keys if key not in value]
    return f"{what} lacks {', '.join(missing)}" if missing else None


def check_recipe(recipe):
    """What is wrong with a recipe read back from a checkpoint, or None (the flags' own rules).

    Keys added after a checkpoint was written are filled in with their defaults.
    """
    problem = dict_problem(recipe, [key for key in RECIPE_DEFAULTS if key not in _LATER_KEYS], "its recipe")
    if problem:
        return problem
    for key in _LATER_KEYS:
        recipe.setdefault(key, RECIPE_DEFAULTS[key])
    for key, choices in _RECIPE_CHOICES.items():
        if recipe[key] not in choices:
            return f"its recipe has {key} {recipe[key]!r}, expected one of {', '.join(choices)}"
    for key, check in _RECIPE_CHECKS.items():
        value = recipe[key]
        if value is None and key in _MAY_BE_NONE:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"its recipe has {key} {value!r}, expected a number"
        try:
            check(repr(value) if isinstance(value, float) else str(value))
        except argparse.ArgumentTypeError as e:
            return f"its recipe has {key} {value!r}: {e}"
    return None
