"""Per-frame CPU budget of pose_node outside inference, stage by stage.

For each model (XS@256 COCO, S@448 CrowdPose) and 0/1/5/20 synthetic people, a 640x480 bgr8
sensor_msgs/Image goes through what the node's worker does around the network:

    image      ROS Image -> BGR array (``image.messages.image_to_bgr``)
    preprocess letterbox, normalise, HWC -> CHW
    decode     network outputs -> people in source pixels, clipped (the outputs are synthetic,
               ``litepose_testing.synthetic``, handed over by a backend that replays them)
    track      the published selection and the person tracker with the node's default settings
               (on), frames 33 ms apart
    message    PoseArray build (``ros.conversions.PoseArrayBuilder``, with the track ids) + rclpy
               ``serialize_message``, the message recycled as the node does
    other      the rest of the process call: the (replayed) network and the check that its
               outputs are finite (``backends.check_finite``, NaN/inf from a broken engine)

preprocess, decode and track are one call of the node's own ``FrameProcessor.process`` (the bench
chains nothing of its own); their times are the ones it reports (wall clock, whatever ``--clock``
says). total is measured around image, the process call and message with the chosen clock;
other is total minus the stage columns.

Prints median and p90 milliseconds per stage and for the total per frame. Stages run in
turn on every frame, so all see the same machine; run it on a quiet machine (check ``uptime``).
``--clock cpu`` measures the process's CPU time instead of wall time: on a loaded machine the
wall clock also counts the time other processes run, the CPU clock only the work done (all
threads of the process; OpenCV may use more than one).

    python bench/bench_frame.py [--frames N] [--clock wall|cpu]
"""
import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rclpy.serialization import serialize_message  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from litepose_ros.backends import Backend  # noqa: E402
from litepose_ros.common.metadata import ModelMetadata  # noqa: E402
from litepose_ros.decoding import decoder_status  # noqa: E402
from litepose_ros.image.messages import image_to_bgr  # noqa: E402
from litepose_ros.image.preprocess import Letterbox  # noqa: E402
from litepose_ros.pipeline.estimator import PoseEstimator  # noqa: E402
from litepose_ros.pipeline.frame_processor import FrameProcessor  # noqa: E402
from litepose_ros.ros.conversions import PoseArrayBuilder  # noqa: E402
from litepose_ros.settings.factories import tracker_from_settings  # noqa: E402
from litepose_ros.settings.parameters import decoder_changes, defaults  # noqa: E402
from litepose_testing.synthetic import synthesize_outputs  # noqa: E402

SOURCE = (640, 480)
MODELS = (("XS", "coco", 256), ("S", "crowdpose", 448))
STAGES = ("image", "preprocess", "decode", "track", "message", "other")


class ReplayBackend(Backend):
    """The network's place in the chain, answering every frame with the same outputs."""

    name = "replay"

    def __init__(self, meta: ModelMetadata, outputs: Tuple[np.ndarray, np.ndarray]) -> None:  # no model file
        self.model_path, self.metadata, self.outputs = "synthetic", meta, outputs

    def run(self, tensor: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return self.outputs


def camera_frame(seed: int = 0) -> Image:
    pixels = np.random.RandomState(seed).randint(0, 256, (SOURCE[1], SOURCE[0], 3)).astype(np.uint8)
    msg = Image(height=SOURCE[1], width=SOURCE[0], encoding="bgr8", is_bigendian=0, step=SOURCE[0] * 3)
    msg.data = pixels.tobytes()
    return msg


def network_outputs(meta: ModelMetadata, count: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Outputs for ``count`` people on a grid over the letterboxed image content."""
    rng = np.random.RandomState(seed)
    box = Letterbox.fit(SOURCE[0], SOURCE[1], meta.input_width, meta.input_height)
    width, height = box.resized_size
    side = int(np.ceil(np.sqrt(max(count, 1))))
    cell = np.array([width / side, height / side])
    grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:count]
    centres = (grid + 0.5) * cell + [box.pad_x, box.pad_y]
    people = np.zeros((count, meta.num_joints, 3))
    people[:, :, :2] = centres[:, None, :] + rng.uniform(-0.4, 0.4, (count, meta.num_joints, 2)) * cell
    people[:, :, 2] = rng.uniform(size=(count, meta.num_joints)) > 0.15
    tags = rng.permutation(count) * 1.5 - count * 0.75 + 0.23
    return synthesize_outputs(people, (meta.input_width, meta.input_height), tags, rng, heat_noise=0.05,
                              tag_noise=0.05)


def run_frames(meta: ModelMetadata, count: int, frames: int, clock: Callable[[], float]
               ) -> Tuple[Dict[str, List[float]], int]:
    """Milliseconds per stage for each frame, and the people found."""
    settings = defaults()
    estimator = PoseEstimator(ReplayBackend(meta, network_outputs(meta, count)), **decoder_changes(settings))
    processor = FrameProcessor(estimator, settings, tracker_from_settings(settings, meta.sigmas))
    builder = PoseArrayBuilder(meta, "/models/model.onnx", "onnxruntime")
    msg, header = camera_frame(), Header(frame_id="camera")
    times = {stage: [] for stage in STAGES + ("total",)}  # type: Dict[str, List[float]]
    found = 0
    for i in range(frames + 3):  # 3 warm-up frames
        start = clock()
        image = image_to_bgr(msg)
        image_done = clock()
        result = processor.process(image, i * 33000000)
        process_done = clock()
        width, height = result.image_size
        poses = builder.build(result.people, header, width, height, result.timings.total_ms,
                              track_ids=result.track_ids)
        serialize_message(poses)
        builder.recycle(poses)  # as the node does once it has published
        end = clock()
        stage_ms = [image_done - start, result.timings.preprocess_ms / 1e3, result.timings.decode_ms / 1e3,
                    result.track_ms / 1e3, end - process_done]
        stage_ms += [end - start - sum(stage_ms), end - start]  # other, total
        if i >= 3:
            for stage, seconds in zip(STAGES + ("total",), stage_ms):
                times[stage].append(seconds * 1e3)
        found = len(result.people)
    return times, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="timed frames per row")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time (time.perf_counter) or the process's CPU time (time.process_time)")
    args = parser.parse_args()
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    print("decoder: {}; clock: {}; load average: {}".format(decoder_status()[0], args.clock, " ".join(
        "{:.2f}".format(v) for v in os.getloadavg())))
    print("| model | people | found | " + " | ".join("{} median / p90 ms".format(s) for s in STAGES)
          + " | total median / p90 ms |")
    print("|---|---:|---:|" + "---:|" * (len(STAGES) + 1))
    for arch, dataset, size in MODELS:
        meta = ModelMetadata.for_dataset(arch, dataset, size, size, weights="synthetic")
        for count in (0, 1, 5, 20):
            times, found = run_frames(meta, count, args.frames, clock)
            cells = ["{:.3f} / {:.3f}".format(np.median(v), np.percentile(v, 90))
                     for v in [times[s] for s in STAGES + ("total",)]]
            print("| {}@{} {} | {} | {} | {} |".format(arch, size, dataset, count, found, " | ".join(cells)))


if __name__ == "__main__":
    main()
