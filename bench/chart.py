"""Draw bench/results/results.png from results.json (needs matplotlib; bench/run.py provides it via
`uv run --with matplotlib` when the project environment lacks it).

    uv run --no-project --with matplotlib python bench/chart.py bench/results/results.json bench/results/results.png
"""

from __future__ import annotations

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"direct": "#9e9e9e", "litellm": "#d9534f", "bridge-1w": "#5b9bd5", "bridge-2w": "#2e5f8a",
          "direct-native": "#c7c7c7", "bridge-native": "#5cb85c"}


def main(src: str, dst: str) -> None:
    with open(src) as f:
        results = json.load(f)
    targets = {n: t for n, t in results["targets"].items() if t.get("cells")}
    cells = [c["cell"] for c in next(iter(targets.values()))["cells"]] if targets else []
    panels = [("req_s", "requests (streams) per second", True),
              ("lat_p50_ms", "p50 latency, ms", True),
              ("added_p50_ms", "p50 latency added vs the upstream alone (native: direct-native), ms", True)]
    fig, axes = plt.subplots(1, len(panels), figsize=(16, 4.8))
    width = 0.8 / max(len(targets), 1)
    for ax, (key, title, log) in zip(axes, panels, strict=True):
        for i, (name, t) in enumerate(targets.items()):
            by_cell = {c["cell"]: c for c in t["cells"]}
            vals = [by_cell.get(c, {}).get(key) for c in cells]
            xs = [j + (i - (len(targets) - 1) / 2) * width for j in range(len(cells))]
            keep = [(x, v) for x, v in zip(xs, vals, strict=True) if isinstance(v, (int, float)) and v > 0]
            if not keep:
                continue
            bars = ax.bar([x for x, _ in keep], [v for _, v in keep], width, label=name,
                          color=COLORS.get(name))
            for b, (_, v) in zip(bars, keep, strict=True):
                ax.annotate(f"{v:,.0f}" if v >= 10 else f"{v:.2g}", (b.get_x() + b.get_width() / 2, v),
                            ha="center", va="bottom", fontsize=6, rotation=90, xytext=(0, 2),
                            textcoords="offset points")
        ax.set_xticks(range(len(cells)), cells, fontsize=8)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * 4)  # room for the value labels
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    m = results["meta"]
    fig.suptitle(f"Responses API over a chat upstream ({m['deltas']} deltas/stream, {m['cpus']} CPUs, "
                 f"{m['duration']} s per cell; higher req/s and lower latency are better)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(dst, dpi=120)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
