"""pose_node as a real process fed hostile compressed frames (see test_ros_node.py for the set-up)."""
import array

import cv2
import numpy as np
import ros_harness as h
from test_ros_node import FAST, MARKER_JOINTS, _marker_centres, marker_model, ros  # noqa: F401  (fixtures)

from litepose_ros.ros.conversions import pose_array_to_numpy

PEAK_GROWTH_LIMIT_KIB = 8 * 1024


def peak_rss_kib(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM)."""
    with open("/proc/{}/status".format(pid)) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def jpeg_bomb(width: int = 15000, height: int = 15000) -> bytes:
    """A few hundred bytes of JPEG whose frame header claims width x height pixels."""
    ok, encoded = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    data = bytearray(encoded.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def test_decompression_bomb_costs_no_memory_and_is_a_bad_frame(tmp_path, ros, marker_model):  # noqa: F811
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, image_transport="compressed",
                                                qos_reliability="reliable", **FAST))
    c = client()
    camera = c.camera(compressed=True, reliable=True, depth=10)
    good = h.compressed_msg(h.draw_markers(640, 480, _marker_centres(640, 480)), 0)
    c.handshake(camera, node, good)
    for i in range(3):  # the node's normal peak: a few frames all the way through
        h.set_stamp(good, 1 + i, "camera")
        c.send_until_posed(camera, good)
    normal_peak = peak_rss_kib(node.proc.pid)

    bomb = h.compressed_msg(np.zeros((1, 1, 3), np.uint8), 10)
    bomb.data = array.array("B", jpeg_bomb())
    assert len(bomb.data) < 1000
    camera.publish(bomb)
    c.wait_until(lambda: c.latest_diagnostic_values().get("bad_frames") == "1", 10, "the bomb counted as bad")
    h.set_stamp(good, 11, "camera")
    c.send_until_posed(camera, good)  # the node still works

    growth = peak_rss_kib(node.proc.pid) - normal_peak
    assert growth < PEAK_GROWTH_LIMIT_KIB, "peak RSS grew by {} KiB".format(growth)
    assert node.stop() == 0
    assert "bad input frame skipped: image of 15000x15000 exceeds the" in node.output()


def gray_as(encoding: str, gray: np.ndarray) -> np.ndarray:
    """The gray image's pixels laid out in ``encoding`` (what goes into Image.data, row by row)."""
    height, width = gray.shape
    if encoding in ("BGR8", "rgb16"):
        pixels = np.dstack([gray] * 3)
        return pixels if encoding == "BGR8" else ((pixels.astype(np.uint16) << 8) | 0x77).astype(">u2")
    if encoding == "mono16":
        return ((gray.astype(np.uint16) << 8) | 0x77).astype("<u2")
    if encoding == "bayer_grbg8":
        return gray  # every site sees the same gray: demosaics to gray whatever the pattern
    luma = np.round(16 + gray * (219.0 / 255.0)).astype(np.uint8)  # BT.601 video range, no chroma
    pairs = np.full((height, width // 2, 4), 128, np.uint8)
    y_at = (1, 3) if encoding == "uyvy" else (0, 2)
    pairs[:, :, y_at[0]], pairs[:, :, y_at[1]] = luma[:, 0::2], luma[:, 1::2]
    return pairs.reshape(height, width, 2)


ENCODINGS = ["BGR8", "mono16", "rgb16", "bayer_grbg8", "yuyv", "uyvy"]


def test_node_accepts_the_decoders_encodings(tmp_path, ros, marker_model):  # noqa: F811
    """Encodings the node used to reject give poses on the markers (the marker model's heat is the
    red channel, so a gray image works in every encoding)."""
    domain, client = ros
    node = h.NodeProcess(tmp_path, domain, dict(model_path=marker_model, qos_reliability="reliable", **FAST))
    c = client()
    camera = c.camera(reliable=True, depth=10)
    width, height = 320, 240
    centres = _marker_centres(width, height)
    gray = np.ascontiguousarray(h.draw_markers(width, height, centres)[:, :, 2])
    c.handshake(camera, node, h.image_msg(np.dstack([gray] * 3), 0))
    for n, encoding in enumerate(ENCODINGS):
        pixels = np.ascontiguousarray(gray_as(encoding, gray))
        msg = h.image_msg(pixels, 100 + n, encoding=encoding)
        msg.is_bigendian = int(encoding == "rgb16")
        msg.step = pixels.strides[0]
        pose, _ = c.send_until_posed(camera, msg, timeout=10)
        keypoints, _ = pose_array_to_numpy(pose)
        assert keypoints.shape[0] == 1, encoding
        for joint, (x, y) in zip(MARKER_JOINTS, centres):
            kx, ky, score = keypoints[0, joint]
            assert score > 0.1 and abs(kx - x) <= 2.0 and abs(ky - y) <= 2.0, (encoding, joint, kx, ky, x, y)
    assert c.latest_diagnostic_values().get("bad_frames", "0") == "0"
    assert node.stop() == 0
