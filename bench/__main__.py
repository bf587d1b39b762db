"""``python -m bench [load|import|webhook|notices|turn] [options]``: run the benchmarks.

``make bench`` runs load, then import, then understanding.

- ``load``: the service as deployed under load against the floor and an echo bot, then a crowd
  and a flood sent open loop and the scale-out over worker processes (``bench/load.py``;
  ``--only bursts`` for the latter alone, ``--compare`` to set saved runs side by side);
- ``import``: the 100,000-row CSV import on PostgreSQL (``bench/imports.py``);
- ``webhook``: POST /callback latency and memory per request (``bench/webhook.py``);
- ``understanding``: free text read against labelled sets and two baselines (``bench/understanding.py``);
- ``turn``: the CPU of one 今月の料金 turn in one process, step by step, with a cProfile (``bench/turn.py``);
- ``notices``: 100,000 bill notices to a fake LINE with 50 ms latency, several workers
  (``bench/notices.py``): achieved rate against the limit, peak memory at 10,000 and 100,000.

Options after the name go to that benchmark (``python -m bench webhook --help``). With no
name each benchmark runs in a process of its own, so one's leftovers (heap, caches, GC
pauses) do not show up in the other's numbers.
"""

from __future__ import annotations

import subprocess
import sys

from bench import imports, load, notices, turn, understanding, webhook

BENCHMARKS = {"load": load.main, "import": imports.main, "webhook": webhook.main, "notices": notices.main,
              "turn": turn.main, "understanding": understanding.main}
DEFAULT = ("load", "import", "understanding")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if args and args[0] in BENCHMARKS:
        return BENCHMARKS[args[0]](args[1:])
    if args:
        print(f"python -m bench: unknown benchmark {args[0]!r}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    status = 0
    for name in DEFAULT:
        print(f"== bench {name} ==", flush=True)
        status = subprocess.run([sys.executable, "-m", "bench", name], check=False).returncode or status
        print(flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
