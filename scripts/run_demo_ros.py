#!/usr/bin/env python3
"""End-to-end ROS 2 demo on this machine: shared video frames -> pose_node -> poses.

Starts pose_node as its own process (as `ros2 run` would), publishes the JPEG frames of
../shared/data/video/face-demographics-walking_frames as sensor_msgs/CompressedImage at
12.5 Hz, prints one line per PoseArray and saves them all as JSON lines.

    .venv/bin/python scripts/run_demo_ros.py --model engines/litepose_xs_coco_256.onnx

Without --model, a LitePose-XS model with RANDOM weights is exported first (it finds no
real people; the point is the plumbing). Exit code 0 when every frame got its poses.
"""
import argparse
import array
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "test")]
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

import ros_harness as h  # noqa: E402  (the same node/client helpers the tests use)

from litepose_ros.ros.conversions import pose_array_to_numpy  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="exported model (default: export a random-weights XS model)")
    parser.add_argument("--frames", default=str(REPO.parent / "shared/data/video/face-demographics-walking_frames"))
    parser.add_argument("--output", default="out/ros_demo_poses.jsonl", help="JSON lines, one per PoseArray")
    parser.add_argument("--detection-threshold", type=float, default=0.1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="litepose_ros_demo_"))
    model = Path(args.model) if args.model else h.export_litepose(work)
    frames = sorted(Path(args.frames).glob("*.jpg"))
    if not frames:
        print("no .jpg frames in {}".format(args.frames), file=sys.stderr)
        return 2
    domain = h.next_domain_id()
    node = h.NodeProcess(work, domain, {"model_path": model.resolve(), "image_transport": "compressed",
                                        "detection_threshold": args.detection_threshold})
    client = h.RosClient(domain)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        camera = client.camera(compressed=True, reliable=True, depth=5)
        client.wait_matched(camera, node)
        time.sleep(0.5)  # let the node's side of the match settle before the first frame
        with out.open("w") as sink:
            for i, path in enumerate(frames):
                msg = h.compressed_msg(np.zeros((1, 1, 3), np.uint8), 1700000000_000000000 + i * 80_000_000)
                msg.data = array.array("B", path.read_bytes())
                pose, _ = client.send_until_posed(camera, msg)
                keypoints, scores = pose_array_to_numpy(pose)
                print("{} stamp {}.{:09d}: {} people, {:.0f} ms ({} / {})".format(
                    path.name, pose.header.stamp.sec, pose.header.stamp.nanosec, len(scores), pose.processing_ms,
                    pose.model, pose.backend))
                sink.write(json.dumps({"frame": path.name, "stamp_ns": h.stamp_ns(pose.header),
                                       "width": pose.image_width, "height": pose.image_height,
                                       "keypoint_names": list(pose.keypoint_names), "scores": scores.tolist(),
                                       "keypoints": keypoints.round(2).tolist()}) + "\n")
                time.sleep(0.08)
        print("wrote {} PoseArrays to {}".format(len(frames), out))
    finally:
        client.close()
        code = node.stop()
    return 0 if code == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
