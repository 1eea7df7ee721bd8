"""Six workloads a learner trains, on gradlab and on PyTorch: steps/s, throughput and GEMM use.

    python bench/suite.py                       # 3 repetitions, 1 thread and all cores
    python bench/suite.py --quick               # 1 repetition, short windows: under two minutes
    python bench/suite.py --workloads lstm transformer --threads 2 --chart suite.png

Each workload (bench/workloads/) is written once as PyTorch code and built on
either engine from the same initial weights, fed the same NumPy batches.
Every measurement runs in a fresh process that imports only its engine, with
OMP/BLAS threads set before NumPy loads and ``set_num_threads`` called; the
processes are interleaved (workload by workload, the engines alternating
which goes first) so both see the same machine load, and the median over the
repetitions is reported.  (--quick runs all workloads of one engine and
thread count in one process: importing PyTorch can take longer than its
measurements.)  A process takes two warm-up steps (their losses are
printed as a check that both engines compute the same thing), then times
steps until --min-time seconds have passed (or exactly --steps steps).

GFLOP/s counts the model's matrix products and convolutions (see
bench/workloads/__init__.py); "% peak" divides it by this machine's float32
GEMM rate on one thread times the thread count.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

ENGINES = ("gradlab", "torch")
WARMUP = 2


# ---------------------------------------------------------------- one measurement (a child process)


def measure(engine, name, threads, steps, min_time):
    """Steps per second of one workload on one engine, in this process."""
    import gc

    import numpy as np
    from workloads import all_workloads, same_start

    gc.collect()                 # the previous workload's graphs and buffers, in a shared process

    lib = __import__(engine)
    lib.set_num_threads(threads)
    w = all_workloads()[name]
    lib.manual_seed(0)
    model, optimizer = w.build(lib)
    same_start(lib, model)
    rng = np.random.default_rng(1)
    batches = [tuple(lib.from_numpy(a) for a in w.batch(rng)) for _ in range(4)]

    if optimizer is None:
        def step(data):
            with lib.no_grad():
                return model(*data)
    else:
        def step(data):
            loss = w.loss(lib, model, *data)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss

    first = [step(batches[i % 4]) for i in range(WARMUP)]
    losses = [float(v.item()) for v in first] if optimizer is not None else []
    done, started = 0, time.perf_counter()
    while (done < steps) if steps else (done < 2 or time.perf_counter() - started < min_time):
        step(batches[done % 4])
        done += 1
    seconds = time.perf_counter() - started
    return {"steps_per_s": done / seconds, "steps": done, "losses": losses,
            "version": lib.__version__, "threads": lib.get_num_threads()}


def run_child(engine, names, threads, args):
    """Measurements of the named workloads in one fresh process; None when the engine is not installed."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), PYTHONPATH=os.pathsep.join(
                   [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, __file__, "--child", engine, str(threads), "--min-time", str(args.min_time),
           "--workloads", *names]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        if engine == "torch" and "No module named 'torch'" in done.stderr:
            return None
        raise RuntimeError(f"suite: {engine} {' '.join(names)} at {threads} threads failed:\n"
                           f"{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the machine's GEMM rate


def gemm_peak_one_thread():
    """float32 GEMM GFLOP/s on one thread: gradlab.debug's cached figure when it exists, else measured."""
    try:
        from gradlab import debug, kernels
        return debug.peak_gflops() / kernels.get_num_threads()
    except ImportError:
        pass
    import numpy as np
    a = np.random.default_rng(0).standard_normal((16, 64, 64), dtype=np.float32)
    out = np.empty_like(a)
    best = float("inf")
    for _ in range(200):   # batched 64x64 products: one BLAS thread each, as the kernels' are
        started = time.perf_counter()
        np.matmul(a, a, out=out)
        best = min(best, time.perf_counter() - started)
    return 2 * a.size * 64 / best / 1e9


# ---------------------------------------------------------------- the run


def run(args, workloads):
    """All measurements, interleaved: {(workload, threads, engine): [result per repetition]}."""
    engines = [e for e in ENGINES if not (e == "torch" and args.no_torch)]
    # a fresh process per measurement; --quick shares one per engine and thread count (imports are slow)
    groups = [list(workloads)] if args.quick else [[name] for name in workloads]
    results = {}
    for rep in range(args.repeats):
        for threads in args.threads:
            for names in groups:
                for engine in (engines if rep % 2 == 0 else engines[::-1]):
                    measured = run_child(engine, names, threads, args)
                    if measured is None:          # PyTorch not installed
                        engines = [e for e in engines if e != engine]
                        continue
                    for name, r in zip(names, measured):
                        results.setdefault((name, threads, engine), []).append(r)
                        print(f"  [{rep + 1}/{args.repeats}] {name:12s} {threads} thr {engine:8s} "
                              f"{r['steps_per_s']:9.2f} steps/s ({r['steps']} steps)", file=sys.stderr, flush=True)
    return results


def summarise(results, workloads, peak1):
    """Rows of the table: one per workload and thread count, medians over the repetitions."""
    rows = []
    for (name, threads, engine), runs in results.items():
        w = workloads[name]
        sps = statistics.median(r["steps_per_s"] for r in runs)
        gflops = sps * w.flops / 1e9
        rows.append({"workload": name, "title": w.title, "threads": threads, "engine": engine,
                     "steps_per_s": sps, "items_per_s": sps * w.items, "unit": w.unit,
                     "gflops": gflops, "peak_fraction": gflops / (peak1 * threads),
                     "losses": runs[0]["losses"], "version": runs[0]["version"]})
    return rows


def _fmt(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def table(rows, workloads, thread_counts):
    """The markdown table: each engine's rates, then gradlab / PyTorch."""
    by = {(r["workload"], r["threads"], r["engine"]): r for r in rows}
    has_torch = any(r["engine"] == "torch" for r in rows)
    head = ["workload", "threads", "gradlab steps/s", "gradlab items/s", "GFLOP/s", "% peak"]
    if has_torch:
        head += ["PyTorch steps/s", "PyTorch items/s", "GFLOP/s", "% peak", "gradlab / PyTorch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in workloads:
        for threads in thread_counts:
            cells = [workloads[name].title, str(threads)]
            for engine in ("gradlab", "torch") if has_torch else ("gradlab",):
                r = by.get((name, threads, engine))
                cells += (["-"] * 4 if r is None else
                          [_fmt(r["steps_per_s"]), f"{_fmt(r['items_per_s'])} {r['unit']}",
                           f"{r['gflops']:.1f}", f"{100 * r['peak_fraction']:.0f}%"])
            if has_torch:
                g, t = by.get((name, threads, "gradlab")), by.get((name, threads, "torch"))
                cells.append(f"{g['steps_per_s'] / t['steps_per_s']:.2f}x" if g and t else "-")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def loss_check(rows):
    """The two warm-up losses per engine: the same weights and data give the same numbers."""
    out = []
    for name in dict.fromkeys(r["workload"] for r in rows):
        per = {r["engine"]: r["losses"] for r in rows if r["workload"] == name and r["losses"]}
        if per:
            out.append(f"  {name:12s} " + "   ".join(
                f"{e}: " + ", ".join(f"{v:.5f}" for v in losses) for e, losses in per.items()))
    return "\n".join(out)


def chart(rows, workloads, thread_counts, path):
    """Grouped bars per workload and thread count: gradlab / PyTorch, or gradlab's % of peak alone."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    by = {(r["workload"], r["threads"], r["engine"]): r for r in rows}
    has_torch = any(r["engine"] == "torch" for r in rows)
    names = list(workloads)
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(names) * len(thread_counts)))
    height = 0.8 / len(thread_counts)
    for i, threads in enumerate(thread_counts):
        values = []
        for name in names:
            g, t = by.get((name, threads, "gradlab")), by.get((name, threads, "torch"))
            if has_torch:
                values.append(g["steps_per_s"] / t["steps_per_s"] if g and t else 0)
            else:
                values.append(100 * g["peak_fraction"] if g else 0)
        ys = [k + i * height for k in range(len(names))]
        bars = ax.barh(ys, values, height, label=f"{threads} thread{'s' if threads > 1 else ''}")
        ax.bar_label(bars, fmt="%.2fx" if has_torch else "%.0f%%", padding=2, fontsize=8)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(names))], [workloads[n].title for n in names],
                  fontsize=8)
    ax.invert_yaxis()
    if has_torch:
        ax.set_xscale("log")          # 2x faster and 2x slower sit at the same distance from 1
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel("gradlab speed / PyTorch speed (steps per second; above 1: gradlab faster)")
    else:
        ax.set_xlabel("gradlab: % of this machine's float32 GEMM rate")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse(argv=None):
    from workloads import all_workloads
    names = list(all_workloads())
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="1 repetition, 0.4 s windows, one process per engine and thread count (under two minutes)")
    p.add_argument("--workloads", nargs="+", choices=names, default=names, metavar="NAME",
                   help=f"which workloads ({', '.join(names)}; default all)")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help=f"thread counts (default 1 and all cores: 1 {os.cpu_count()})")
    p.add_argument("--repeats", type=int, default=None, help="fresh processes per measurement (default 3)")
    p.add_argument("--min-time", type=float, default=None, help="seconds timed per process (default 2)")
    p.add_argument("--steps", type=int, default=None, help="time exactly this many steps instead of --min-time")
    p.add_argument("--no-torch", action="store_true", help="gradlab alone")
    p.add_argument("--chart", metavar="PATH", help="write a bar chart (PNG, needs matplotlib)")
    p.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    p.add_argument("--child", nargs=2, metavar=("ENGINE", "THREADS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.min_time = args.min_time if args.min_time is not None else (0.4 if args.quick else 2.0)
    args.threads = args.threads or sorted({1, os.cpu_count() or 1})
    if min(args.threads) < 1 or args.repeats < 1 or (args.steps is not None and args.steps < 1):
        p.error(f"--threads, --repeats and --steps must be positive, got {args.threads}, {args.repeats}, "
                f"{args.steps}")
    return args


def main(argv=None):
    args = parse(argv)
    if args.child:
        engine, threads = args.child
        print(json.dumps([measure(engine, name, int(threads), args.steps, args.min_time)
                          for name in args.workloads]))
        return
    from workloads import all_workloads
    workloads = {n: w for n, w in all_workloads().items() if n in args.workloads}
    peak1 = gemm_peak_one_thread()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    rows = summarise(run(args, workloads), workloads, peak1)
    versions = ", ".join(f"{e} {r['version']}" for e, r in {r["engine"]: r for r in rows}.items())
    print(f"{versions}; {os.cpu_count()} cores; float32 GEMM peak {peak1:.1f} GFLOP/s per thread; "
          f"median of {args.repeats} fresh process{'es' if args.repeats > 1 else ''}; "
          f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"{time.perf_counter() - started:.0f} s\n", flush=True)
    print(table(rows, workloads, args.threads))
    check = loss_check(rows)
    if check:
        print(f"\nfirst two training losses (same weights, same data; dropout makes the transformer's differ):\n"
              f"{check}")
    if args.chart:
        chart(rows, workloads, args.threads, args.chart)
        print(f"\nchart: {args.chart}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
