"""Shared by the benchmark scripts: one process per implementation, taking turns.

Each implementation (NumPy, Numba, PyTorch, ...) trains in its own worker process, because the
thread pools of different runtimes in one process compete for the cores. The parent sends one
command per line on the worker's stdin and reads one line of JSON back. Between two turns the
parent waits a moment (``pause``): a BLAS thread keeps spinning for a while after its last
product (OpenBLAS: about 0.1 s), and without the pause the previous worker's spinning threads
would take CPU from the next worker's first batches.
"""

import json
import subprocess
import time


class Worker:
    """The parent's handle on a worker process started with ``command`` (a list of strings),
    in the environment ``env`` (None: the parent's).

    The worker first prints one line of JSON (its hello: versions, BLAS kernel, ...), kept in
    ``hello``; then ``ask("epoch")`` sends a command and returns the worker's JSON answer."""

    def __init__(self, name, command, env=None):
        self.name = name
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        self.hello = self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} worker stopped (see its error above)")
        return json.loads(line)

    def ask(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self):
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait()


def take_turns(workers, rounds, pause, command="epoch"):
    """``rounds`` rounds; in each, every worker answers ``command`` once, in turn, after a
    ``pause`` in seconds. Returns {worker name: [answers]}."""
    answers = {w.name: [] for w in workers}
    for _ in range(rounds):
        for w in workers:  # interleaved: load on a shared machine hits all alike
            time.sleep(pause)
            answers[w.name].append(w.ask(command))
    return answers


def paired_ratios(numerators, denominators):
    """Per-round ratios a_i / b_i of two workers' times, and their median.

    The rounds run back to back, so a change in the machine's speed (another tenant starting
    or stopping) hits both times of a round alike; the median of the per-round ratios is
    steadier than the ratio of the two medians."""
    ratios = [a / b for a, b in zip(numerators, denominators)]
    ratios_sorted = sorted(ratios)
    mid = len(ratios_sorted) // 2
    median = (ratios_sorted[mid] if len(ratios_sorted) % 2
              else (ratios_sorted[mid - 1] + ratios_sorted[mid]) / 2)
    return ratios, median


def ratio_line(label, numerators, denominators, target):
    """'label = 0.93 (ratio of medians); per round 0.81 0.68 ... -> median 0.85   (target)'."""
    import statistics

    ratios, median = paired_ratios(numerators, denominators)
    of_medians = statistics.median(numerators) / statistics.median(denominators)
    rounds = " ".join(f"{r:.2f}" for r in ratios)
    return (f"{label} = {of_medians:.2f} (ratio of medians); per round {rounds} -> median "
            f"{median:.2f}   ({target})")
