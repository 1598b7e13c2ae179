"""A camera flooding pose_node: how many frames reach the node, how many poses come out.

For each frame size (640x480 and 1280x720 bgr8 by default) and each publisher reliability
(reliable, as usb_cam and realsense2_camera publish; best effort, the sensor-data profile),
this starts the real node as its own process (``python -m litepose_ros.ros.pose_node``, Fast DDS,
a real LitePose-XS@256 ONNX export with random weights, one inference thread), publishes raw
frames at 30 Hz from this process for ``--seconds`` (in a ROS domain checked to hold no other node), and prints

    in/s       frames the node's subscription received (``frames_received`` in /diagnostics)
    out/s      PoseArrays this process received
    lost       samples DDS reported lost to the node (``dds_lost_samples``, where present)
    out/alone  out/s over the standalone estimator's rate (same model and image, no ROS)

``--dds-profile FILE`` runs node and camera with a Fast DDS XML profile (the shipped
``config/dds/fastdds_large_frames.xml``). ``--node-param NAME:=VALUE`` (repeatable) passes parameters to the node, e.g.
``--node-param qos_overrides./image_raw.subscription.reliability:=best_effort`` for the old
default subscription. Each case gets its own ROS domain, discovery stays on this host.

    python bench/bench_flood.py [--seconds S] [--sizes 640x480,1280x720] [--publishers reliable,best_effort]
                                [--dds-profile FILE] [--node-param NAME:=VALUE ...]
"""
import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test"))

import ros_harness as h  # noqa: E402  (sets localhost-only discovery before rclpy loads)
from rclpy.qos import qos_profile_sensor_data  # noqa: E402

from litepose_ros.pipeline.estimator import PoseEstimator  # noqa: E402

RATE_HZ = 30.0
THREADS = 1


def parse_size(text: str) -> Tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def frame(width: int, height: int) -> np.ndarray:
    return np.random.RandomState(0).randint(0, 256, (height, width, 3)).astype(np.uint8)


def standalone_rate(model: Path, size: Tuple[int, int], seconds: float) -> float:
    """Frames/s of the estimator alone on one image of ``size`` (after a warm-up)."""
    estimator = PoseEstimator.from_model(str(model), threads=THREADS)
    image = frame(*size)
    for _ in range(3):
        estimator.estimate(image)
    count, start = 0, time.monotonic()
    while time.monotonic() - start < seconds:
        estimator.estimate(image)
        count += 1
    rate = count / (time.monotonic() - start)
    estimator.close()
    return rate


def diag_int(client: h.RosClient, key: str) -> int:
    value = client.latest_diagnostic_values().get(key)
    return int(value) if value is not None else -1


def quiet_domain() -> Tuple[int, h.RosClient]:
    """A ROS domain nobody else on this host uses now (tests of other checkouts run in parallel
    and would add their frames to ours), with this process's client in it."""
    rng = random.Random()
    for _ in range(20):
        domain = rng.randint(100, 230)
        client = h.RosClient(domain)
        time.sleep(1.5)  # localhost discovery
        if client.node.get_node_names() == [client.node.get_name()]:
            return domain, client
        client.close()
    raise RuntimeError("no quiet ROS domain found in 100-230")


def flood(model: Path, work: Path, size: Tuple[int, int], reliable: bool, seconds: float,
          node_params: Dict[str, str]) -> Dict[str, float]:
    domain, client = quiet_domain()
    params = dict(model_path=str(model), threads=THREADS, diagnostics_period=0.5)
    params.update(node_params)
    node = h.NodeProcess(work, domain, params)
    try:
        if reliable:
            publisher = client.node.create_publisher(h.Image, "image_raw", 10)  # rclpy default: reliable
        else:
            publisher = client.node.create_publisher(h.Image, "image_raw", qos_profile_sensor_data)
        try:
            client.wait_matched(publisher, node, timeout=20.0)
        except AssertionError:  # e.g. a reliable subscription forced on a best-effort camera
            return {"sent_hz": 0.0, "in_hz": 0.0, "out_hz": 0.0, "lost": -1, "matched": False}
        msg = h.image_msg(frame(*size), 1)
        time.sleep(1.0)  # both sides matched (discovery finishes on the node's side too)
        client.wait_until(lambda: diag_int(client, "frames_received") >= 0, 30.0, "diagnostics")
        received0, lost0, poses0 = diag_int(client, "frames_received"), diag_int(client, "dds_lost_samples"), \
            client.pose_count()
        start = time.monotonic()
        sent = 0
        while True:
            due = start + sent / RATE_HZ
            now = time.monotonic()
            if now - start >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            h.set_stamp(msg, int(time.time() * 1e9), "camera")
            publisher.publish(msg)
            sent += 1
        elapsed = time.monotonic() - start
        if sorted(client.node.get_node_names()) != sorted([client.node.get_name(), "pose_node"]):
            raise RuntimeError("other nodes joined domain {}: {}".format(domain, client.node.get_node_names()))
        time.sleep(1.5)  # last poses and a diagnostics message after the flood
        received = diag_int(client, "frames_received") - received0
        lost = diag_int(client, "dds_lost_samples") - lost0 if lost0 >= 0 else -1
        poses = client.pose_count() - poses0
        return {"sent_hz": sent / elapsed, "in_hz": received / elapsed, "out_hz": poses / elapsed, "lost": lost}
    finally:
        client.close()
        node.stop()


def main(argv: List[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="flood length per case")
    parser.add_argument("--sizes", default="640x480,1280x720")
    parser.add_argument("--publishers", default="reliable,best_effort")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME:=VALUE")
    parser.add_argument("--dds-profile", help="Fast DDS XML profile for the node and the camera (this process), "
                        "e.g. config/dds/fastdds_large_frames.xml")
    parser.add_argument("--model", help="ONNX model (default: a LitePose-XS@256 export, cached in the temp dir)")
    args = parser.parse_args(argv)
    sys.argv = sys.argv[:1]  # rclpy.init reads sys.argv: NAME:=VALUE there would be remap rules
    if args.dds_profile:  # before the first participant; the node process inherits it
        profile = os.path.abspath(args.dds_profile)
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = profile  # Fast DDS 3 (Kilted); 2.x reads FASTRTPS_...
    node_params = dict(p.split(":=", 1) for p in args.node_param)
    work = Path(tempfile.mkdtemp(prefix="litepose_flood_"))
    cache = Path(tempfile.gettempdir()) / "litepose_bench_models"
    cache.mkdir(exist_ok=True)
    model = Path(args.model) if args.model else h.export_litepose(cache, 256)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    print("model {}, {} inference thread(s), node params {}, DDS profile {}; {:g} s per case at {:g} Hz; "
          "load {}".format(model.name, THREADS, node_params or "(defaults)", args.dds_profile or "(none)",
                           args.seconds, RATE_HZ,
        " ".join(open("/proc/loadavg").read().split()[:3])))
    print("{:>9} {:>12} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9}".format(
        "frame", "publisher", "sent/s", "in/s", "out/s", "lost", "alone/s", "out/alone"))
    for size in sizes:
        alone = standalone_rate(model, size, 3.0)
        for name in args.publishers.split(","):
            result = flood(model, work, size, name == "reliable", args.seconds, node_params)
            if result.get("matched") is False:
                print("{:>9} {:>12}  no match: the node's subscription and this publisher have incompatible "
                      "QoS".format("{}x{}".format(*size), name))
                continue
            print("{:>9} {:>12} {:>7.1f} {:>7.1f} {:>7.1f} {:>7} {:>8.1f} {:>9.2f}".format(
                "{}x{}".format(*size), name, result["sent_hz"], result["in_hz"], result["out_hz"],
                result["lost"] if result["lost"] >= 0 else "-", alone, result["out_hz"] / alone))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
