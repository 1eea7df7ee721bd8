"""What ``gradlab train`` shows and writes: the progress bar, metrics.json, the learning curve."""
import json
import os
import time

__all__ = ["Progress", "write_json", "plot_curve", "say"]


def say(*parts):
    print(*parts, flush=True)


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
    """Training loss (per ~2% of an epoch) and test accuracy (at each evaluation) as a PNG."""
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
    tests = metrics.get("evaluations") or [e for e in epochs if e["test_accuracy"] is not None]
    right.plot([e["epoch"] for e in tests], [100 * e["test_accuracy"] for e in tests], "o-")
    if metrics.get("reached"):
        right.axhline(metrics["reached"]["target"], color="grey", linestyle=":", label="target")
    right.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"test accuracy ({metrics['dataset']})")
    right.xaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    tmp = f"{path}.tmp{os.getpid()}.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)
    return True
