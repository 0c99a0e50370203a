"""Two Gust servers compared at one load: both up at once and measured in turn, the order
swapped every pair. The machine's speed drifts between runs by more than the differences
measured here; short alternating runs see the same drift on both sides. A process's speed is a
draw too: four processes of one build side by side spent from 47 to 57 µs of CPU per request,
each keeping its rank run after run. So both servers are started afresh every few pairs, and
the draws fall on both sides alike."""

import statistics
import sys

from common import load_cells, summary, wrk


# Pairs measured on one start of the two servers.
PAIRS_PER_START = 2


def paired_runs(servers, pairs, seconds):
    """`servers` maps two labels to context managers yielding (process, URL); returns each
    label's wrk samples at 32 connections, the n-th of each taken back to back."""
    labels = list(servers)
    samples = {label: [] for label in labels}
    for start in range(0, pairs, PAIRS_PER_START):
        # Which server starts first takes turns as well.
        first, second = labels if start // PAIRS_PER_START % 2 == 0 else labels[::-1]
        with servers[first]() as one, servers[second]() as other:
            running = {first: one, second: other}
            for proc, url in running.values():
                wrk(url, 32, 1, proc.pid)
            for pair in range(start, min(start + PAIRS_PER_START, pairs)):
                for label in labels if pair % 2 == 0 else labels[::-1]:
                    proc, url = running[label]
                    samples[label].append(wrk(url, 32, seconds, proc.pid))
    for label, runs in samples.items():
        print(f"  {label:20} {summary(runs, 'rps')[0]:>10.0f} req/s", file=sys.stderr)
    return samples


def format_paired(samples, column, runs, seconds):
    """The table of both sides, then how the first compares with the second."""
    (first, a), (second, b) = samples.items()
    lines = [
        f"| {column} | req/s (median, min–max) | p50 µs | p99 µs | CPU µs/req |",
        "|---|---|---|---|---|",
        f"| {first} | {load_cells(a)} |",
        f"| {second} | {load_cells(b)} |",
        "",
    ]
    # The median of the pairs' ratios is less sensitive to the drift than the ratio of medians.
    ratios = [x["rps"] / y["rps"] for x, y in zip(a, b)]
    ratio = statistics.median(ratios)
    cpu_ratios = [x["cpu_us_per_req"] / y["cpu_us_per_req"] for x, y in zip(a, b)]
    # The middle half of the pairs: a pair that the machine's drift cut through lands outside.
    lower, _, upper = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratio,) * 3
    lines.append(f"{first} serves {100 * ratio:.1f}% of the throughput of {second} (median of "
                 f"{runs} paired runs of {seconds} s; the middle half of the pairs "
                 f"{100 * lower:.1f}–{100 * upper:.1f}%, all of them "
                 f"{100 * min(ratios):.1f}–{100 * max(ratios):.1f}%) and spends "
                 f"{100 * (statistics.median(cpu_ratios) - 1):+.1f}% CPU per request (median of "
                 "the pairs).")
    return "\n".join(lines)
