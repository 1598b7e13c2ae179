"""How often the tracker's similarity alone picks the wrong track, with track states kept clean.

For each scene of bench/detector_scenes.py, tracks follow the truth (each track is updated with
its own person's detections only, so no error carries over to the next frame); in every frame
the detections are matched to the tracks seen within the coasting time by Hungarian matching on
``similarity`` with ``track_min_similarity`` as the floor, as the tracker's first stage does.
Per scene: the share of detections (of people with a track) matched to another person's track
("wrong") and left unmatched ("missed"). What the real tracker adds to this (confirmation,
recovery, withheld ids) and what an error costs later (a swap that carries on) is
bench_tracking_peers.py's business; this isolates the similarity.

    python bench/bench_tracking_oracle.py [--seeds 2] [--scenes SUBSTRING]
"""
import argparse
import os
import sys
from collections import Counter
from typing import List, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)

import detector_scenes as ds  # noqa: E402

from litepose_ros.common.keypoints import COCO  # noqa: E402
from litepose_ros.settings.parameters import BY_NAME  # noqa: E402
from litepose_ros.tracking import PersonTracker  # noqa: E402


def scene_errors(scene: ds.Scene) -> Counter:
    tracker = PersonTracker(COCO.sigmas)
    tracks = tracker.tracks
    floor = BY_NAME["track_min_similarity"].default
    coast_s = BY_NAME["track_coast_s"].default
    owner: List[int] = []  # track row -> person
    counts: Counter = Counter()
    frames = ds.frames(scene)
    for frame in frames:
        time_s = (frame.stamp_ns - frames[0].stamp_ns) / 1e9
        tracks.predict(time_s)
        keypoints, truth = frame.keypoints, frame.truth
        similarity, centre, common, residual = tracker.similarity(np.arange(len(tracks)), keypoints)
        alive = np.flatnonzero(time_s - tracks.last_hit_s <= coast_s)
        if len(alive) and len(keypoints):
            rows, dets = linear_sum_assignment(-similarity[alive])
            chosen = {int(d): owner[alive[r]] for r, d in zip(rows, dets) if similarity[alive[r], d] >= floor}
            followed = {owner[r] for r in alive}
            for det, person in enumerate(truth.tolist()):
                if person < 0 or person not in followed:
                    continue
                counts["trackable"] += 1
                got = chosen.get(det)
                counts["missed" if got is None else ("right" if got == person else "wrong")] += 1
        # clean states: each track takes its own person's detection
        pairs = [(owner.index(p), d) for d, p in enumerate(truth.tolist()) if p >= 0 and p in owner]
        if pairs:
            rows_, dets_ = (np.array(x) for x in zip(*pairs))
            looseness = np.full(len(rows_), np.nan)  # the learned looseness stays at 1
            tracks.update(rows_, keypoints[dets_], centre[rows_, dets_], common[rows_, dets_], looseness)
        new = [d for d, p in enumerate(truth.tolist()) if p >= 0 and p not in owner]
        if new:
            tracks.add(keypoints[new], None)
            owner += [int(truth[d]) for d in new]
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--scenes", default="", help="only scenes whose name contains this")
    args = parser.parse_args()
    totals: dict = {}
    for seed in range(args.seeds):
        for scene in ds.scenes(seed):
            if args.scenes in scene.name:
                totals[scene.name] = totals.get(scene.name, Counter()) + scene_errors(scene)
    print("| scene | detections with a track | wrong | missed |")
    print("|---|---:|---:|---:|")
    rows: List[Tuple[str, Counter]] = list(totals.items()) + [("**all scenes**", sum(totals.values(), Counter()))]
    for name, c in rows:
        n = max(c["trackable"], 1)
        print("| {} | {} | {:.1f} % | {:.1f} % |".format(name, c["trackable"], 100.0 * c["wrong"] / n,
                                                         100.0 * c["missed"] / n))


if __name__ == "__main__":
    main()
