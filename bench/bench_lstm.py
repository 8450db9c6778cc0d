"""course_lib's LSTM layer against torch.nn.LSTM: forward+backward time and peak memory.

Bar (ENGINEERING.md): on the CPU both the time and the peak memory of course_lib.layers.LSTM are
at most 1.5x those of torch.nn.LSTM, at B=64, T=100, D=32, H=128 in float32.

* Time: the two implementations alternate within one process, so that both see the same load
  on a shared machine; the median over the repeats is reported, after warm-up runs.
* Memory: each implementation runs in a fresh subprocess: the peak resident set (``VmHWM``, reset
  through ``/proc/self/clear_refs`` just before) minus the resident set (``VmRSS``) before the
  measured forward+backward. ``ru_maxrss`` would not do: Linux carries it over from the parent
  across fork and exec. A tiny forward+backward first pays the one-time costs (thread pools,
  kernels) without raising the peak.
* CPU tables for all of torch's threads and for one thread. The course layer runs many small
  operations per step, torch one fused oneDNN kernel per layer; when other processes oversubscribe
  the cores, multi-threaded small operations suffer most, and the one-thread table is the fairer.
* With CUDA present, the same comparison against cuDNN on the GPU, memory from
  ``torch.cuda.max_memory_allocated``.

Usage: ``python bench/bench_lstm.py [--repeats N]``. It prints the tables, saves them as
``bench/results/lstm.md`` (shown on the book's benchmarks page) and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from course_lib.layers import LSTM

B, T, D, H = 64, 100, 32, 128
TARGET = 1.5
MiB = 2**20


def make(impl: str, device: torch.device) -> Callable[[torch.Tensor], None]:
    """A function running one forward+backward of ``impl`` ("course" or "torch") on ``x``."""
    torch.manual_seed(0)
    if impl == "torch":
        module: torch.nn.Module = torch.nn.LSTM(D, H, batch_first=True)
    else:
        module = LSTM(D, H)
    module.to(device)

    def run(x: torch.Tensor) -> None:
        out = module(x)
        out = out[0] if isinstance(out, tuple) else out
        out.sum().backward()

    return run


def inputs(device: torch.device, batch: int = B, steps: int = T) -> torch.Tensor:
    return torch.randn(batch, steps, D, generator=torch.Generator().manual_seed(1)).to(device)


def time_both(device: torch.device, repeats: int) -> dict[str, float]:
    """Median milliseconds per forward+backward, the implementations interleaved."""
    runs = {impl: make(impl, device) for impl in ("torch", "course")}
    x = inputs(device)
    times: dict[str, list[float]] = {impl: [] for impl in runs}
    for i in range(repeats + 3):  # the first three rounds are warm-up
        for impl, run in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            run(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i >= 3:
                times[impl].append(1e3 * (time.perf_counter() - start))
    return {impl: statistics.median(ts) for impl, ts in times.items()}


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in bytes."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024  # reported in kB


def peak_memory(impl: str, device: torch.device) -> int:
    """Peak bytes of one forward+backward of ``impl``, measured in this process."""
    run = make(impl, device)
    run(inputs(device, batch=2, steps=3))  # one-time costs, without raising the peak
    x = inputs(device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run(x)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set
    before = _status_bytes("VmRSS")
    run(x)
    return _status_bytes("VmHWM") - before


def peak_memory_fresh(impl: str, device: torch.device, threads: int) -> int:
    """:func:`peak_memory` in a fresh interpreter, so neither side masks the other's peak."""
    cmd = [
        sys.executable,
        __file__,
        "--memory-of",
        impl,
        "--device",
        str(device),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["bytes"]


def table(device: torch.device, repeats: int, threads: int) -> str:
    """Time and peak memory of both implementations, as a Markdown table with its caption."""
    torch.set_num_threads(threads)
    ms = time_both(device, repeats)
    mem = {impl: peak_memory_fresh(impl, device, threads) for impl in ms}
    baseline = "cuDNN" if device.type == "cuda" else "torch.nn.LSTM"
    lines = [
        f"LSTM forward+backward on {device} ({torch.get_num_threads()} threads), B={B} T={T} "
        f"D={D} H={H} float32, median of {repeats}; ratios against {baseline}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        "",
        "| impl | ms | ratio | peak MiB | ratio | target |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for impl in ("torch", "course"):
        t_ratio, m_ratio = ms[impl] / ms["torch"], mem[impl] / mem["torch"]
        verdict = ""
        if impl == "course":
            ok = t_ratio <= TARGET and m_ratio <= TARGET
            verdict = ("PASS" if ok else "FAIL") if device.type == "cpu" else "report only"
        lines.append(
            f"| {impl} | {ms[impl]:.2f} | {t_ratio:.2f} | {mem[impl] / MiB:.1f} | {m_ratio:.2f} "
            f"| <= {TARGET}x {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--memory-of", choices=["torch", "course"], help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    all_threads = torch.get_num_threads()
    parser.add_argument("--threads", type=int, default=all_threads, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:  # child process of peak_memory_fresh
        torch.set_num_threads(args.threads)
        print(json.dumps({"bytes": peak_memory(args.memory_of, torch.device(args.device))}))
        return
    tables = [table(torch.device("cpu"), args.repeats, n) for n in sorted({all_threads, 1})[::-1]]
    if torch.cuda.is_available():
        tables.append(table(torch.device("cuda"), args.repeats, all_threads))
    report = "\n".join(tables)
    print(report)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "lstm.md").write_text(report)  # the book's benchmarks page shows it


if __name__ == "__main__":
    main()
