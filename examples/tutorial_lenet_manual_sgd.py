"""LeNet-5 from raw tensors and a hand-written SGD step: the classic tutorial recipe.

No nn.Module and no optimizer: the parameters are plain tensors with
requires_grad=True, the network is a function built from F.conv2d,
F.max_pool2d, F.relu and F.linear, and each step is

    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()

The recipe: batch 10,000, lr 0.001, 100 epochs on MNIST.

    python examples/tutorial_lenet_manual_sgd.py --data /path/to/mnist
    python examples/tutorial_lenet_manual_sgd.py --epochs 5        # a shorter run

Everything below the imports is PyTorch tutorial code: ``import gradlab as
torch`` is the only change.
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import gradlab as torch  # noqa: E402
import gradlab.nn.functional as F  # noqa: E402
from gradlab.datasets import MNIST, DatasetNotFoundError, DigitsMNIST, transforms  # noqa: E402
from gradlab.utils.data import DataLoader  # noqa: E402


def parameter(*shape, fan_in):
    """A tensor uniform in +-1/sqrt(fan_in) (PyTorch's default for conv and linear layers)."""
    bound = 1 / math.sqrt(fan_in)
    return (torch.rand(*shape) * 2 * bound - bound).requires_grad_()


def init_params():
    return {
        "conv1_w": parameter(6, 1, 5, 5, fan_in=25), "conv1_b": parameter(6, fan_in=25),
        "conv2_w": parameter(16, 6, 5, 5, fan_in=150), "conv2_b": parameter(16, fan_in=150),
        "conv3_w": parameter(120, 16, 5, 5, fan_in=400), "conv3_b": parameter(120, fan_in=400),
        "fc1_w": parameter(84, 120, fan_in=120), "fc1_b": parameter(84, fan_in=120),
        "fc2_w": parameter(10, 84, fan_in=84), "fc2_b": parameter(10, fan_in=84),
    }


def lenet5(p, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, p["conv1_w"], p["conv1_b"], padding=2)), 2)  # 6 x 14 x 14
    x = F.max_pool2d(F.relu(F.conv2d(x, p["conv2_w"], p["conv2_b"])), 2)             # 16 x 5 x 5
    x = F.relu(F.conv2d(x, p["conv3_w"], p["conv3_b"]))                              # 120 x 1 x 1
    x = x.flatten(1)
    x = F.relu(F.linear(x, p["fc1_w"], p["fc1_b"]))
    return F.linear(x, p["fc2_w"], p["fc2_b"])


def accuracy(p, loader):
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (lenet5(p, x).argmax(dim=1) == y).sum().item()
            total += len(y)
    return correct / total


def datasets(root):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    try:
        return MNIST(root, train=True, transform=tf), MNIST(root, train=False, transform=tf), "MNIST"
    except DatasetNotFoundError:
        print(f"MNIST not found in {root}: using scikit-learn's digits instead")
        return DigitsMNIST(train=True, transform=tf), DigitsMNIST(train=False, transform=tf), "digits"


def main():
    ap = argparse.ArgumentParser(description="LeNet-5 with raw tensors and manual SGD")
    ap.add_argument("--data", default=os.environ.get("GRADLAB_DATA", os.path.expanduser("~/.cache/gradlab")))
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=10_000)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10, help="print test accuracy every N epochs")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    train_set, test_set, name = datasets(args.data)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=10_000)
    params = init_params()
    lr = args.lr
    print(f"{name}: {len(train_set)} training images, batch {args.batch_size}, lr {lr}, {args.epochs} epochs")

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        for x, y in train_loader:
            loss = F.cross_entropy(lenet5(params, x), y)
            loss.backward()
            with torch.no_grad():
                for p in params.values():
                    p -= lr * p.grad
                    p.grad.zero_()
        if epoch % args.log_every == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  test accuracy {100 * accuracy(params, test_loader):.2f}%"
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)

    elapsed = time.perf_counter() - start
    print(f"test accuracy {100 * accuracy(params, test_loader):.2f}% after {args.epochs} epochs "
          f"in {elapsed:.1f} s ({elapsed / args.epochs:.1f} s per epoch)")


if __name__ == "__main__":
    main()
