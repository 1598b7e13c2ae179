"""What depth costs pose_node per frame: 5 people (COCO, 17 keypoints), 640x480 colour with a
16UC1 depth image at the same resolution, 5x5 depth window.

Per frame the node does, with depth on, everything it does without plus: pairing the frame
with a buffered depth image, reading the depth buffer, lifting the keypoints (``DepthLifter.lift``)
and building the 3D fields of PoseArray. Both variants run interleaved on the same people, and
the extra cost is the per-frame difference (with depth - without). Markers are built only while
someone subscribes to ``markers``; their cost is listed separately.

    python bench/bench_depth.py [--frames N] [--people N]
"""
import argparse
import array
import os
import sys
import time
from typing import Callable, List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from litepose_ros.common.metadata import ModelMetadata  # noqa: E402
from litepose_ros.common.people import People  # noqa: E402
from litepose_ros.depth.lift import DepthLifter  # noqa: E402
from litepose_ros.ros.conversions import PoseArrayBuilder  # noqa: E402
from litepose_ros.ros.markers import marker_array  # noqa: E402
from litepose_ros.settings.parameters import defaults  # noqa: E402

WIDTH, HEIGHT = 640, 480
K = [525.0, 0.0, 319.5, 0.0, 525.0, 239.5, 0.0, 0.0, 1.0]


def make_people(count: int, seed: int = 0) -> People:
    rng = np.random.RandomState(seed)
    keypoints = np.zeros((count, 17, 3), np.float32)
    centres = rng.uniform([80, 80], [WIDTH - 80, HEIGHT - 80], (count, 2))
    keypoints[..., :2] = centres[:, None, :] + rng.uniform(-70, 70, (count, 17, 2))
    keypoints[..., 2] = np.where(rng.uniform(size=(count, 17)) > 0.15, rng.uniform(0.2, 0.9, (count, 17)), 0.0)
    return People(keypoints, np.sort(rng.uniform(size=count))[::-1].astype(np.float32))


def depth_message(stamp_ns: int) -> Image:
    """A driver-like 16UC1 frame: a wall at 4 m, 5 % holes (0)."""
    rng = np.random.RandomState(1)
    depth = np.full((HEIGHT, WIDTH), 4000, np.uint16) - rng.randint(0, 2500, (HEIGHT, WIDTH)).astype(np.uint16)
    depth[rng.uniform(size=depth.shape) < 0.05] = 0
    msg = Image(height=HEIGHT, width=WIDTH, encoding="16UC1", is_bigendian=0, step=WIDTH * 2,
                data=array.array("B", depth.tobytes()))
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_ns // 1000000000, stamp_ns % 1000000000
    return msg


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000.0


def percentiles(values: List[float]) -> str:
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return "p50 {:.3f}  p90 {:.3f}  p99 {:.3f}  mean {:.3f}".format(p50, p90, p99, float(np.mean(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--people", type=int, default=5)
    args = parser.parse_args()

    meta = ModelMetadata.for_dataset("XS", "coco", 256, 256, weights="random")
    builder = PoseArrayBuilder(meta, "model.onnx", "onnxruntime")
    people = make_people(args.people)
    header = Header(frame_id="camera_color_optical_frame")
    lifter = DepthLifter(defaults(), "depth", "camera_info")
    lifter.set_camera_info(K, WIDTH, HEIGHT, "camera_color_optical_frame")
    stamp = 1700000000000000000
    for i in range(16):  # a full pairing buffer, the colour frame's depth among them
        lifter.add_depth(stamp + (i - 8) * 33000000, depth_message(stamp + (i - 8) * 33000000))

    def without_depth() -> object:
        return builder.build(people, header, WIDTH, HEIGHT, 10.0)

    def with_depth() -> object:
        positions, frame_id = lifter.lift(people.keypoints, stamp, (WIDTH, HEIGHT))
        return builder.build(people, header, WIDTH, HEIGHT, 10.0, positions, frame_id)

    for _ in range(50):  # warm up
        without_depth(), with_depth()
    base, extra, lift_only, markers = [], [], [], []
    for _ in range(args.frames):
        a = timed(without_depth)
        b = timed(with_depth)
        base.append(a)
        extra.append(b - a)
        lift_only.append(timed(lambda: lifter.lift(people.keypoints, stamp, (WIDTH, HEIGHT))))
    msg = with_depth()
    assert lifter.snapshot()["paired"] > 0 and lifter.snapshot()["last_ok"], lifter.snapshot()
    valid = sum(k.position_valid for p in msg.people for k in p.keypoints)
    for _ in range(min(args.frames, 500)):
        markers.append(timed(lambda: marker_array(msg)))
    print("{} people, {} keypoints with 3D, {}x{} 16UC1 depth, {} frames (ms):".format(
        args.people, valid, WIDTH, HEIGHT, args.frames))
    print("  PoseArray without depth      " + percentiles(base))
    print("  extra with depth (per frame) " + percentiles(extra))
    print("    of which DepthLifter.lift  " + percentiles(lift_only))
    print("  markers (only if subscribed) " + percentiles(markers))


if __name__ == "__main__":
    main()
