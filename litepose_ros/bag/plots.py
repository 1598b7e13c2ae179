"""Summary plots as PNG files (matplotlib, Agg backend: no display needed)."""
import os
from typing import Any, Dict, Iterator, List, Sequence, Tuple

from .stats import FrameRecord

PLOT_FILES = ("people_over_time.png", "latency_histogram.png", "keypoint_visibility.png", "tracks_over_time.png")


def write_plots(
    records: Sequence[FrameRecord], summary: Dict[str, Any], out_dir: str, title: str = ""
) -> List[str]:
    """Write the plots of PLOT_FILES into out_dir and return their paths."""
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, figure in plot_figures(records, summary, title):
        path = os.path.join(out_dir, name)
        figure.savefig(path)
        plt.close(figure)
        paths.append(path)
    return paths


def plot_figures(records: Sequence[FrameRecord], summary: Dict[str, Any], title: str = "") -> Iterator[Tuple[str, Any]]:
    """(file name, matplotlib figure) of each plot; the caller saves and closes them."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: no display on robots and CI
    import matplotlib.pyplot as plt

    for name, draw in zip(PLOT_FILES, (_people_over_time, _latency_histogram, _keypoint_visibility,
                                       _tracks_over_time)):
        figure, axes = plt.subplots(figsize=(6.4, 3.2), dpi=80)
        draw(axes, records, summary)
        if title:
            figure.suptitle(title, fontsize=9)
        figure.tight_layout()
        yield name, figure


def _people_over_time(axes: Any, records: Sequence[FrameRecord], summary: Dict[str, Any]) -> None:
    start = records[0].stamp_ns if records else 0
    times = [(r.stamp_ns - start) / 1e9 for r in records]
    from matplotlib.ticker import MaxNLocator

    counts = [len(r.people) for r in records]
    axes.step(times, counts, where="post")
    axes.set_xlabel("time since first frame [s] (header stamps)")
    axes.set_ylabel("people")
    axes.set_title("people per frame", fontsize=10)
    # Counts are integers: from 0, with room above the top, and integer ticks even for a flat
    # series (MaxNLocator falls back to fractions when fewer than min_n_ticks integers fit).
    axes.set_ylim(0, max(counts + [0]) + 0.5)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def _latency_histogram(axes: Any, records: Sequence[FrameRecord], summary: Dict[str, Any]) -> None:
    series = {"processing (total)": [r.processing_ms for r in records]}
    for stage in ("inference", "decode"):
        values = [r.stages_ms[stage] for r in records if r.stages_ms]
        if values:
            series[stage] = values
    for label, values in series.items():
        axes.hist(values, bins=30, alpha=0.6, label=label)
    axes.set_xlabel("milliseconds per frame")
    axes.set_ylabel("frames")
    axes.set_title("latency", fontsize=10)
    axes.legend(fontsize=8)


def _keypoint_visibility(axes: Any, records: Sequence[FrameRecord], summary: Dict[str, Any]) -> None:
    visibility = summary["keypoint_visibility"]
    names = list(visibility["fraction"])
    values = [visibility["fraction"][n] or 0.0 for n in names]
    axes.bar(range(len(names)), values)
    axes.set_xticks(range(len(names)))
    axes.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    axes.set_ylim(0, 1)
    axes.set_ylabel("fraction of people")
    axes.set_title("keypoint visible (score > {}) per joint".format(visibility["threshold"]), fontsize=10)
    if not visibility["people"]:
        axes.text(0.5, 0.5, "no people found in {} frames".format(len(records)), transform=axes.transAxes,
                  ha="center", va="center", fontsize=10, color="0.3")


def _tracks_over_time(axes: Any, records: Sequence[FrameRecord], summary: Dict[str, Any]) -> None:
    """One row per track id, a dot per frame it was published in; a gap is an occlusion."""
    start = records[0].stamp_ns if records else 0
    times, ids = [], []
    for record in records:
        for track_id in record.ids().tolist():
            if track_id >= 0:
                times.append((record.stamp_ns - start) / 1e9)
                ids.append(track_id)
    if ids:
        axes.scatter(times, ids, c=[track_id % 10 for track_id in ids], cmap="tab10", vmin=0, vmax=9, s=6,
                     marker="s", linewidths=0)
    else:
        axes.text(0.5, 0.5, "no tracks (tracking off or nobody confirmed)", ha="center", va="center",
                  transform=axes.transAxes)
    axes.set_xlabel("time since first frame [s] (header stamps)")
    axes.set_ylabel("track id")
    axes.set_title("tracks over time", fontsize=10)
    axes.yaxis.get_major_locator().set_params(integer=True)
