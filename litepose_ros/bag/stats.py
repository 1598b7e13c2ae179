"""Per-frame records -> the per-frame table (CSV) and the summary statistics.

``bag analyze`` and ``bag summary`` both feed FrameRecords through here, so a poses bag
written by analyze summarises to the same numbers analyze printed.
"""
import csv
import io
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from ..common.people import People

PERCENTILES = (50, 90, 95, 99)
SCORE_BINS = np.linspace(0.0, 1.0, 11)  # keypoint scores are heatmap values, roughly 0..1
GAP_FACTOR = 1.5  # a stamp step this many times the median period is a gap
MAX_LISTED_GAPS = 20
STAGES = ("processing", "preprocess", "inference", "decode", "track")


class FrameRecord(NamedTuple):
    frame_index: int
    stamp_ns: int
    people: People
    processing_ms: float  # preprocess + inference + decode, as in PoseArray.processing_ms
    stages_ms: Optional[Dict[str, float]] = None  # per stage; unknown when read from a poses bag
    track_ids: Optional[np.ndarray] = None  # int [N], one per person; None: tracking off (all -1)
    positions: Optional[Any] = None  # depth.People3D when analyze had depth for this frame
    position_frame_id: str = ""  # frame of positions

    def ids(self) -> np.ndarray:
        return np.full(len(self.people), -1, np.int64) if self.track_ids is None else np.asarray(self.track_ids)


def distribution(values: Sequence[float]) -> Optional[Dict[str, float]]:
    if not len(values):
        return None
    array = np.asarray(values, np.float64)
    out = {"mean": float(array.mean()), "min": float(array.min())}
    out.update({"p{}".format(p): float(np.percentile(array, p)) for p in PERCENTILES})
    out["max"] = float(array.max())
    return {key: round(value, 4) for key, value in out.items()}


def people_per_frame(records: Sequence[FrameRecord]) -> Dict[str, Any]:
    counts = [len(r.people) for r in records]
    histogram = np.bincount(counts) if counts else np.zeros(0, int)
    return {
        "total_people": int(sum(counts)),
        "frames_with_people": int(sum(1 for c in counts if c)),
        "mean": round(float(np.mean(counts)), 4) if counts else None,
        "max": int(max(counts)) if counts else None,
        "histogram": {str(n): int(c) for n, c in enumerate(histogram) if c},
    }


def keypoint_scores(records: Sequence[FrameRecord]) -> Dict[str, Any]:
    """Scores of the keypoints found. Absent joints carry score 0 in People and PoseArray;
    counting them would pull every percentile to 0 in crowded or partly visible scenes."""
    scores = np.concatenate([r.people.keypoints[..., 2].reshape(-1) for r in records] or [np.zeros(0)])
    found = scores[scores > 0]
    counts, _ = np.histogram(np.clip(found, SCORE_BINS[0], SCORE_BINS[-1]), SCORE_BINS)
    return {
        "count": int(scores.size),
        "found": int(found.size),
        "distribution": distribution(found),
        "histogram": {"edges": [round(float(e), 2) for e in SCORE_BINS], "counts": [int(c) for c in counts]},
    }


def keypoint_visibility(records: Sequence[FrameRecord], names: Sequence[str], threshold: float) -> Dict[str, Any]:
    """Per joint: fraction of detected people whose keypoint score exceeds threshold."""
    people = [r.people.keypoints for r in records if len(r.people)]
    if not people:
        return {"threshold": threshold, "people": 0, "fraction": {name: None for name in names}}
    scores = np.concatenate(people)[..., 2]
    fraction = (scores > threshold).mean(axis=0)
    return {
        "threshold": threshold,
        "people": int(scores.shape[0]),
        "fraction": {name: round(float(f), 4) for name, f in zip(names, fraction)},
    }


def latency(records: Sequence[FrameRecord]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"processing": distribution([r.processing_ms for r in records])}
    for stage in STAGES[1:]:
        values = [r.stages_ms[stage] for r in records if r.stages_ms]
        if values:
            out[stage] = distribution(values)
    return out


def tracks(records: Sequence[FrameRecord]) -> Dict[str, Any]:
    """Track count, and per track its duration (first to last header stamp) and frames."""
    spans: Dict[int, List[int]] = {}  # id -> [first stamp, last stamp, frames]
    untracked = 0
    for record in records:
        for track_id in record.ids().tolist():
            if track_id < 0:
                untracked += 1
                continue
            span = spans.setdefault(track_id, [record.stamp_ns, record.stamp_ns, 0])
            span[0], span[1], span[2] = min(span[0], record.stamp_ns), max(span[1], record.stamp_ns), span[2] + 1
    return {
        "tracks": len(spans),
        "duration_s": distribution([(last - first) / 1e9 for first, last, _ in spans.values()]),
        "frames_per_track": distribution([frames for _, _, frames in spans.values()]),
        "untracked_people": untracked,
    }


def stream_gaps(stamps_ns: Sequence[int]) -> Dict[str, Any]:
    """Timing of a stream from its header stamps, in arrival order: period, gaps, disorder."""
    out: Dict[str, Any] = {"messages": len(stamps_ns)}
    if len(stamps_ns) < 2:
        return out
    stamps = np.asarray(stamps_ns, np.int64)
    steps = np.diff(stamps)
    forward = steps[steps > 0]
    period = float(np.median(forward)) if forward.size else 0.0
    gap_at = np.nonzero(steps > GAP_FACTOR * period)[0] if period else np.zeros(0, int)
    out.update({
        "first_stamp_ns": int(stamps[0]),
        "last_stamp_ns": int(stamps[-1]),
        "duration_s": round(float(stamps[-1] - stamps[0]) / 1e9, 6),
        "median_period_ms": round(period / 1e6, 4),
        "rate_hz": round(1e9 / period, 4) if period else None,
        "out_of_order": int(np.count_nonzero(steps < 0)),
        "duplicate_stamps": int(np.count_nonzero(steps == 0)),
        "gaps": int(gap_at.size),
        "missing_frames_estimate": int(sum(int(round(steps[i] / period)) - 1 for i in gap_at)),
        "gap_list": [
            {"after_stamp_ns": int(stamps[i]), "gap_ms": round(float(steps[i]) / 1e6, 3)}
            for i in gap_at[:MAX_LISTED_GAPS]
        ],
    })
    return out


def summarize(
    records: Sequence[FrameRecord],
    keypoint_names: Sequence[str],
    frames: Dict[str, Any],
    source_stamps_ns: Sequence[int],
    visibility_threshold: float,
) -> Dict[str, Any]:
    return {
        "frames": dict(frames, processed=len(records)),
        "people_per_frame": people_per_frame(records),
        "tracks": tracks(records),
        "keypoint_scores": keypoint_scores(records),
        "keypoint_visibility": keypoint_visibility(records, keypoint_names, visibility_threshold),
        "latency_ms": latency(records),
        "source_stream": stream_gaps(source_stamps_ns),
    }


def format_summary(summary: Dict[str, Any]) -> str:
    """The summary as a few human-readable lines."""
    frames, ppf, stream = summary["frames"], summary["people_per_frame"], summary["source_stream"]
    lines = ["frames: {read} read, {selected} selected, {decoded} decoded, {processed} processed".format(**frames)]
    for reason, count in frames.get("skipped", {}).items():
        lines.append("  skipped {}: {}".format(count, reason))
    if frames.get("read_error"):
        lines.append("  bag broke off: {}".format(frames["read_error"]))
    lines.append("people per frame: mean {} max {} histogram {}".format(ppf["mean"], ppf["max"], ppf["histogram"]))
    track_info = summary.get("tracks")
    if track_info and track_info["tracks"]:
        lines.append("tracks: {} (duration s: {}), people without a track id: {}".format(
            track_info["tracks"], _pct(track_info["duration_s"]), track_info["untracked_people"]))
    scores = summary["keypoint_scores"]["distribution"]
    if scores:
        lines.append("keypoint score (found keypoints): " + _pct(scores))
    for stage, dist in summary["latency_ms"].items():
        if dist:
            lines.append("{} ms: {}".format(stage, _pct(dist)))
    if "median_period_ms" in stream:
        lines.append("source stream: {} msgs over {} s, period {} ms, {} gaps, {} out of order".format(
            stream["messages"], stream["duration_s"], stream["median_period_ms"], stream["gaps"],
            stream["out_of_order"]))
    depth = summary.get("depth")
    if depth:
        problems = ", ".join("{} {}".format(v, k) for k, v in depth.items() if isinstance(v, int) and v and
                             k != "paired")
        lines.append("3D: {} frames paired with {}{}".format(depth["paired"], depth["depth_topic"],
                                                          "; no 3D: " + problems if problems else ""))
        if depth.get("last_problem"):
            lines.append("  last depth problem: {}".format(depth["last_problem"]))
    return "\n".join(lines)


def _pct(dist: Dict[str, float]) -> str:
    return " ".join("{} {:.3f}".format(key, value) for key, value in dist.items())


class FrameTable(object):
    """The per-frame CSV: one row per detected person, or one row for a frame without people.

    Each frame's rows reach the file in one go; when the disk fails mid-way (full, quota), the
    file is cut back to the last whole frame and OSError raised: never a row cut in half."""

    def __init__(self, path: str, keypoint_names: Sequence[str], with_3d: bool = False) -> None:
        self.path = path
        self.stream = open(path, "wb", buffering=0)
        self.with_3d = with_3d
        columns = table_columns(keypoint_names) + (position_columns(keypoint_names) if with_3d else [])
        self.width = len(columns)
        self.good_bytes = 0  # file length after the last whole frame
        self._write_rows([columns])
        self.first_stamp_ns: Optional[int] = None

    def add(self, record: FrameRecord) -> None:
        if self.first_stamp_ns is None:
            self.first_stamp_ns = record.stamp_ns
        stages = record.stages_ms or {}
        common = [
            record.frame_index, record.stamp_ns, "{:.6f}".format((record.stamp_ns - self.first_stamp_ns) / 1e9),
            len(record.people), _num(record.processing_ms),
        ] + [_num(stages.get(stage)) for stage in STAGES[1:]]
        if not len(record.people):
            self._write_rows([common + [""] * (self.width - len(common))])
            return
        boxes = record.people.boxes()
        ids = record.ids()
        rows = []
        for i, (keypoints, score) in enumerate(zip(record.people.keypoints, record.people.scores)):
            values = [i, int(ids[i]), _num(score)] + [_num(v) for v in boxes[i]]
            values += [_num(v) for v in keypoints.reshape(-1)]
            if self.with_3d:
                values += _position_values(record.positions, i, keypoints.shape[0])
            rows.append(common + values)
        self._write_rows(rows)

    def _write_rows(self, rows: List[List[Any]]) -> None:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        data = memoryview(text.getvalue().encode("utf-8"))
        try:
            while data:  # an unbuffered write may take only part
                written = self.stream.write(data)
                data = data[written or 0:]
        except OSError:
            self._cut_back()
            raise
        self.good_bytes = self.stream.tell()

    def _cut_back(self) -> None:
        try:
            self.stream.truncate(self.good_bytes)
        except OSError:  # a device that cannot be truncated (/dev/full): nothing better to do
            pass

    def close(self) -> None:
        self.stream.close()


FRAME_COLUMNS = [
    "frame_index", "stamp_ns", "time_s", "people_count",
    "processing_ms", "preprocess_ms", "inference_ms", "decode_ms", "track_ms",
]
PERSON_COLUMNS = ["person_index", "track_id", "person_score", "bbox_x_min", "bbox_y_min", "bbox_x_max", "bbox_y_max"]


def table_columns(keypoint_names: Sequence[str]) -> List[str]:
    joints = ["{}_{}".format(name, axis) for name in keypoint_names for axis in ("x", "y", "score")]
    return FRAME_COLUMNS + PERSON_COLUMNS + joints


def position_columns(keypoint_names: Sequence[str]) -> List[str]:
    """3D columns (metres, camera optical frame; empty where there is no 3D), after the 2D ones."""
    axes = ("x_m", "y_m", "z_m")
    joints = ["{}_{}".format(name, axis) for name in keypoint_names for axis in axes]
    return ["person_" + axis for axis in axes] + joints


def _position_values(positions: Any, person: int, num_joints: int) -> List[str]:
    if positions is None:
        return [""] * (3 + 3 * num_joints)
    values = [_num(v) if positions.position_valid[person] else "" for v in positions.positions[person]]
    for point, valid in zip(positions.points[person], positions.valid[person]):
        values += [_num(v) if valid else "" for v in point]
    return values


def _num(value: Optional[float]) -> str:
    return "" if value is None else "{:.4f}".format(float(value))
