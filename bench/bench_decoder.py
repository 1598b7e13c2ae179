"""Decoder speed: the compiled core against the straightforward port of the official algorithm.

The port (``decode_reference``) runs with the official solver, the ``munkres`` package
(``pip install -r requirements/dev.txt``).

CrowdPose S@448 outputs (stage1 [1, 28, 112, 112], stage2 [1, 14, 224, 224]) with 0, 1, 5
and 20 synthetic people, decoded at stage-2 resolution and projected to the input size.
Prints a markdown table; every row also checks that both decoders return the same people.
The two decoders' runs are interleaved, so that both see the same machine.

    python bench/bench_decoder.py [--repeats N]
"""
import argparse
import os
import sys
import time
from typing import Callable, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from litepose_ros.common.keypoints import CROWDPOSE  # noqa: E402
from litepose_ros.decoding import DecoderConfig  # noqa: E402
from litepose_ros.decoding.compiled import decode  # noqa: E402  (raises if the core is not built)
from litepose_ros.decoding.reference import decode_reference  # noqa: E402
from litepose_testing.synthetic import synthesize_outputs  # noqa: E402

INPUT_SIZE = (448, 448)


def make_outputs(count: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """People on a loose grid, joints spread around each centre, 15 % of joints invisible."""
    rng = np.random.RandomState(seed)
    side = int(np.ceil(np.sqrt(max(count, 1))))
    cell = INPUT_SIZE[0] / side
    centres = (np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:count] + 0.5) * cell
    people = np.zeros((count, CROWDPOSE.num_joints, 3))
    people[:, :, :2] = centres[:, None, :] + rng.uniform(-0.4, 0.4, (count, CROWDPOSE.num_joints, 2)) * cell
    people[:, :, 2] = rng.uniform(size=(count, CROWDPOSE.num_joints)) > 0.15
    # Tags 1.5 apart, off the half-integers where round(|tag - background|) would flip with noise.
    tags = rng.permutation(count) * 1.5 - count * 0.75 + 0.23
    return synthesize_outputs(people, INPUT_SIZE, tags, rng, heat_noise=0.05, tag_noise=0.05)


def interleaved_timings(ours: Callable[[], object], reference: Callable[[], object], repeats: int,
                        reference_repeats: int) -> Tuple[List[float], List[float]]:
    """Milliseconds per call of both, their runs interleaved so that both see the same machine
    (a shared VM's speed drifts within minutes)."""
    ours(), reference()  # warm-up
    ours_ms, reference_ms = [], []  # type: List[float], List[float]
    for i in range(repeats):
        start = time.perf_counter()
        ours()
        ours_ms.append((time.perf_counter() - start) * 1e3)
        if i * reference_repeats // repeats != (i + 1) * reference_repeats // repeats:
            start = time.perf_counter()
            reference()
            reference_ms.append((time.perf_counter() - start) * 1e3)
    return ours_ms, reference_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs of the compiled decoder per row")
    parser.add_argument("--reference-repeats", type=int, default=10,
                        help="timed runs of the reference per row, spread among the compiled ones")
    args = parser.parse_args()

    print("| people | resolution | found | compiled median ms | compiled p90 ms | reference median ms "
          "| reference p90 ms | speed-up (median) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for project in (False, True):
        config = DecoderConfig.from_keypoint_set(CROWDPOSE, project_to_input=project)
        for count in (0, 1, 5, 20):
            outputs = make_outputs(count)
            ours, ref = decode(outputs, config), decode_reference(outputs, config, solver="munkres")
            same = ours.keypoints.shape == ref.keypoints.shape and np.allclose(ours.keypoints, ref.keypoints, atol=1e-3)
            if not same:
                raise SystemExit("the compiled decoder and decode_reference disagree for {} people".format(count))
            ours_ms, reference_ms = interleaved_timings(
                lambda o=outputs, c=config: decode(o, c),
                lambda o=outputs, c=config: decode_reference(o, c, solver="munkres"),
                args.repeats, args.reference_repeats)
            f_med, f_p90 = np.median(ours_ms), np.percentile(ours_ms, 90)
            r_med, r_p90 = np.median(reference_ms), np.percentile(reference_ms, 90)
            print("| {} | {} | {} | {:.2f} | {:.2f} | {:.1f} | {:.1f} | {:.0f}x |".format(
                count, "input 448x448" if project else "stage-2 224x224", len(ours),
                f_med, f_p90, r_med, r_p90, r_med / f_med))


if __name__ == "__main__":
    main()
