"""Tracker quality on the synthetic scenes (motmetrics) and its cost per frame.

Quality: MOTA, IDF1 and ID switches of every scene of ``litepose_testing.tracking_scenes``, scored
against the people the detector found (what a tracker of detections can publish) and, for
IDF1, against every visible person (missed detections then count as misses too).
Cost: ``PersonTracker.update`` per frame with 5 people walking at 30 Hz, percentiles in ms of
wall time and of this thread's CPU time (on a busy machine the wall-time tail is other jobs).

    python bench/bench_tracking.py [--frames N] [--seeds N]
"""
import argparse
import os
import sys
import time
from typing import List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from litepose_ros.common.keypoints import COCO  # noqa: E402
from litepose_ros.tracking import PersonTracker  # noqa: E402
from litepose_testing.tracking_scenes import Scene, Walker, frames, run_tracker, scenes, steady_times  # noqa: E402


def quality_table(seeds: int) -> List[str]:
    rows = ["| scene | frames | people | MOTA | IDF1 | IDF1 (missed count) | ID switches | false positives |",
            "|---|---|---|---|---|---|---|---|"]
    for scene in scenes():
        metrics, all_truth, frame_count = [], [], 0
        for seed in range(seeds):
            scene_frames = frames(scene._replace(seed=scene.seed + 1000 * seed))
            frame_count += len(scene_frames)
            metrics.append(run_tracker(scene_frames).metrics)
            all_truth.append(run_tracker(scene_frames, detected_truth=False).metrics)
        rows.append("| {} | {} | {} | {:.3f} | {:.3f} | {:.3f} | {} | {} |".format(
            scene.name, frame_count, len(scene.walkers), np.mean([m["mota"] for m in metrics]),
            np.mean([m["idf1"] for m in metrics]), np.mean([m["idf1"] for m in all_truth]),
            int(sum(m["num_switches"] for m in metrics)), int(sum(m["num_false_positives"] for m in metrics))))
    return rows


def cost(frame_count: int) -> List[str]:
    walkers = [Walker((60 + 110 * i, 150 + 40 * i), (40 - 20 * i, 15 * (-1) ** i), 150 + 15 * i,
                      ("standing", "arms_up", "arms_out", "wide_stance", "hands_on_hips")[i]) for i in range(5)]
    scene_frames = frames(Scene("cost", walkers, steady_times(frame_count / 30.0, 30.0), miss_rate=0.05))
    tracker = PersonTracker(COCO.sigmas)
    wall, cpu = [], []
    for frame in scene_frames:
        start, start_cpu = time.perf_counter(), time.thread_time()
        tracker.update(frame.people, frame.stamp_ns)
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.thread_time() - start_cpu) * 1000.0)
    lines = ["", "`PersonTracker.update`, 5 people, {} frames after all are confirmed, ms per frame:".format(
        len(wall) - 30)]
    for name, times in (("wall", wall), ("thread CPU", cpu)):
        times = np.array(times[30:])
        lines.append("- {}: p50 {:.3f}, p90 {:.3f}, p99 {:.3f}, max {:.3f}, mean {:.3f}".format(
            name, *np.percentile(times, [50, 90, 99, 100]), times.mean()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=3000, help="frames of the cost measurement")
    parser.add_argument("--seeds", type=int, default=5, help="noise seeds per scene (results summed / averaged)")
    args = parser.parse_args()
    print("\n".join(quality_table(args.seeds) + cost(args.frames)))


if __name__ == "__main__":
    main()
