#!/usr/bin/env python3
"""Draws the benchmark charts of docs/benchmarks.md from the figures the
benchmark scripts wrote last (docs/bench/*.json), as SVG in docs/charts/.

    python3 scripts/charts.py [--results docs/bench] [--out docs/charts]

- second-machine.svg  (bench-runs.sh): a second machine through publish,
  serve and fetch, against the cold build and kache's warm build, per
  workload;
- wrapper.svg         (bench-wrapper.sh): builds against cold, sccache and
  kache, and the wrapper's time per hit;
- throughput.svg      (bench-import.sh): MiB/s of each step, a fetch's
  verification among them;
- serve.svg           (bench-serve.py): requests per second and p99
  latency, one client against many.

A chart whose figures are missing is skipped with a message. Each chart
names the script, date, commit and machine its figures came from. Python's
standard library only; the SVG is written by hand (a few rectangles and
labels need no plotting library).
"""

import argparse
import json
import os
import sys
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS, COLD, KACHE, SCCACHE, OTHER = "#1f5fbf", "#8a94a6", "#d97706", "#7c3aed", "#0f766e"
WIDTH, LABEL, BAR, ROW = 860, 330, 300, 24


def chart(title, source, groups):
    """Horizontal bars: `groups` is [(heading, [(label, value, text, color)])],
    each group on its own scale (its largest value fills the bar area)."""
    rows = sum(len(bars) + 1 for _, bars in groups)
    height = 70 + rows * ROW + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
           'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">',
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="16" y="28" font-size="17" font-weight="600" fill="#1d2330">{escape(title)}</text>',
           f'<text x="16" y="48" font-size="11.5" fill="#5b6577">{escape(source)}</text>']
    y = 70
    for heading, bars in groups:
        out.append(f'<text x="16" y="{y + 15}" font-weight="600" fill="#1d2330">{escape(heading)}</text>')
        y += ROW
        top = max((v for _, v, _, _ in bars if v is not None), default=0) or 1
        for label, value, text, color in bars:
            out.append(f'<text x="{LABEL - 8}" y="{y + 15}" text-anchor="end" fill="#1d2330">{escape(label)}</text>')
            if value is not None:
                w = max(1.5, BAR * value / top)
                out.append(f'<rect x="{LABEL}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" rx="2" fill="{color}"/>')
                out.append(f'<text x="{LABEL + w + 6:.1f}" y="{y + 15}" fill="#1d2330">{escape(text)}</text>')
            else:
                out.append(f'<text x="{LABEL + 4}" y="{y + 15}" fill="#8a94a6">{escape(text or "not measured")}</text>')
            y += ROW
    out.append("</svg>")
    return "\n".join(out) + "\n"


def source(record):
    return (f"{record['script']} on {record['date'][:10]}, commit {record['commit']}, "
            f"{record['cores']} cores {record['arch']}")


def secs(v, base=None, base_name=""):
    if v is None:
        return "not measured"
    text = f"{v:.2f} s"
    if base:
        text += f"  ({v / base:.2f}× {base_name})"
    return text


def second_machine(r):
    groups = []
    for w in r["figures"]["workloads"]:
        kw = w.get("kache_warm")
        cc = w.get("cc_calls", {})
        calls = lambda k: f", {cc[k]} C compiles" if k in cc else ""
        groups.append((w["name"] + f" (medians of {w['runs']})", [
            ("A: cold build, recording", w["cold"], secs(w["cold"]) + calls("cold"), COLD),
            ("B: cargo ipfs, fetch included", w["fetch_included"], secs(w["fetch_included"], kw, "kache warm") + calls("fetch_included"), OURS),
            ("B: cargo ipfs, store filled", w["store_filled"], secs(w["store_filled"], kw, "kache warm") + calls("store_filled"), OURS),
            ("kache warm, one machine", kw, secs(kw) + calls("kache_warm"), KACHE),
        ]))
    return chart("A second machine against kache's warm build", source(r), groups)


def wrapper(r):
    groups, hits = [], []
    for p in r["figures"]["projects"]:
        cold = p["cold"]
        groups.append((p["project"], [
            ("cold, no wrapper", cold, secs(cold), COLD),
            ("cargo-ipfs recording", p["record"], secs(p["record"], cold, "cold"), OTHER),
            ("cargo-ipfs, another machine's paths", p["other_machine"], secs(p["other_machine"], cold, "cold"), OURS),
            ("cargo-ipfs, registry crates only", p["registry_only"], secs(p["registry_only"], cold, "cold"), OURS),
            ("sccache warm, same paths", p["sccache_warm"], secs(p["sccache_warm"], cold, "cold"), SCCACHE),
            ("kache warm, same paths", p["kache_warm"], secs(p["kache_warm"], cold, "cold"), KACHE),
        ]))
        if p.get("ms_per_hit") is not None:
            hits.append((p["project"], p["ms_per_hit"], f"{p['ms_per_hit']:.2f} ms per hit ({p['hits']} hits)", OURS))
    if hits:
        groups.append(("The wrapper's time per hit", hits))
    return chart("Builds through the wrapper against cold, sccache and kache", source(r), groups)


def throughput(r):
    f = r["figures"]
    bars = [(s["step"], f["mib"] / s["seconds"] if s["seconds"] else None,
             f"{f['mib'] / s['seconds']:.0f} MiB/s, peak {s['peak_rss_kib'] / 1024:.0f} MiB" if s["seconds"] else "", 
             COLD if "sha256" in s["step"] else OURS) for s in f["steps"]]
    return chart(f"Throughput on {f['mib']} MiB of random bytes", source(r), [("MiB/s (longer is faster)", bars)])


def serve(r):
    f = r["figures"]
    rps, p99 = [], []
    for s in f["servers"]:
        rps.append((f"{s['server']}: 1 client", s["baseline_rps"], f"{s['baseline_rps']:.0f} req/s", COLD))
        rps.append((f"{s['server']}: {f['clients']} clients", s["load_rps"],
                    f"{s['load_rps']:.0f} req/s, peak {s['peak_rss'] / 2**20:.0f} MiB ({s['peak_rss'] / s['idle_rss']:.1f}× idle)", OURS))
        p99.append((f"{s['server']}: 1 client", s["baseline_p99_ms"], f"{s['baseline_p99_ms']:.1f} ms", COLD))
        p99.append((f"{s['server']}: {f['clients']} clients", s["load_p99_ms"], f"{s['load_p99_ms']:.1f} ms", OURS))
    return chart("cargo ipfs serve under load on loopback", source(r),
                 [("Requests per second", rps), ("p99 latency (shorter is better)", p99)])


CHARTS = {"runs": ("second-machine.svg", second_machine), "wrapper": ("wrapper.svg", wrapper),
          "import": ("throughput.svg", throughput), "serve": ("serve.svg", serve)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=os.path.join(ROOT, "docs", "bench"))
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "charts"))
    opts = parser.parse_args()
    os.makedirs(opts.out, exist_ok=True)
    drawn = 0
    for name, (svg, draw) in CHARTS.items():
        path = os.path.join(opts.results, f"{name}.json")
        if not os.path.exists(path):
            print(f"skipped {svg}: no {path} (run the script that writes it)", file=sys.stderr)
            continue
        with open(path) as f:
            record = json.load(f)
        with open(os.path.join(opts.out, svg), "w") as f:
            f.write(draw(record))
        drawn += 1
        print(f"{os.path.join(opts.out, svg)} from {path}")
    sys.exit(0 if drawn else 1)


if __name__ == "__main__":
    main()
