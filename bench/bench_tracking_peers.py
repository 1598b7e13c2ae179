"""Our person tracker against norfair and ByteTrack on scenes that look like a real bottom-up
detector (bench/detector_scenes.py), fed identical detections and stamps.

Scores (motmetrics 1.4.0), per scene pooled over the seeds: IDF1, MOTA, ID switches and id
returns (a person's published id going back to an id they had before, A -> B -> A). The truth of
a frame is the people the detector reported in it (all a tracker of detections can publish); a
published id is matched to the person whose detection it was published on, so the scores
measure identities only. False skeletons that get an id are false positives.

Ours runs with the node's default parameters. Each peer runs with several settings and the best
per scene is reported ("best peer"), plus the single setting that is best overall:
- norfair 2.3.0, keypoint voting distance (its pose demo's choice), frame-count parameters
  scaled to the scene's frame rate, one empty update per missing frame period;
- ByteTrack from `trackers` 2.6.1 on the keypoints' boxes, scores = person scores, timestamps.

Cost: thread CPU time of one update, median over the frames of a 5-person and a 15-person scene.

    python bench/bench_tracking_peers.py [--seeds 3] [--first-seed 0] [--scenes SUBSTRING] [--ours-only]
                                         [--cost-only]
"""
import argparse
import logging
import os
import sys
import time
from typing import Callable, Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import detector_scenes as ds  # noqa: E402

from litepose_ros.common.keypoints import COCO  # noqa: E402
from litepose_ros.common.people import People  # noqa: E402
from litepose_ros.settings import factories, parameters  # noqa: E402

# A tracker run: frames and the scene's nominal rate -> published id per detection (-1: none),
# and the thread CPU seconds of each update.
Runner = Callable[[Sequence[ds.Frame], float], Tuple[List[np.ndarray], List[float]]]


class Score(NamedTuple):
    idtp: float
    idfp: float
    idfn: float
    mota_errors: float  # misses + false positives + switches
    truth: float
    switches: int
    returns: int

    def __add__(self, other: "Score") -> "Score":  # type: ignore[override]
        return Score(*(a + b for a, b in zip(self, other)))

    @property
    def idf1(self) -> float:
        return 2 * self.idtp / max(2 * self.idtp + self.idfp + self.idfn, 1e-9)

    @property
    def mota(self) -> float:
        return 1.0 - self.mota_errors / max(self.truth, 1e-9)


ZERO = Score(0, 0, 0, 0, 0, 0, 0)


def run_ours(frames: Sequence[ds.Frame], rate_hz: float) -> Tuple[List[np.ndarray], List[float]]:
    tracker = factories.tracker_from_settings(parameters.defaults(), COCO.sigmas)
    ids, cpu = [], []
    for frame in frames:
        people = People(frame.keypoints, frame.scores)
        start = time.thread_time()
        result = tracker.update(people, frame.stamp_ns, (ds.WIDTH, ds.HEIGHT))
        cpu.append(time.thread_time() - start)
        ids.append(np.asarray(result.track_ids))
    return ids, cpu


def run_reference(frames: Sequence[ds.Frame], rate_hz: float) -> Tuple[List[np.ndarray], List[float]]:
    """What a perfect tracker of these detections publishes: the true person, a new id after
    2 s without a detection (no tracker can know it is the same person), nothing for false
    skeletons. Its IDF1 is the ceiling of the scene."""
    ids, last_seen, current, next_id = [], {}, {}, 0
    for frame in frames:
        stamp = frame.stamp_ns / 1e9
        out = np.full(len(frame.truth), -1)
        for i, person in enumerate(frame.truth.tolist()):
            if person < 0:
                continue
            if person not in current or stamp - last_seen[person] > 2.0:
                current[person], next_id = next_id, next_id + 1
            last_seen[person] = stamp
            out[i] = current[person]
        ids.append(out)
    return ids, [0.0] * len(frames)


def norfair_runner(keypoint_px: float, distance_threshold: float, memory_s: float) -> Runner:
    def run(frames: Sequence[ds.Frame], rate_hz: float) -> Tuple[List[np.ndarray], List[float]]:
        from norfair import Detection, Tracker
        from norfair.distances import create_keypoints_voting_distance

        per_frame = rate_hz / 30.0  # the demo's counts are for 30 Hz video
        tracker = Tracker(
            distance_function=create_keypoints_voting_distance(keypoint_px, detection_threshold=0.1),
            distance_threshold=distance_threshold, detection_threshold=0.1,
            initialization_delay=max(1, int(round(4 * per_frame))),
            hit_counter_max=max(1, int(round(memory_s * rate_hz))),
            pointwise_hit_counter_max=max(1, int(round(10 * per_frame))), past_detections_length=0)
        ids, cpu, last = [], [], None
        for number, frame in enumerate(frames):
            stamp = frame.stamp_ns / 1e9
            detections = [Detection(points=k[:, :2].astype(np.float64), scores=k[:, 2].astype(np.float64),
                                    data=(number, i)) for i, k in enumerate(frame.keypoints)]
            start = time.thread_time()
            if last is not None:  # frames that never came: norfair counts frames, not seconds
                for _ in range(int(round((stamp - last) * rate_hz)) - 1):
                    tracker.update([])
            objects = tracker.update(detections)
            cpu.append(time.thread_time() - start)
            last = stamp
            out = np.full(len(frame.truth), -1)
            for obj in objects:
                if obj.last_detection.data[0] == number:
                    out[obj.last_detection.data[1]] = obj.id
            ids.append(out)
        return ids, cpu
    return run


def bytetrack_runner(min_iou: float, lost_s: float, high: float, confirm: int) -> Runner:
    def run(frames: Sequence[ds.Frame], rate_hz: float) -> Tuple[List[np.ndarray], List[float]]:
        import supervision as sv
        from trackers import ByteTrackTracker

        tracker = ByteTrackTracker(lost_track_buffer=int(round(lost_s * 30)), frame_rate=rate_hz,
                                   track_activation_threshold=high, minimum_consecutive_frames=confirm,
                                   minimum_iou_threshold=min_iou, high_conf_det_threshold=high)
        ids, cpu = [], []
        for frame in frames:
            boxes = People(frame.keypoints, frame.scores).boxes().astype(np.float64).reshape(-1, 4)
            detections = sv.Detections(xyxy=boxes, confidence=frame.scores.astype(np.float64),
                                       data={"index": np.arange(len(boxes))})
            start = time.thread_time()
            result = tracker.update(detections, timestamp=frame.stamp_ns / 1e9)
            cpu.append(time.thread_time() - start)
            out = np.full(len(frame.truth), -1)
            if len(result):
                out[np.asarray(result.data["index"], int)] = result.tracker_id
            ids.append(out)
        return ids, cpu
    return run


def peers() -> Dict[str, Runner]:
    runners: Dict[str, Runner] = {}
    for keypoint_px in (12.0, 24.0, 40.0):  # 12 = image height / 40, the demo's setting
        for threshold in (0.4, 0.26):  # at least 2 / 3 joints within keypoint_px
            for memory_s in (1.0, 2.0, 3.0):  # 3 s: ours coasts 3 s by default
                runners["norfair kp {:.0f} px, d {}, {:.0f} s".format(keypoint_px, threshold, memory_s)] = \
                    norfair_runner(keypoint_px, threshold, memory_s)
    for min_iou in (0.1, 0.3):
        for high in (0.3, 0.45):
            for lost_s in (1.0, 2.0, 3.0):
                runners["ByteTrack iou {}, high {}, {:.0f} s".format(min_iou, high, lost_s)] = \
                    bytetrack_runner(min_iou, lost_s, high, 2)
    return runners


def score(frames: Sequence[ds.Frame], ids: Sequence[np.ndarray]) -> Score:
    import motmetrics

    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    history: Dict[int, List[int]] = {}
    for frame, frame_ids in zip(frames, ids):
        truth = [int(t) for t in frame.truth if t >= 0]
        hyp = [int(i) for i in frame_ids if i >= 0]
        owner = {int(i): int(t) for t, i in zip(frame.truth, frame_ids) if i >= 0}
        distances = np.array([[0.0 if owner[h] == t else np.nan for h in hyp] for t in truth]).reshape(
            len(truth), len(hyp))
        accumulator.update(truth, hyp, distances)
        for t, i in zip(frame.truth, frame_ids):
            if t >= 0 and i >= 0:
                seen = history.setdefault(int(t), [])
                if not seen or seen[-1] != int(i):
                    seen.append(int(i))
    summary = motmetrics.metrics.create().compute(
        accumulator, metrics=["idtp", "idfp", "idfn", "num_misses", "num_false_positives", "num_switches",
                              "num_objects"])
    m = {key: float(summary[key].iloc[0]) for key in summary.columns}
    returns = sum(sum(1 for k, i in enumerate(seq) if i in seq[:k]) for seq in history.values())
    return Score(m["idtp"], m["idfp"], m["idfn"], m["num_misses"] + m["num_false_positives"] + m["num_switches"],
                 m["num_objects"], int(m["num_switches"]), returns)


def nominal_rate(scene: ds.Scene) -> float:
    return float(1.0 / np.median(np.diff(scene.times_s)))


def quality(seeds: int, only: str, ours_only: bool, first_seed: int = 0) -> List[str]:
    runners: Dict[str, Runner] = {"ours": run_ours, "reference": run_reference}
    if not ours_only:
        runners.update(peers())
    totals: Dict[str, Dict[str, Score]] = {}  # scene -> runner -> score over the seeds
    for seed in range(first_seed, first_seed + seeds):
        for scene in ds.scenes(seed):
            if only and only not in scene.name:
                continue
            frames = ds.frames(scene)
            for name, runner in runners.items():
                ids, _ = runner(frames, nominal_rate(scene))
                scene_totals = totals.setdefault(scene.name, {})
                scene_totals[name] = scene_totals.get(name, ZERO) + score(frames, ids)
    return table(totals)


def _family(name: str) -> str:
    return name.split(" ")[0]


def table(totals: Dict[str, Dict[str, Score]]) -> List[str]:
    rows = ["| scene | ceiling IDF1 | ours IDF1 | MOTA | switches | id returns | best norfair IDF1 (returns) | "
            "best ByteTrack IDF1 (returns) |", "|---|---|---|---|---|---|---|---|"]
    overall: Dict[str, Score] = {}
    best_sum = {"norfair": ZERO, "ByteTrack": ZERO}
    for scene, scores in totals.items():
        ours = scores["ours"]
        cells = ["{:.3f}".format(scores["reference"].idf1), "{:.3f}".format(ours.idf1), "{:.3f}".format(ours.mota),
                 str(ours.switches), str(ours.returns)]
        for family in ("norfair", "ByteTrack"):
            mine = {n: s for n, s in scores.items() if _family(n) == family}
            if not mine:
                cells.append("-")
                continue
            best = max(mine, key=lambda n: mine[n].idf1)
            best_sum[family] = best_sum[family] + mine[best]
            cells.append("{:.3f} ({})".format(mine[best].idf1, mine[best].returns))
        rows.append("| {} | {} |".format(scene, " | ".join(cells)))
        for name, s in scores.items():
            overall[name] = overall.get(name, ZERO) + s
    ours = overall["ours"]
    rows.append("| **all scenes** | {:.3f} | **{:.3f}** | {:.3f} | {} | {} | {} | {} |".format(
        overall["reference"].idf1, ours.idf1, ours.mota, ours.switches, ours.returns,
        *("{:.3f} ({})".format(best_sum[f].idf1, best_sum[f].returns) if best_sum[f].truth else "-"
          for f in ("norfair", "ByteTrack"))))
    rows.append("")
    rows.append("Best single setting over all scenes (IDF1, MOTA, switches, id returns):")
    for family in ("norfair", "ByteTrack"):
        mine = {n: s for n, s in overall.items() if _family(n) == family}
        if mine:
            best = max(mine, key=lambda n: mine[n].idf1)
            s = mine[best]
            rows.append("- {}: {:.3f}, {:.3f}, {}, {}".format(best, s.idf1, s.mota, s.switches, s.returns))
    return rows


def cost(seconds: float, ours_only: bool) -> List[str]:
    """Thread CPU time per update on frames with at least 5 (15) people detected: walkers at
    30 Hz, a few more than that in the scene since some are hidden at any time."""
    rng = np.random.RandomState(7)
    lines = ["", "Thread CPU ms per update, median (p90), frames with at least N people detected, "
             "{:.0f} s at 30 Hz:".format(seconds)]
    runners: Dict[str, Runner] = {"ours": run_ours}
    if not ours_only:
        runners["norfair kp 24 px, d 0.4, 2 s"] = norfair_runner(24.0, 0.4, 2.0)
        runners["ByteTrack iou 0.1, high 0.3, 1 s"] = bytetrack_runner(0.1, 1.0, 0.3, 2)
    for count in (5, 15):
        people = [ds.walker(rng, seconds, x_range=(-3.0, 3.0), z_range=(4.0, 10.0)) for _ in range(count + 3)]
        frames = ds.frames(ds.Scene("cost", people, ds.steady(seconds, 30.0), seed=count))
        busy = np.array([len(f.truth) >= count for f in frames])
        busy[:30] = False  # tracks are being confirmed
        for name, runner in runners.items():
            cpu = np.array(runner(frames, 30.0)[1])[busy] * 1000.0
            lines.append("- N = {} ({} frames), {}: {:.3f} ({:.3f})".format(
                count, len(cpu), name, np.median(cpu), np.percentile(cpu, 90)))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3, help="seeds per scene (different people and noise)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed (e.g. 8 with --seeds 8: seeds no tuning has looked at)")
    parser.add_argument("--scenes", default="", help="only scenes whose name contains this")
    parser.add_argument("--ours-only", action="store_true", help="skip the peers (quick iterations)")
    parser.add_argument("--cost-only", action="store_true", help="only the cost per update")
    parser.add_argument("--cost-seconds", type=float, default=60.0, help="length of the cost scenes (0: skip)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # norfair warns about its scalar distance function on every tracker
    lines = [] if args.cost_only else quality(args.seeds, args.scenes, args.ours_only, args.first_seed)
    if args.cost_seconds > 0:
        lines += cost(args.cost_seconds, args.ours_only)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
