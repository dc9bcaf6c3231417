"""Samples the bridge process (and its children): resident memory and CPU time."""

from __future__ import annotations

import threading

import psutil  # type: ignore[import-untyped]


class ProcessSampler:
    """A daemon thread reading RSS every `interval` seconds; keeps the peak and the last."""

    def __init__(self, pid: int, *, interval: float = 0.1) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_rss = 0
        self.last_rss = 0
        self.samples = 0

    def start(self) -> ProcessSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def rss(self) -> int:
        """Bytes resident in the process and all its descendants now."""
        total = 0
        try:
            processes = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its descendants so far."""
        try:
            processes = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total += times.user + times.system
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.rss()
            if rss:
                self.last_rss = rss
                self.peak_rss = max(self.peak_rss, rss)
                self.samples += 1
            self._stop.wait(self._interval)


def own_cpu_seconds() -> float:
    """CPU time of this (benchmark) process: the generator and both fakes."""
    times = psutil.Process().cpu_times()
    return float(times.user + times.system)
