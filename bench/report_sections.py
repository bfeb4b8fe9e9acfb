"""The sections of docs/benchmarks.md: each turns the loaded results into Markdown lines.

Pure functions of the results dicts (bench/results/*.json, keyed by file stem); a section
whose results are missing is left out, and `missing` names the files. Used by bench/report.py.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

SOURCES = ("emulator_http", "client", "verify_time", "flips", "soak", "test_time")
EMULATOR, NOCACHE, PEER = "m2m-contract", "m2m-contract (no sig. cache)", "oauth2-mock-server"
PLAIN, FALLBACK = "m2m-contract, plain install", "m2m-contract, no httptools or uvloop"
Results = dict[str, dict[str, Any]]


def num(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def yes(flag: object) -> str:
    return "**yes**" if flag else "**no**"


def table(header: list[str], rows: list[list[str]], numeric: bool = True) -> list[str]:
    align = ["---"] + ["---:" if numeric else "---"] * (len(header) - 1)
    return [
        f"| {' | '.join(header)} |",
        f"|{'|'.join(align)}|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
    ]


# -- the machine and the commands ----------------------------------------------------------


def machine(res: Results) -> list[str]:
    seen: dict[str, Any] = {}
    for name in ("emulator_http", "client", "verify_time", "soak"):  # the last one wins
        seen.update(res.get(name, {}).get("machine", {}))
    cpu = seen.get("cpu_model") or _proc("/proc/cpuinfo", "model name")
    mem = int(seen.get("mem_total_kib") or _proc("/proc/meminfo", "MemTotal").split()[0])
    rows = [
        ["CPU", f"{seen.get('nproc') or seen.get('cpus') or os.cpu_count()} cores, {cpu}"],
        ["memory", f"{mem / 1024 / 1024:.1f} GiB"],
        ["kernel", str(seen.get("kernel") or platform.release())],
        ["Python", str(seen.get("python") or platform.python_version())],
        ["Node.js", str(seen.get("node", "?"))],
        ["wrk", str(seen.get("wrk", "?")).split(" Copyright")[0]],
        ["httpx / uvicorn", f"{seen.get('httpx', '?')} / {seen.get('uvicorn', '?')}"],
        ["httptools / uvloop", f"{seen.get('httptools', '?')} / {seen.get('uvloop', '?')}"],
    ]
    dates = ", ".join(
        f"`{n}` {res[n]['timestamp'][:10]}" for n in SOURCES if n in res and "timestamp" in res[n]
    )
    out = ["## The machine", "", "All figures come from one machine, over loopback:", ""]
    out += table(["", ""], [[f"**{k}**", v] for k, v in rows], numeric=False)
    return [*out, f"Results dated: {dates}." if dates else "", ""]


def _proc(path: str, field: str) -> str:
    """A field of /proc/cpuinfo or /proc/meminfo, as text ("" if absent)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith(field):
            return line.split(":", 1)[1].strip()
    return ""


COMMANDS = """\
## Run them

```sh
bash bench/run_all.sh      # every benchmark (about 10 minutes), then this page
```

or one at a time, then `.venv/bin/python bench/report.py` to redraw this page and its charts
from `bench/results/*.json`:

| command | writes | takes |
|---|---|---:|
| `bash bench/setup_peers.sh && .venv/bin/python bench/emulator_http.py` | `emulator_http.json` \
| 4 min |
| `.venv/bin/python bench/client_bench.py` | `client.json` | 1 min |
| `.venv/bin/python bench/verify_time.py` | `verify_time.json` | 2 min |
| `.venv/bin/python bench/flips.py --runs 5 --load` | `flips.json` | 3 min |
| `.venv/bin/python bench/soak.py` (`--duration 60`) | `soak.json` | 75 s |
| `.venv/bin/python bench/report.py --measure-tests` (times `.venv/bin/pytest -n 2 -q`) \
| `test_time.json` | 4 min |

`bench/report.py` writes this page and [benchmarks-emulator.md](benchmarks-emulator.md)
(the emulator's method and every round), both from the results alone.

Install first: `.venv/bin/pip install -e '.[dev,bench]'` (matplotlib, httpx-auth, Authlib).
"""


# -- the sections ----------------------------------------------------------------------------


def emulator(res: Results) -> list[str]:
    if "emulator_http" not in res:
        return []
    data = res["emulator_http"]
    servers, s = data["servers"], data.get("settings", {})
    out = [
        "## The emulator against oauth2-mock-server 8.2.3",
        "",
        f"`wrk -t{s.get('threads')} -c{s.get('connections')} -d{s.get('duration_s')}s` with "
        "one JSON client_credentials POST, every server in the same run, "
        f"{s.get('rounds')} rounds each, alternating; tokens/s over all rounds, p99 of the "
        "worst round; then one keep-alive connection each (`wrk -t1 -c1`). The emulator is "
        "measured as the README installs it (`pip install .`, no extra: uvicorn's httptools "
        "and uvloop come with it wherever they have wheels), without httptools and uvloop "
        "(the pure-Python fallback), and from the development venv. Method, every round and "
        "the commands: [benchmarks-emulator.md](benchmarks-emulator.md).",
        "",
        "![tokens/s and latency over loopback HTTP](benchmarks.png)",
        "",
    ]
    stored = {c["server"]: c for c in data.get("comparison", [])}
    rows = []
    for name, server in servers.items():
        sm, keep = server["summary"], server.get("keepalive", {})
        comp = stored.get(name)
        rows.append(
            [
                name,
                num(sm["tokens_per_s"]),
                f"{comp['tokens_per_s_ratio']:.2f}x" if comp else "1.00x",
                num(sm["p50_ms"], 1),
                num(sm["p99_ms"], 1),
                f"{comp['p99_ratio']:.2f}x" if comp else "1.00x",
                num(keep["p50_ms"], 2) if keep else "-",
                num(sm.get("server_cpu_us_per_token") or 0),
                num(sm["non_2xx"] + sm["socket_errors"]),
            ]
        )
    out += table(
        ["server", "tokens/s", "vs peer (target 1.5x)", "p50 ms", "p99 ms",
         "p99 vs peer (target ≤ 1)", "one keep-alive conn. p50 ms (target < 2)",
         "server CPU µs/token", "errors"],
        rows,
    )  # fmt: skip
    fair = stored.get(NOCACHE)
    verdict = (
        ""
        if fair is None
        else f" In this run it {'meets' if fair['meets_tokens_target'] else 'misses'} the "
        f"1.5x target: {fair['tokens_per_s_ratio']:.2f}x, p99 {fair['p99_ratio']:.2f}x the "
        "peer's."
    )
    out += [
        "The emulator remembers recent RS256 signatures: identical claims within one "
        "second (the benchmark's identical requests) are signed once, as the tokens would "
        "be identical anyway. The *no sig. cache* row runs the same server with that cache "
        "sized 0, so that every token is signed, as oauth2-mock-server does: the fair "
        "comparison of signing work." + verdict,
        "",
    ]
    inproc, openssl = data.get("in_process"), data.get("signing", {}).get("openssl")
    if inproc and openssl and "sign_per_s" in openssl:
        out += ["### In-process against the RS256 signing limit", ""]
        rows = [["`openssl speed rsa2048`, one core", num(openssl["sign_per_s"]), "1.00"]]
        for key, label in INPROC_ROWS:
            if data.get(key):
                rows.append(
                    [label, num(data[key]["tokens_per_s"]), f"{data[key]['ratio_to_openssl']:.2f}"]
                )
        out += table(["", "tokens (signatures)/s", "ratio (target 0.8)"], rows)
    return out


INPROC_ROWS = (
    ("in_process", "in-process door (httpx transport)"),
    ("in_process_nocache", "in-process, no signature cache"),
    ("in_process_nocache_threads", "in-process, no signature cache, a thread per core"),
)


def client(res: Results) -> list[str]:
    if "client" not in res:
        return []
    data = res["client"]
    s = data["settings"]
    out = [
        "## The reference client against httpx-auth and Authlib",
        "",
        f"One in-process emulator whose token endpoint takes {s['token_delay_s'] * 1000:.0f} "
        f"ms; {s['callers']:,} concurrent async requests and {s['threads']} threads start "
        "together. Cache-hit cost: best of "
        f"{s['repeat']} rounds of {s['number']:,} requests ([client.md](client.md#benchmark)).",
        "",
    ]
    rows = []
    for name, c in data["clients"].items():
        rows.append(
            [
                name,
                str(c["fetches_async_1000"]),
                str(c["fetches_threads_64"]),
                num(c["auth_step_us"], 1),
                num(c["sync_us_per_request"], 1),
                num(c["async_us_per_request"], 1),
            ]
        )
    base = data.get("baseline_no_auth", {})
    if base:
        rows.append(
            [
                "*no auth (httpx alone)*",
                "-",
                "-",
                "-",
                num(base["sync_us_per_request"], 1),
                num(base["async_us_per_request"], 1),
            ]
        )
    out += table(
        [
            "client",
            f"fetches, {s['callers']:,} tasks",
            f"fetches, {s['threads']} threads",
            "auth step on a cache hit (µs)",
            "sync GET (µs)",
            "async GET (µs)",
        ],
        rows,
    )
    met = data.get("targets_met", {})
    said = ", ".join(f"{k.replace('_', ' ')}: {yes(v)}" for k, v in met.items())
    out += [f"Targets met — {said}.", ""]
    return out


def suite(res: Results) -> list[str]:
    out = ["## The suite's own run times", ""]
    verify, tests = res.get("verify_time"), res.get("test_time")
    if verify:
        rows = [
            [name, num(v["median_s"], 1), num(v["min_s"], 1), num(v["max_s"], 1)]
            for name, v in verify["verify"].items()
        ]
        out += [
            f"`m2m-contract verify`, all {len(verify['breakdown_reference_client_py_s']) - 1} "
            f"scenarios, {verify['rounds']} rounds "
            "(target: the reference client under 10 s):",
            "",
        ]
        out += table(["client", "median s", "min s", "max s"], rows)
        out += [f"CLI start-up (`m2m-contract --version`): {verify['cli_startup_s']:.2f} s.", ""]
    flips = res.get("flips")
    if flips:
        out += [
            f"The flip-finder (`bench/flips.py --runs {flips['runs']}"
            f"{' --load' if flips['load'] else ''}`): {flips['clients']} clients (the mutant "
            f"corpus and the good clients), {flips['verdicts_per_run']} verdicts per run, "
            f"**{len(flips['flips'])} flips** in {flips['runs']} runs "
            f"({flips['seconds']:.0f} s{', both cores spinning' if flips['load'] else ''}).",
            "",
        ]
    if tests:
        out += [
            f"The repository's whole test run, `{tests['command']}`: "
            f"**{tests['wall_s']:.0f} s** wall clock (target: under 120 s on 2 cores); "
            f"pytest said: `{tests['summary']}`.",
            "",
        ]
    return out if len(out) > 2 else []


def soak(res: Results) -> list[str]:
    if "soak" not in res:
        return []
    data = res["soak"]
    r, s, rss = data["results"], data["settings"], data["results"]["rss_kib"]
    out = [
        "## Soak: the emulator under sustained load",
        "",
        f"`{data['command'].replace('python', '.venv/bin/python', 1).strip()}`: "
        f"`m2m-contract serve` in one process, `wrk -t{s['threads']} -c{s['connections']}` in "
        f"another, {s['warmup']} s of warm-up then {s['duration']} s measured. One request in "
        f"{s['token_every']} is a token request, the others are API calls with a bearer "
        "token, over three API routes and five scope sets.",
        "",
        "![requests per second and resident memory during the soak](benchmarks-soak.png)",
        "",
    ]
    rows = [
        ["requests", f"{r['requests']:,} in {r['duration_s']:.0f} s"],
        [
            "throughput",
            f"{num(r['requests_per_s'])}/s: {num(r['tokens_per_s'])} tokens/s "
            f"+ {num(r['api_calls_per_s'])} API calls/s (per second: {r['per_second_min']:,}"
            f"-{r['per_second_max']:,})",
        ],
        [
            "latency",
            f"p50 {r['p50_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, p99 "
            f"{r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms",
        ],
        [
            "errors",
            f"{r['non_2xx']} non-2xx, {r['socket_errors']} socket errors "
            f"(target 0: {yes(r['targets']['zero_errors'])})",
        ],
        [
            "server RSS",
            f"{mib(rss['idle_start'])} idle, {mib(rss['after_warmup'])} after "
            f"warm-up, {mib(rss['end'])} at the end: {rss['drift']:+,} KiB "
            f"({rss['drift_pct']:+.2f} %) over the measured run (flat: "
            f"{yes(r['targets']['rss_flat'])})",
        ],
        [
            "journal",
            f"{r['journal']['held_at_end']:,} exchanges held at the end "
            f"(`--journal-size {r['journal']['size_setting']}`), of "
            f"{r['requests']:,} answered",
        ],
        ["server CPU", f"{r['server_cpu_s']:.0f} s in {r['duration_s']:.0f} s"],
    ]
    if "load_average_1min" in r:  # the cores are shared with anything else running
        load = r["load_average_1min"]
        rows.append(
            [
                "machine load",
                f"1-min average {load['before']:.1f} before the run, {load['after']:.1f} after",
            ]
        )
    out += table(["", ""], [[f"**{k}**", v] for k, v in rows], numeric=False)
    out += [
        "RSS grows while the journal fills during the warm-up, then stays flat: everything "
        "the emulator keeps per request or per client is bounded —",
        "",
        "- the journal, a ring buffer of `--journal-size` exchanges (default 10,000; "
        "`Emulator(journal_size=n)`);",
        "- rate-limit buckets, one per client id, at most 10,000 (least recently seen evicted);",
        "- revoked tokens, at most 100,000 (their SHA-256 digests, oldest dropped first);",
        "- remembered RS256 signatures, at most 4,096 (oldest dropped first).",
        "",
        "Faults and signing keys grow only when a test arms or rotates them.",
        "",
    ]
    return out


def summary(res: Results) -> list[str]:
    rows: list[list[str]] = []
    if "emulator_http" in res:
        data = res["emulator_http"]
        for c in data.get("comparison", []):
            rows.append(
                [
                    f"{c['server']}: tokens/s ≥ 1.5x oauth2-mock-server, p99 no worse",
                    f"{c['tokens_per_s_ratio']:.2f}x, p99 {c['p99_ratio']:.2f}x",
                    yes(c["meets_tokens_target"] and c["meets_p99_target"]),
                ]
            )
        target = data.get("keepalive_target_ms", 2.0)
        for name, server in data["servers"].items():
            keep = server.get("keepalive")
            if keep and name != PEER and name != NOCACHE:
                rows.append(
                    [
                        f"{name}: one keep-alive request, p50 < {target:g} ms",
                        f"{keep['p50_ms']:.2f} ms",
                        yes(keep["p50_ms"] < target),
                    ]
                )
        for key, label in (
            ("in_process", "in-process ≥ 0.8x the RS256 signing rate (as shipped)"),
            ("in_process_nocache", "… every token signed, one thread"),
            ("in_process_nocache_threads", "… every token signed, a thread per core"),
        ):
            inproc = data.get(key)
            if inproc and inproc.get("ratio_to_openssl") is not None:
                rows.append(
                    [label, f"{inproc['ratio_to_openssl']:.2f}x", yes(inproc["meets_target"])]
                )
    if "client" in res:
        met = res["client"].get("targets_met", {})
        ours = res["client"]["clients"].get("m2m-contract", {})
        rows.append(
            [
                "client: 1 fetch for 1,000 tasks and for 64 threads",
                f"{ours.get('fetches_async_1000')} and {ours.get('fetches_threads_64')}",
                yes(met.get("one_fetch_async") and met.get("one_fetch_threads")),
            ]
        )
        rows.append(
            [
                "client: cache-hit cost no worse than httpx-auth's and Authlib's",
                f"{ours.get('auth_step_us')} µs auth step",
                yes(all(v for k, v in met.items() if not k.startswith("one_fetch"))),
            ]
        )
    if "verify_time" in res:
        ref = next(iter(res["verify_time"]["verify"].values()))
        rows.append(
            [
                "`m2m-contract verify` (reference client) under 10 s",
                f"{ref['median_s']:.1f} s",
                yes(ref["median_s"] < 10),
            ]
        )
    if "flips" in res:
        f = res["flips"]
        rows.append(
            [
                "the same verdict on every run (flip-finder, whole corpus)",
                f"{len(f['flips'])} flips in {f['runs']} runs",
                yes(not f["flips"] and f["runs"] >= 5),
            ]
        )
    if "test_time" in res:
        t = res["test_time"]
        rows.append(
            [
                "whole test run under 2 min on 2 cores",
                f"{t['wall_s']:.0f} s",
                yes(t["wall_s"] < 120),
            ]
        )
    if "soak" in res:
        r = res["soak"]["results"]
        errors = r["non_2xx"] + r["socket_errors"]
        rows.append(
            [
                f"soak {r['duration_s']:.0f} s: zero errors, flat RSS",
                f"{errors} errors, RSS {r['rss_kib']['drift']:+,} KiB",
                yes(r["targets"]["zero_errors"] and r["targets"]["rss_flat"]),
            ]
        )
    return ["## Targets", "", *table(["target (DESIGN.md)", "measured", "met"], rows)]


def missing(res: Results) -> list[str]:
    absent = [n for n in SOURCES if n not in res]
    if not absent:
        return []
    return [
        "## Missing results",
        "",
        "Not in `bench/results/` when this page was generated: "
        + ", ".join(f"`{n}.json`" for n in absent)
        + ". Run `bash bench/run_all.sh`.",
        "",
    ]
