"""pose_node under a hostile feed, over time: memory and latency must stay flat (issue 22).

Starts the node as a real process (``python -m litepose_ros.ros.pose_node``, the test's marker
model, compressed transport, ``publish_debug_image`` with a subscriber, ``diagnostics_period``
at its lower bound, ``threads`` and ``max_people`` at their upper bounds) and feeds it for
``--seconds`` at ``--rate`` Hz a mix of good JPEG frames, 200 KB PNGs of 8192x8192 pixels (192
MiB decoded: item 4), corrupt JPEGs that libjpeg decodes with warnings (item 10) and frames of
a model-breaking size. Every ``--every`` seconds it prints the node's RSS and peak RSS (MiB),
its threads and open files, the poses and /diagnostics messages per second and the latency
(publish -> poses received) percentiles of the good frames.

    .venv/bin/python bench/soak_node.py [--seconds 60] [--rate 20] [--every 10]
"""
import argparse
import array
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from litepose_ros.settings.parameters import MAX_PEOPLE, MAX_THREADS, MIN_DIAGNOSTICS_PERIOD_S

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "test"))  # after our package: importing rclpy first can put another checkout first

import ros_harness as h  # noqa: E402  (the tests' node process and DDS client)
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402


def proc_status(pid: int) -> dict:
    values = {}
    with open("/proc/{}/status".format(pid)) as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                values[key] = int(rest.split()[0])
    values["fds"] = len(os.listdir("/proc/{}/fd".format(pid)))
    return values


def compressed(data: bytes, stamp_ns: int, fmt: str) -> CompressedImage:
    msg = CompressedImage(format=fmt, data=array.array("B", data))
    h.set_stamp(msg, stamp_ns, "camera")
    return msg


def hostile_frames() -> list:
    """(kind, message) of each bad kind; stamps are set when sent."""
    ok, png = cv2.imencode(".png", np.zeros((8192, 8192), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    ok, jpeg = cv2.imencode(".jpg", cv2.GaussianBlur(h.draw_markers(640, 480, [(200, 120)]), (5, 5), 2))
    corrupt = bytearray(jpeg.tobytes())
    scan = corrupt.index(b"\xff\xda")
    corrupt[scan + 40:scan + 60] = b"\xff\xd0" * 10
    return [("png 8192x8192", compressed(png.tobytes(), 0, "mono8; png compressed mono8")),
            ("corrupt jpeg", compressed(bytes(corrupt), 0, "bgr8; jpeg compressed bgr8"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="frames per second sent (default %(default)s)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between report lines")
    parser.add_argument("--bad-share", type=float, default=0.5, help="share of hostile frames (default %(default)s)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="soak_"))
    model = h.make_marker_model(folder / "marker.onnx", 256, 256)
    domain = h.next_domain_id()
    node = h.NodeProcess(folder, domain, dict(
        model_path=model, image_transport="compressed", qos_reliability="reliable", qos_depth=1,
        publish_debug_image=True, diagnostics_period=MIN_DIAGNOSTICS_PERIOD_S, threads=MAX_THREADS,
        max_people=MAX_PEOPLE))
    client = h.RosClient(domain)
    debug_seen = []
    client.node.create_subscription(Image, "/debug_image", lambda msg: debug_seen.append(1), h.qos(True, 1))
    camera = client.camera(compressed=True, reliable=True, depth=1)
    good_image = h.draw_markers(640, 480, [(200, 120), (420, 300)])
    client.handshake(camera, node, h.compressed_msg(good_image, 1))
    bad = hostile_frames()
    rng = np.random.RandomState(0)
    sent_at = {}  # stamp -> monotonic send time of good frames
    latencies, seen_poses = [], 0
    print("node pid {}; {:g} Hz for {:g} s, {:.0%} hostile frames (PNG 8192x8192, corrupt JPEG); threads {}, "
          "max_people {}, diagnostics_period {}".format(node.proc.pid, args.rate, args.seconds, args.bad_share,
                                                        MAX_THREADS, MAX_PEOPLE, MIN_DIAGNOSTICS_PERIOD_S))
    print("| s | RSS MiB | peak RSS MiB | threads | fds | poses/s | diagnostics/s | good-frame latency p50 / p90 ms |"
          " bad frames |")
    print("|---|---|---|---|---|---|---|---|---|")
    start = time.monotonic()
    next_report = start + args.every
    window_start, diag_start = start, len(client.diagnostics)
    stamp = 2 * 10 ** 9
    while time.monotonic() - start < args.seconds:
        stamp += 1000
        if rng.rand() < args.bad_share:
            msg = bad[rng.randint(len(bad))][1]
            h.set_stamp(msg, stamp, "camera")
        else:
            msg = h.compressed_msg(good_image, stamp)
            sent_at[stamp] = time.monotonic()
        camera.publish(msg)
        time.sleep(1.0 / args.rate)
        with client._lock:
            poses, client.poses = client.poses, []
        for _, pose in poses:
            key = h.stamp_ns(pose.header)
            if key in sent_at:
                latencies.append((time.monotonic() - sent_at.pop(key)) * 1000.0)
        seen_poses += len(poses)
        if time.monotonic() >= next_report:
            now = time.monotonic()
            status = proc_status(node.proc.pid)
            values = client.latest_diagnostic_values()
            span = now - window_start
            print("| {:.0f} | {:.0f} | {:.0f} | {} | {} | {:.1f} | {:.1f} | {} | {} |".format(
                now - start, status["VmRSS"] / 1024.0, status["VmHWM"] / 1024.0, status["Threads"], status["fds"],
                seen_poses / span, (len(client.diagnostics) - diag_start) / span,
                "{:.0f} / {:.0f}".format(np.percentile(latencies, 50), np.percentile(latencies, 90))
                if latencies else "-", values.get("bad_frames", "?")), flush=True)
            latencies, seen_poses, window_start, diag_start = [], 0, now, len(client.diagnostics)
            sent_at = {k: v for k, v in sent_at.items() if now - v < 5.0}  # frames dropped by the mailbox
            next_report += args.every
    code = node.stop()
    client.close()
    print("node exit code {}; debug images received {}".format(code, len(debug_seen)))


if __name__ == "__main__":
    main()
