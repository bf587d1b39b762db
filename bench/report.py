"""The load test's report: the Markdown text of a run (the closed-loop series, growth, profile,
bursts, scale-out), written with the JSON and the charts (``bench.charts``) under
``bench/results/``, and saved runs' bursts compared side by side.

``bench.load`` writes a run's results here, or renders saved ones again (``--render``,
``--compare``); nothing here measures.
"""

from __future__ import annotations

import json

from bench.charts import chart, chart_bursts, compare_chart
from bench.common import RESULTS
from bench.measure import SERIES


def write(results: dict, args, json_too: bool = True) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "load" + (f"-{args.label}" if args.label else "")
    if json_too:
        (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    text = report(results)
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)
    try:
        if results["series"]:
            chart(results, RESULTS / f"{stem}.png")
        if results.get("bursts") or results.get("scale"):
            chart_bursts(results, RESULTS / f"{stem}-bursts.png")
    except ImportError:
        print("(matplotlib not installed: no chart; pip install -r bench/requirements.txt)")


def report(results: dict) -> str:
    m = results["machine"]
    lines = [f"# Load test{' (' + results['label'] + ')' if results['label'] else ''}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gb']} GB, Python {m['python']}; shared with other "
             f"engineers' test runs (load average {results['load_before'][0]:.2f} before, "
             f"{results['load_after'][0]:.2f} after).", ""]
    if results["series"]:
        lines += report_classic(results)
    if results.get("bursts") or results.get("scale"):
        lines += report_bursts(results)
    return "\n".join(lines) + "\n"


def report_classic(results: dict) -> list[str]:
    s = results["series"]
    floor = s.get("floor@64", {})
    lines = ["| series | conns | req/s | ratio to floor | CPU ms/req (web + worker) | CPU ratio floor/series "
             "| webhook p50 / p95 / p99 / max ms | end-to-end p50 / p95 / p99 / max ms | > 2 s | lost | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for conns in (2, 64):
        for series in SERIES:
            r = s.get(f"{series}@{conns}")
            if not r:
                continue
            base = s.get(f"floor@{conns}", floor)
            w, e = r["webhook"], r["e2e"]
            lines.append(
                f"| {series} | {conns} | {r['rps']:.0f} | {r['rps'] / max(1e-9, base['rps']):.2f} "
                f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
                f"| {base['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} "
                f"| {w.get('p50', 0):.1f} / {w.get('p95', 0):.1f} / {w.get('p99', 0):.1f} / {w.get('max', 0):.0f} "
                f"| " + (f"{e['p50']:.1f} / {e['p95']:.1f} / {e['p99']:.1f} / {e['max']:.0f}" if e else "–")
                + f" | {r['over_2s']} | {r['lost']} | {r['errors']} |")
    reg = s.get("register@2", {}).get("steps", {})
    if reg:
        lines += ["", "Registration turns at 2 connections, end to end (ms, p50 / p99): "
                  + ", ".join(f"{k} {v['p50']:.1f} / {v['p99']:.1f}" for k, v in reg.items())]
    lines += ["", "CPU ratio = the floor's CPU per request ÷ the series' (the issue's measure; 1.0 = as cheap as "
              "the signature check). Latency percentiles are the worst round's. The load generator's own CPU: "
              f"at most {max(r['loadgen_cpu_ms'] for r in s.values()):.2f} ms per request, "
              f"{max(r['loadgen_share'] for r in s.values()):.0%} of a core; the fake LINE: at most "
              f"{max(r['fake_share'] for r in s.values()):.0%} of a core. Fake LINE: {results['fake']['stats']}. "
              f"Keep-alive connections gunicorn closed (a worker recycled after max_requests), opened again and "
              f"the request sent again: {sum(r['reconnects'] for r in s.values())}."]
    if results["fake"]["refused"]:
        lines += ["", f"Refused by the fake LINE: {results['fake']['refused'][:3]}"]
    g = results.get("growth")
    if g:
        lines += ["", "## Growth", "", f"Bulk insert of the extra customers (account, link, statement, items each): "
                  f"{g['insert_seconds']} s.", "",
                  "| customers | 今月の料金 p50 / p95 / p99 ms | verification turn p50 / p95 / p99 ms "
                  "| CPU ms per bill |",
                  "|---|---|---|---|"]
        for label, d in g.items():
            if not isinstance(d, dict):
                continue
            b, v = d["bill"]["e2e"], d["register"]["steps"].get("verify", {})
            lines.append(f"| {label} | {b['p50']:.1f} / {b['p95']:.1f} / {b['p99']:.1f} "
                         f"| {v.get('p50', 0):.1f} / {v.get('p95', 0):.1f} / {v.get('p99', 0):.1f} "
                         f"| {d['bill']['cpu_ms']:.2f} |")
        for label, d in g.items():
            if isinstance(d, dict):
                lines += ["", f"Query plans with {label}:", ""] + [f"- `{p}`" for p in d["plans"]]
    p = results.get("profile")
    if p:
        lines += ["", "## Profile (py-spy, bill turns at 16 connections)", ""]
        for key, summary in p.items():
            if key == "dump" or "inclusive" not in summary:
                continue
            lines.append(f"- **{key}** ({summary['samples']} samples): " + ", ".join(
                f"{k} {v:.0%}" for k, v in summary["inclusive"].items()))
    return lines


def report_bursts(results: dict) -> list[str]:
    st = results["settings"]
    lines = report_burst_table(results) if results.get("bursts") else []
    sc = results.get("scale")
    if sc:
        lines += report_scale(sc, st)
    return lines


def report_burst_table(results: dict) -> list[str]:
    """The bursts' table (crowd, flood, the echo bot beside them), then the partitions and profiles."""
    b = results["bursts"]
    echo = b["echo"]
    lines = burst_table_head(results["settings"])
    for series in ("crowd", "flood"):
        r = b.get(series)
        if r:
            lines.append(burst_row(series, r, echo))
    lines.append(f"| echo bot | closed loop | {echo['rps']:.0f} | | | | {echo['lost']} | | | "
                 f"| | | {echo['e2e'].get('p50', 0):.0f} / {echo['e2e'].get('max', 0):.0f} | {echo['cpu_ms']:.2f} "
                 "| 1.00 | |")
    return lines + burst_notes(b)


def burst_table_head(st: dict) -> list[str]:
    """What the bursts were (from the run's settings) and the table's header."""
    return ["## Bursts: a crowd and a flood (open loop)", "",
            f"Crowd: {st['crowd']:,} distinct customers, one 今月の料金 each; flood: {st['flood_users']} customers, "
            f"{st['flood_per_user']} each; both sent over {st['send_seconds']:.0f} s by 64 connections, each "
            f"message signed as it is sent, without waiting for answers; {st['bystanders']} other customers send "
            f"one message each meanwhile (bystanders). {st['bursts']} rounds, interleaved with the echo bot "
            "(closed loop, 64 connections) as the CPU baseline. Answers/s = messages answered ÷ (first send → "
            "last answer); drain = answers after the last send ÷ the time they took (only the workers busy); "
            "handled/s = messages ÷ the time until the queue was empty (a flood answered once counts as handled). "
            f"Reply tokens used up to {st.get('reply_max_age') or 50} s after the message "
            "(`REPLY_TOKEN_MAX_AGE_SECONDS`), pushes after that.", "",
            "| series | messages | answers/s | drain after the sends, /s | last answer after the last send, s "
            "| replies / pushes (LINE saw, all rounds) | lost | passed over | answered once as a flood (told) "
            "| handled/s "
            "| bystanders p50 / max ms | p50 / max ms "
            "| CPU ms per message (web + worker) | CPU ratio echo/series | cores busy: machine / worker / DB+Redis |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]


def burst_row(series: str, r: dict, echo: dict) -> str:
    """One burst series' row of the table."""
    by, e = r["bystander_e2e"], r["e2e"]
    rates = " / ".join(f"{x:.0f}" for x in r["rates"])
    return (f"| {series} | {r['messages']:,} | {r['answers_per_second']:.0f} ({rates})"
            f" | {r['drain_after_send_per_second']:.0f} | {r['last_answer_after_send']:.1f} "
            f"({' / '.join(f'{x:.1f}' for x in r['last_answers'])}) "
            f"| {r['line_replies']:,} / {r['line_pushes']:,} | {r['lost']} | {r['passed_over']} "
            f"| {r['coalesced']:,} ({r['told']}) | {r['handled_per_second']:.0f} "
            f"| {by.get('p50', 0):.0f} / {by.get('max', 0):.0f} | {e.get('p50', 0):.0f} / {e.get('max', 0):.0f} "
            f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
            f"| {echo['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} "
            f"| {r['machine_busy_cores']:.2f} / {r['worker_cores']:.2f} / {r['servers_cores']:.2f} |")


def burst_notes(b: dict) -> list[str]:
    """Below the bursts' table: the partitions' backlogs, flood against crowd, the worker's profile."""
    lines = ["", "Partitions (the queue's backlog sampled twice a second): the deepest and the median peak, and "
             "when the median and the last partition emptied (s from the start)."]
    for series in ("crowd", "flood"):
        r = b.get(series)
        if r and "partition_emptied_last" in r:
            share = (f"; the busiest of {r['consumers']} consumers held {r['busiest_consumer_share']:.0%} of it"
                     if r.get("consumers") else "")
            lines.append(f"- {series}: peak {r['partition_peak_max']:,} (median {r['partition_peak_median']:,}); "
                         f"emptied {r['partition_emptied_median']:.1f} s (median), "
                         f"{r['partition_emptied_last']:.1f} s (last){share}")
    if b.get("crowd") and b.get("flood"):
        flood, crowd = b["flood"], b["crowd"]
        lines += ["", f"Flood ÷ crowd: answers/s {flood['answers_per_second'] / crowd['answers_per_second']:.2f}, "
                  f"CPU per message {flood['cpu_ms'] / crowd['cpu_ms']:.2f}."]
    for series, prof in b.get("profiles", {}).items():
        lines += ["", f"py-spy of the worker during the {series} (whole burst):", ""]
        for key, summary in prof.items():
            if "inclusive" in summary:
                lines.append(f"- **{key}** ({summary['samples']} samples): " + ", ".join(
                    f"{k} {v:.0%}" for k, v in summary["inclusive"].items()))
                lines.append("  top frames: " + "; ".join(f"`{k}` {v:.0%}" for k, v in summary["top_leaves"][:6]))
    return lines


def report_scale(sc: dict, st: dict) -> list[str]:
    lines = []
    if sc:
        one = sc["1"]["drain_after_send_per_second"]
        lines += ["", "## Scale-out: worker processes", "",
                  f"The crowd burst again with 1…{len(sc)} `flask --app app worker` processes ({st['threads']} event "
                  f"threads each), {st['scale_rounds']} rounds interleaved. The drain after the last send is the "
                  "workers' own rate (the web processes are idle by then).", "",
                  "| worker processes | drain after the sends, /s (rounds) | × one process | answers/s overall "
                  "| last answer after the last send, s | CPU ms per message (web + worker) "
                  "| cores busy: machine / workers / DB+Redis |",
                  "|---|---|---|---|---|---|---|"]
        for count, r in sc.items():
            drains = " / ".join(f"{x:.0f}" for x in r["drains"])
            lines.append(f"| {count} | {r['drain_after_send_per_second']:.0f} ({drains})"
                         f" | {r['drain_after_send_per_second'] / max(1e-9, one):.2f} | {r['answers_per_second']:.0f} "
                         f"| {r['last_answer_after_send']:.1f} "
                         f"| {r['cpu_ms']:.2f} ({r['web_cpu_ms']:.2f} + {r['worker_cpu_ms']:.2f}) "
                         f"| {r['machine_busy_cores']:.2f} / {r['worker_cores']:.2f} / {r['servers_cores']:.2f} |")
    return lines


def compare(runs: list[dict], label: str) -> None:
    """Saved burst results side by side (e.g. before and after a change, each run with the same
    command): ``bench/results/bursts-<label>.md`` and ``.png``."""
    text = "\n".join([f"# Bursts compared ({label})", "",
                      "Each row: the mean of the run's rounds (replies and pushes: all rounds; bystanders: the worst "
                      "round). Before and after ran the same command on the code before and after the change.", ""]
                     + [f"- {compare_command(run)}" for run in runs] + [""] + compare_rows(runs)) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bursts-{label}.md").write_text(text)
    print(text)
    compare_chart(runs, label)


def compare_rows(runs: list[dict]) -> list[str]:
    """The comparison table: one row per run and burst series."""
    rows = ["| run | series | answers/s | handled/s | last answer after the last send, s | replies / pushes "
            "| answered once as a flood | bystanders p50 / max ms | CPU ms per message | CPU ratio echo/series |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        b = run.get("bursts") or {}
        for series in ("crowd", "flood"):
            r = b.get(series)
            if not r:
                continue
            by = r["bystander_e2e"]
            rows.append(f"| {run['label']} | {series} | {r['answers_per_second']:.0f} "
                        f"| {r.get('handled_per_second', 0):.0f} | {r['last_answer_after_send']:.1f} "
                        f"| {r['line_replies']:,} / {r['line_pushes']:,} | {r.get('coalesced', 0):,} "
                        f"| {by.get('p50', 0):.0f} / {by.get('max', 0):.0f} | {r['cpu_ms']:.2f} "
                        f"| {b['echo']['cpu_ms'] / max(1e-9, r['cpu_ms']):.2f} |")
    return rows


def compare_command(run: dict) -> str:
    """The command a saved run came from, and the load average it started under."""
    st = run.get("settings") or {}
    extra = "".join(f" --{name.replace('_', '-')} {st[name]}" for name in ("bursts", "scale", "reply_max_age")
                    if st.get(name) not in (None, 0))
    return (f"`{run['label']}`: `python -m bench load --only bursts{extra}` "
            f"(load average {run['load_before'][0]:.1f})")
