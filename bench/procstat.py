"""CPU and processes as ``/proc`` tells them: a process and its children, their CPU seconds, the
processes of one name (the database and Redis servers), the whole machine's busy time.

``bench.load``'s measurements (``bench.measure``, ``bench.bursts``) read these around each run.
"""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def family(pid: int) -> list[int]:
    """``pid`` and its children (gunicorn's workers)."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stream:
                    fields = stream.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    pids.append(int(entry))
            except (OSError, IndexError):
                continue
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stream:
                fields = stream.read().rsplit(")", 1)[1].split()
            # utime, stime, and cutime, cstime: the CPU of children already reaped (gunicorn's
            # workers recycled after max_requests), which would otherwise vanish from the sums.
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except OSError:
            continue
    return total / TICK


def by_name(name: str) -> list[int]:
    """Every process whose command name is ``name`` (the database and Redis servers)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as stream:
                    if stream.read().strip() == name:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU the whole machine spent busy and idle so far (``/proc/stat``)."""
    with open("/proc/stat") as stream:
        fields = [int(v) for v in stream.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / TICK, idle / TICK
