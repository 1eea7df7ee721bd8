"""Training LeNet-5 on MNIST: gradlab side by side with PyTorch (CPU, 2 threads each by default).

    python bench/train_lenet.py --data /work/shared/mnist                 # throughput + memory
    python bench/train_lenet.py --data /work/shared/mnist --to-accuracy --no-throughput --no-memory
                                                 # wall time to 99% with `gradlab train --recipe fast`
    python bench/train_lenet.py --data /work/shared/mnist --profile       # where gradlab's step goes, per op

Both frameworks train the same model from the same initial weights (gradlab's
initialisation copied into PyTorch) on the same batches in the same order,
with the same recipe (Adam; ``gradlab train --recipe fast`` for --to-accuracy).

* throughput: images/s of a training step (forward, loss, backward, Adam) at
  batch 64 and 256.  Timing windows alternate, gradlab then PyTorch, so both
  see the same machine load; the median window is reported.  Batches are
  taken from a preloaded array, so data loading is not part of it; the
  DataLoader is measured on its own below the table.
* --to-accuracy: per seed (--seeds, default 0 1 2), the wall time from the
  first training step to the test evaluation that reaches --target (default
  99.0%), with ``gradlab train --recipe fast``: its schedule, label smoothing,
  moving average, evaluation cadence and batch order (the CLI's sampler and
  generator), gradlab and PyTorch in turn, each going first on alternate seeds.
* memory: each framework trains in a fresh process that imports only itself
  (bench/_memory_child.py, MNIST kept as uint8 as ``gradlab train`` does); it
  reports the run's peak RSS (VmHWM) and RSS growth from step 100 to step
  1,000 (a graph kept alive across steps would show up there).
"""
import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import gradlab  # noqa: E402
import gradlab.nn.functional as GF  # noqa: E402
from gradlab.cli import MNIST_MEAN, MNIST_STD, RECIPE_DEFAULTS, lr_at, thread_limit  # noqa: E402
from gradlab.cli.options import RECIPES  # noqa: E402
from gradlab.cli.run import EMA_START, TEST_BATCH, evaluation_steps  # noqa: E402
from gradlab.models import LeNet5  # noqa: E402

torch = tnn = TF = None  # imported in main() unless --no-torch


def import_torch():
    global torch, tnn, TF
    try:
        import torch
        import torch.nn as tnn
        import torch.nn.functional as TF
    except ImportError:
        torch = None


# ---------------------------------------------------------------- data and models


def load_arrays(data_dir):
    """Normalised float32 images N x 1 x 28 x 28 and int64 labels, train and test."""
    from gradlab.datasets import MNIST, DatasetNotFoundError, load_digits_as_mnist

    try:
        train, test = MNIST(data_dir, train=True), MNIST(data_dir, train=False)
        pairs, name = [(train._images_np, train._targets_np), (test._images_np, test._targets_np)], "mnist"
    except DatasetNotFoundError:
        print(f"MNIST not found in {data_dir}: using scikit-learn's digits", file=sys.stderr)
        pairs, name = load_digits_as_mnist(), "digits"
    out = []
    for images, labels in pairs:
        x = images.astype(np.float32)[:, None]  # one float copy, then in place
        x /= np.float32(255)
        x -= np.float32(MNIST_MEAN)
        x /= np.float32(MNIST_STD)
        out.append((x, labels.astype(np.int64)))
    return out[0], out[1], name


def torch_lenet():
    """PyTorch twin of gradlab.models.LeNet5, with the same state_dict keys."""

    class LeNet5Torch(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(16, 120, 5), tnn.ReLU())
            self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    return LeNet5Torch()


def make_pair(seed):
    """gradlab's LeNet5 and a PyTorch copy starting from the same weights."""
    gradlab.manual_seed(seed)
    ours = LeNet5()
    theirs = None
    if torch is not None:
        theirs = torch_lenet()
        state = {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
        theirs.load_state_dict(state)
    return ours, theirs


class Trainer:
    """One framework's training step and evaluation, over numpy batches."""

    def __init__(self, name, model, lr, betas=(0.9, 0.999), label_smoothing=0.0):
        self.name, self.model = name, model
        if name == "gradlab":
            self.lib, self.F = gradlab, GF
            self.wrap = gradlab.from_numpy
        else:
            self.lib, self.F = torch, TF
            self.wrap = torch.from_numpy
        self.opt = self.lib.optim.Adam(model.parameters(), lr=lr, betas=betas)
        self.label_smoothing = label_smoothing

    def set_lr(self, lr):
        for group in self.opt.param_groups:
            group["lr"] = lr

    def step(self, x, y):
        loss = self.F.cross_entropy(self.model(self.wrap(x)), self.wrap(y), label_smoothing=self.label_smoothing)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def accuracy(self, x, y, batch=1000, model=None):
        model = model or self.model
        model.eval()
        correct = 0
        with self.lib.no_grad():
            for i in range(0, len(x), batch):
                pred = model(self.wrap(x[i:i + batch])).argmax(1)
                correct += int((pred == self.wrap(y[i:i + batch])).sum().item())
        model.train()
        return correct / len(x)


def batches(n, batch_size, seed):
    """Index arrays of shuffled batches, epoch after epoch, the same for both frameworks."""
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            yield perm[i:i + batch_size]


# ---------------------------------------------------------------- throughput


def throughput(train, batch_size, steps, rounds, lr=1e-3):
    """Median images/s per framework over alternating timing windows of ``steps`` steps."""
    x, y = train
    ours, theirs = make_pair(0)
    trainers = [Trainer("gradlab", ours, lr)] + ([Trainer("torch", theirs, lr)] if theirs is not None else [])
    order = {t.name: batches(len(x), batch_size, 1) for t in trainers}
    for t in trainers:  # warm-up: allocations, caches, thread pools
        for _ in range(3):
            idx = next(order[t.name])
            t.step(x[idx], y[idx])
    rates = {t.name: [] for t in trainers}
    for _ in range(rounds):
        for t in trainers:
            chunk = [next(order[t.name]) for _ in range(steps)]
            data = [(x[i], y[i]) for i in chunk]
            started = time.perf_counter()
            for xb, yb in data:
                t.step(xb, yb)
            rates[t.name].append(steps * batch_size / (time.perf_counter() - started))
    return {name: statistics.median(r) for name, r in rates.items()}


def loader_throughput(data_dir, batch_size):
    """images/s of gradlab's DataLoader alone over MNIST with ToTensor+Normalize: fast path vs item by item."""
    from gradlab.datasets import MNIST, DatasetNotFoundError, DigitsMNIST, transforms as T
    from gradlab.utils.data import DataLoader, default_collate

    tf = T.Compose([T.ToTensor(), T.Normalize((MNIST_MEAN,), (MNIST_STD,))])
    try:
        ds = MNIST(data_dir, train=True, transform=tf)
    except DatasetNotFoundError:
        ds = DigitsMNIST(train=True, transform=tf)
    out = {}
    for label, collate in (("fast path", None), ("item by item", lambda b: default_collate(b))):
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=collate,
                            generator=gradlab.Generator().manual_seed(0))
        limit = len(loader) if collate is None else max(1, len(loader) // 10)
        started = time.perf_counter()
        seen = 0
        for i, (xb, _) in enumerate(loader):
            seen += len(xb)
            if i + 1 >= limit:
                break
        out[label] = seen / (time.perf_counter() - started)
    return out


# ---------------------------------------------------------------- time to accuracy


def fast_recipe():
    """`gradlab train --recipe fast` as one dict (its named defaults over the standard ones)."""
    return dict(RECIPE_DEFAULTS, **RECIPES["fast"])


def recipe_batches(n, batch_size, seed):
    """The batches `gradlab train` draws, epoch after epoch: its DataLoader's sampler, same generator."""
    from gradlab.utils.data import BatchSampler, RandomSampler

    generator = gradlab.Generator().manual_seed(seed)
    while True:  # each pass runs to its end, as the DataLoader's does (the generator's state depends on it)
        for idx in list(BatchSampler(RandomSampler(range(n), generator=generator), batch_size, False)):
            yield np.asarray(idx)


class RecipeRun:
    """One framework training with a `gradlab train` recipe: lr schedule, label smoothing, moving average."""

    def __init__(self, name, model, recipe, steps_per_epoch):
        self.trainer = Trainer(name, model, recipe["lr"], betas=(0.9, recipe["beta2"]),
                               label_smoothing=recipe["label_smoothing"])
        self.recipe, self.steps_per_epoch = recipe, steps_per_epoch
        self.total = recipe["steps"]
        self.ema_start = max(1, int(EMA_START * self.total))
        self.averaged = None

    def step(self, step, x, y):
        r, t = self.recipe, self.trainer
        t.set_lr(lr_at(step, self.steps_per_epoch, None, r["schedule"], r["lr"], r["lr_decay"], self.total))
        t.step(x, y)
        if r["ema"] and step + 1 >= self.ema_start:
            if self.averaged is None:
                self.averaged = copy.deepcopy(t.model)
            else:
                with t.lib.no_grad():
                    for avg, weight in zip(self.averaged.parameters(), t.model.parameters()):
                        avg.lerp_(weight, 1 - r["ema"])

    def accuracy(self, x, y):
        return self.trainer.accuracy(x, y, model=self.averaged, batch=TEST_BATCH)


def time_to_accuracy(train, test, recipe, seed, framework, target):
    """(seconds from the first step to the evaluation reaching target or None, its step, evaluations)."""
    x, y = train
    ours, theirs = make_pair(seed)
    model = ours if framework == "gradlab" else theirs
    steps_per_epoch = -(-len(x) // recipe["batch_size"])
    run = RecipeRun(framework, model, recipe, steps_per_epoch)
    eval_at = evaluation_steps(recipe["steps"], recipe["eval_every"], recipe["eval_from"])
    order = recipe_batches(len(x), recipe["batch_size"], seed)
    evaluations = []
    started = time.perf_counter()
    for step in range(recipe["steps"]):
        idx = next(order)
        run.step(step, x[idx], y[idx])
        if step + 1 in eval_at:
            evaluations.append(run.accuracy(*test))
            if 100 * evaluations[-1] >= target - 1e-9:
                return time.perf_counter() - started, step + 1, evaluations
    return None, recipe["steps"], evaluations


def print_to_accuracy(args, train, test):
    recipe = fast_recipe()
    target = recipe["target"] if args.target is None else args.target
    print(f"\nwall time to {target:g}% test accuracy, `gradlab train --recipe fast` (Adam lr {recipe['lr']:g}, "
          f"beta2 {recipe['beta2']:g}, label smoothing {recipe['label_smoothing']:g}, batch {recipe['batch_size']}, "
          f"one-cycle over {recipe['steps']} steps, moving average {recipe['ema']:g} over the second half; "
          f"test evaluations every {recipe['eval_every']} steps from step {recipe['eval_from']}); "
          f"from the first step to the evaluation that reaches it")
    frameworks = ["gradlab"] + (["torch"] if torch is not None else [])
    print(f"{'seed':>4} " + " ".join(f"{fw + ' s':>10} {'step':>5} {'evals':>5}" for fw in frameworks)
          + (f" {'gradlab time / pytorch time':>28}" if len(frameworks) == 2 else ""))
    for i, seed in enumerate(args.seeds):
        order = frameworks if i % 2 == 0 else frameworks[::-1]  # interleaved: each goes first in turn
        res = {fw: time_to_accuracy(train, test, recipe, seed, fw, target) for fw in order}
        cells = []
        for fw in frameworks:
            secs, step, evals = res[fw]
            cells.append(f"{secs:>10.2f} {step:>5} {len(evals):>5}" if secs else f"{'not':>10} {step:>5} {len(evals):>5}")
        ratio = ""
        if len(frameworks) == 2 and all(res[fw][0] for fw in frameworks):
            ratio = f" {res['gradlab'][0] / res['torch'][0]:>27.2f}x"
        print(f"{seed:>4} " + " ".join(cells) + ratio, flush=True)
        print(f"     accuracies: " + "; ".join(f"{fw} " + ", ".join(f"{100 * a:.2f}" for a in res[fw][2])
                                             for fw in frameworks), flush=True)


# ---------------------------------------------------------------- memory (child processes)


def memory(args, frameworks):
    """Each framework trains in a fresh process that imports only itself: RSS figures in MB."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    out = {}
    for fw in frameworks:
        cmd = [sys.executable, str(ROOT / "bench" / "_memory_child.py"), fw, args.data,
               str(args.memory_steps), str(args.memory_batch), str(args.threads)]
        result = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        out[fw] = json.loads(result.stdout.strip().splitlines()[-1])
    return out


# ---------------------------------------------------------------- profile


def profile(train, batch_size, steps):
    """gradlab's own per-op profiler over ``steps`` training steps."""
    x, y = train
    ours, _ = make_pair(0)
    t = Trainer("gradlab", ours, 1e-3)
    order = batches(len(x), batch_size, 1)
    for _ in range(3):
        idx = next(order)
        t.step(x[idx], y[idx])
    with gradlab.autograd.profiler.profile() as prof:
        for _ in range(steps):
            idx = next(order)
            t.step(x[idx], y[idx])
    print(f"\n{steps} training steps at batch {batch_size}, per op (gradlab.autograd.profiler):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))


# ---------------------------------------------------------------- main


def same_start(train, steps=5, batch_size=64):
    """Both frameworks from the same weights on the same batches: losses and weights after a few steps."""
    x, y = train
    ours, theirs = make_pair(0)
    g, t = Trainer("gradlab", ours, 1e-3), Trainer("torch", theirs, 1e-3)
    order = batches(len(x), batch_size, 1)
    for _ in range(steps):
        idx = next(order)
        lg, lt = g.step(x[idx], y[idx]), t.step(x[idx], y[idx])
    ws = ours.state_dict()
    diff = max(float(np.abs(ws[k].numpy() - v.detach().numpy()).max()) for k, v in theirs.state_dict().items())
    print(f"same start: loss after {steps} steps gradlab {lg:.6f}, pytorch {lt:.6f}; "
          f"largest weight difference {diff:.2e}")


def print_throughput(args, train):
    print(f"\ntraining throughput, images/s (median of {args.rounds} alternating windows "
          f"of {args.steps} steps)")
    print(f"{'batch':>6} {'gradlab':>10} {'pytorch':>10} {'gradlab speed / pytorch speed':>30}")
    for bs in args.batch_sizes:
        r = throughput(train, bs, args.steps, args.rounds)
        theirs = r.get("torch")
        ratio = f"{r['gradlab'] / theirs:.2f}x" if theirs else "-"
        print(f"{bs:>6} {r['gradlab']:>10,.0f} {theirs or 0:>10,.0f} {ratio:>30}", flush=True)
    for bs in args.batch_sizes:
        lt = loader_throughput(args.data, bs)
        print(f"gradlab DataLoader alone (MNIST, ToTensor+Normalize, batch {bs}): "
              + ", ".join(f"{k} {v:,.0f} images/s" for k, v in lt.items()))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.environ.get("GRADLAB_DATA", str(ROOT.parent / "shared" / "mnist")))
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 256])
    p.add_argument("--steps", type=int, default=20, help="training steps per timing window")
    p.add_argument("--rounds", type=int, default=5, help="timing windows per framework")
    p.add_argument("--to-accuracy", action="store_true",
                   help="also measure wall time to --target accuracy with `gradlab train --recipe fast`, "
                        "on gradlab and PyTorch, interleaved, per seed")
    p.add_argument("--target", type=float, default=None, metavar="PCT",
                   help="test accuracy in percent (default: the recipe's, 99.0)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds for --to-accuracy")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--memory-steps", type=int, default=1000)
    p.add_argument("--memory-batch", type=int, default=64)
    p.add_argument("--profile", action="store_true", help="profile gradlab's step per op (gradlab.autograd.profiler)")
    p.add_argument("--profile-batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2,
                   help="threads for each framework: torch.set_num_threads, gradlab's kernels and BLAS (default 2)")
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args()

    if not args.no_torch:
        import_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    with thread_limit(args.threads):
        run(args)


def run(args):
    train, test, name = load_arrays(args.data)
    print(f"LeNet-5 on {name}: gradlab (kernels: {gradlab.kernels.get_backend()}) vs "
          f"{'PyTorch ' + torch.__version__ if torch else 'no PyTorch'}, {args.threads} threads each; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.profile:
        return profile(train, args.profile_batch, 100)

    if torch is not None:
        same_start(train)
    if not args.no_throughput:
        print_throughput(args, train)

    if args.to_accuracy:
        print_to_accuracy(args, train, test)

    if not args.no_memory:
        fws = ["gradlab"] + (["torch"] if torch else [])
        mem = memory(args, fws)
        print(f"\nmemory, MB: each framework trains {args.memory_steps} steps at batch {args.memory_batch} in a "
              f"fresh process that imports only itself ({mem['gradlab']['data']}, kept as uint8)")
        print(f"{'':8s} {'peak RSS of the run':>20} {'RSS before training':>20} {'training peak - before':>23} "
              f"{'growth step 100->end':>21}")
        for fw, m in mem.items():
            print(f"{fw:8s} {m['peak']:>20.1f} {m['before_training']:>20.1f} "
                  f"{m['peak'] - m['before_training']:>23.1f} {m['at_end'] - m['at_100']:>21.2f}")
        if len(mem) == 2:
            g, t = mem["gradlab"], mem["torch"]
            print(f"peak RSS, gradlab/pytorch: {g['peak'] / t['peak']:.2f}x")


if __name__ == "__main__":
    main()
