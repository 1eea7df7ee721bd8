"""The child process of test_kernel_fuzz.py: runs kernel calls on both backends, and PyTorch.

One JSON case per line on stdin, one JSON verdict per line on stdout.  It is a
separate process so that a crash (SIGSEGV) fails the case instead of killing
pytest.  A verdict: for each backend ["ok", shapes] or ["err", type, message];
"same": whether both backends agree (same exception type, or results equal up
to float rounding); "torch": "match", "mismatch ...", "refused" or "n/a".
"""
import json
import sys

import numpy as np

import gradlab.kernels as K

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

SMALL = 2**20          # PyTorch is asked only about geometry below this (it may hang on more)


def arrays(case):
    """The case's arrays, seeded; None for a shape NumPy cannot make."""
    rng = np.random.default_rng(case["seed"])
    out = {}
    for name, shape in case["arrays"].items():
        shape = tuple(shape)
        if 0 not in shape and int(np.prod([float(s) for s in shape])) > 10**5:
            return None
        try:
            a = np.empty(shape, np.float64)
        except (ValueError, MemoryError):
            return None
        if a.size:
            a[...] = rng.standard_normal(a.shape)
        out[name] = a
    if "indices" in case:         # max_pool2d_backward: indices inside the plane (or -1)
        g = out["grad_out"]
        hw = case["args"]["input_shape"][2] * case["args"]["input_shape"][3]
        out["indices"] = rng.integers(-1, max(hw, 1), size=g.shape).astype(np.int64)
    return out


def call(op, arrs, args):
    fn = getattr(K, op)
    if op == "conv2d_forward":
        return fn(arrs["x"], arrs["w"], arrs.get("b"), **args)
    if op == "conv2d_backward":
        return fn(arrs["grad_out"], arrs["x"], arrs["w"], **args)
    if op == "conv2d_input_grad":
        return fn(arrs["grad_out"], arrs["w"], **args)
    if op == "conv2d_weight_grad":
        return fn(arrs["grad_out"], arrs["x"], **args)
    if op in ("im2col", "max_pool2d_forward", "avg_pool2d_forward"):
        return fn(arrs["x"], **args)
    if op == "max_pool2d_backward":
        return fn(arrs["grad_out"], arrs["indices"], **args)
    return fn(arrs["grad_out" if op != "col2im" else "cols"], **args)


def flat(result):
    if isinstance(result, tuple):
        return [r for r in result if r is not None]
    return [result]


def run(op, arrs, args, backend):
    try:
        with K.use_backend(backend):
            return ["ok", flat(call(op, arrs, args))]
    except (ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as exc:
        return ["err", type(exc).__name__, str(exc)[:300]]


def same(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "err":
        return a[1] == b[1]
    return len(a[1]) == len(b[1]) and all(
        x.shape == y.shape and np.allclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True) for x, y in zip(a[1], b[1]))


def torch_result(op, arrs, args):
    t = {k: torch.from_numpy(v) for k, v in arrs.items()}
    if op == "conv2d_forward":
        return [TF.conv2d(t["x"], t["w"], t.get("b"), args["stride"], args["padding"], args["dilation"],
                          args["groups"])]
    if op == "im2col":
        return [TF.unfold(t["x"], args["kernel_size"], args["dilation"], args["padding"], args["stride"])]
    if op == "max_pool2d_forward":
        y, i = TF.max_pool2d(t["x"], args["kernel_size"], args["stride"], args["padding"], args["dilation"],
                             args["ceil_mode"], return_indices=True)
        return [y, i]
    if op == "avg_pool2d_forward":
        return [TF.avg_pool2d(t["x"], args["kernel_size"], args["stride"], args["padding"], args["ceil_mode"],
                              args["count_include_pad"], args["divisor_override"])]
    return None


def small(args):
    values = [v for a in args.values() for v in (a if isinstance(a, (tuple, list)) else [a])
              if isinstance(v, int) and not isinstance(v, bool)]
    return max(values, default=0) < SMALL


def judge(case):
    arrs = arrays(case)
    if arrs is None:
        return {"skip": True}
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in case["args"].items()}
    op = case["op"]
    cy = run(op, arrs, args, "cython") if "cython" in K.available_backends() else None
    npy = run(op, arrs, args, "numpy")
    verdict = {"cython": cy and cy[:1] + ([[r.shape for r in cy[1]]] if cy[0] == "ok" else cy[1:]),
               "numpy": npy[:1] + ([[r.shape for r in npy[1]]] if npy[0] == "ok" else npy[1:]),
               "same": cy is None or same(cy, npy), "torch": "n/a"}
    if torch is not None and small(args) and min(a.size for a in arrs.values()) >= 0:
        try:
            expected = torch_result(op, arrs, args)
        except Exception:  # noqa: BLE001 - PyTorch refusing is all we need to know
            expected = "refused"
        if expected is None:
            pass
        elif expected == "refused":
            verdict["torch"] = "refused"
        elif npy[0] == "err":
            verdict["torch"] = f"gradlab refused what PyTorch computes: {npy[1]}: {npy[2]}"
        else:
            ok = all(tuple(e.shape) == r.shape and np.allclose(e.numpy(), r, rtol=1e-9, atol=1e-9, equal_nan=True)
                     for e, r in zip(expected, npy[1]))
            verdict["torch"] = "match" if ok else "mismatch"
    return verdict


def main():
    for line in sys.stdin:
        print(json.dumps(judge(json.loads(line)), default=str), flush=True)


if __name__ == "__main__":
    main()
