"""Small measurements the benches share: percentiles, the machine's CPU, a process's memory.

All from the standard library and Linux's /proc; nothing here starts or changes anything.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU ticks of the whole machine so far; (0, 0) where /proc is missing."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def memory_mb(field: str, pid: int | str = "self") -> float:
    """A memory figure of /proc/<pid>/status in MB: VmRSS (resident now), VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")
