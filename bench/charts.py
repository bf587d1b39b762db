"""The load test's charts (matplotlib, drawn only when it is installed): a run's series, its bursts
and scale-out, and saved runs' bursts compared.

``bench.report`` calls these beside the Markdown it writes; each takes results as saved in JSON.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import RESULTS
from bench.measure import SERIES


def chart(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = results["series"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = [n for n in SERIES if f"{n}@64" in s]
    axes[0].bar(names, [s[f"{n}@64"]["rps"] for n in names], color="#4a7")
    axes[0].set_title("requests/s at 64 connections")
    web = [s[f"{n}@2"]["web_cpu_ms"] for n in names]  # 2 connections: no worker recycling in the way
    work = [s[f"{n}@2"]["worker_cpu_ms"] for n in names]
    axes[1].bar(names, web, label="web (gunicorn)", color="#47a")
    axes[1].bar(names, work, bottom=web, label="worker", color="#a74")
    axes[1].set_title("CPU ms per request (2 connections)")
    axes[1].legend()
    for conns, style in ((2, "o-"), (64, "s--")):
        p99 = [(s[f"{n}@{conns}"]["e2e"] or s[f"{n}@{conns}"]["webhook"]).get("p99", 0) for n in names]
        axes[2].plot(names, p99, style, label=f"p99 at {conns} connections")
    axes[2].set_yscale("log")
    axes[2].set_title("p99 ms (end to end where there is a reply)")
    axes[2].legend()
    fig.suptitle(f"LINE bot load test {results['label']}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def chart_bursts(results: dict, path: Path) -> None:
    """Answers over time (crowd, flood), the bystanders' wait, replies vs pushes, CPU per answer
    beside the echo bot, and the scale-out's drain rate per number of worker processes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = results.get("bursts") or {}
    sc = results.get("scale") or {}
    names = [n for n in ("crowd", "flood") if n in b]
    panels = 4 + (len(sc) > 1)
    fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 4))
    for name in names:
        r = b[name]
        axes[0].plot([i * r["timeline_step"] for i in range(len(r["timeline"]))], r["timeline"], label=name)
    axes[0].axvline(results["settings"]["send_seconds"], color="#999", lw=0.8)
    axes[0].set_title("messages handled so far (s from the first send)", fontsize=10)
    if names:
        axes[0].legend()
    axes[1].bar(names, [b[n]["bystander_e2e"].get("p50", 0) / 1000 for n in names], label="p50", color="#4a7")
    axes[1].bar(names, [(b[n]["bystander_e2e"].get("max", 0) - b[n]["bystander_e2e"].get("p50", 0)) / 1000
                        for n in names], bottom=[b[n]["bystander_e2e"].get("p50", 0) / 1000 for n in names],
                label="to the max", color="#bdb")
    axes[1].set_title("bystanders' wait for their answer, s", fontsize=10)
    axes[1].legend()
    replies = [b[n]["line_replies"] for n in names]
    pushes = [b[n]["line_pushes"] for n in names]
    axes[2].bar(names, replies, label="replies (free)", color="#47a")
    axes[2].bar(names, pushes, bottom=replies, label="pushes (quota)", color="#c44")
    below = [r + p for r, p in zip(replies, pushes, strict=True)]
    axes[2].bar(names, [b[n].get("coalesced", 0) for n in names], bottom=below, label="answered once as a flood",
                color="#bbb")
    axes[2].set_title("how the messages were answered (all rounds)", fontsize=10)
    axes[2].legend(fontsize=8)
    cpu_names = names + (["echo"] if "echo" in b else [])
    axes[3].bar(cpu_names, [b[n]["web_cpu_ms"] for n in cpu_names], label="web", color="#47a")
    axes[3].bar(cpu_names, [b[n]["worker_cpu_ms"] for n in cpu_names],
                bottom=[b[n]["web_cpu_ms"] for n in cpu_names], label="worker", color="#a74")
    axes[3].set_title("CPU ms per message (echo: per request)", fontsize=10)
    axes[3].legend()
    if len(sc) > 1:
        counts = sorted(sc, key=int)
        axes[4].bar([f"{c} worker{'s' if c != '1' else ''}" for c in counts],
                    [sc[c]["drain_after_send_per_second"] for c in counts], color="#a74")
        axes[4].set_title("crowd drain after the sends, answers/s", fontsize=10)
    fig.suptitle(f"LINE bot bursts {results['label']}".strip())
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def compare_chart(runs: list[dict], label: str) -> None:
    """Saved runs' bursts side by side: answers over time, the bystanders' wait, replies vs pushes,
    CPU per message (``bench/results/bursts-<label>.png``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -r bench/requirements.txt)")
        return
    fig, axes = plt.subplots(1, 4, figsize=(18, 5))
    for run in runs:
        for series, style in (("crowd", "--"), ("flood", "-")):
            r = (run.get("bursts") or {}).get(series)
            if r:
                axes[0].plot([i * r["timeline_step"] for i in range(len(r["timeline"]))], r["timeline"], style,
                             label=f"{run['label']} {series}")
    axes[0].set_title("messages handled so far (s from the first send)", fontsize=10)
    axes[0].legend(fontsize=7)
    names = [f"{run['label']} {series}" for run in runs for series in ("crowd", "flood")
             if (run.get("bursts") or {}).get(series)]
    picked = [run["bursts"][series] for run in runs for series in ("crowd", "flood")
              if (run.get("bursts") or {}).get(series)]
    axes[1].bar(names, [r["bystander_e2e"].get("max", 0) / 1000 for r in picked], color="#bdb", label="max")
    axes[1].bar(names, [r["bystander_e2e"].get("p50", 0) / 1000 for r in picked], color="#4a7", label="p50")
    axes[1].set_title("bystanders' wait for their answer, s", fontsize=10)
    axes[1].legend(fontsize=8)
    replies, pushes = [r["line_replies"] for r in picked], [r["line_pushes"] for r in picked]
    axes[2].bar(names, replies, color="#47a", label="replies (free)")
    axes[2].bar(names, pushes, bottom=replies, color="#c44", label="pushes (quota)")
    axes[2].bar(names, [r.get("coalesced", 0) for r in picked],
                bottom=[a + b for a, b in zip(replies, pushes, strict=True)], color="#bbb",
                label="answered once as a flood")
    axes[2].set_title("how the messages were answered", fontsize=10)
    axes[2].legend(fontsize=8)
    axes[3].bar(names, [r["web_cpu_ms"] for r in picked], color="#47a", label="web")
    axes[3].bar(names, [r["worker_cpu_ms"] for r in picked], bottom=[r["web_cpu_ms"] for r in picked],
                color="#a74", label="worker")
    axes[3].set_title("CPU ms per message", fontsize=10)
    axes[3].legend(fontsize=8)
    for axis in axes[1:]:
        axis.tick_params(axis="x", labelsize=7, labelrotation=45)
    fig.suptitle(f"Bursts: {label}")
    fig.tight_layout()
    fig.savefig(RESULTS / f"bursts-{label}.png", dpi=90)
    plt.close(fig)
