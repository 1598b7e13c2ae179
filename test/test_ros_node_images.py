"""pose_node as a real process fed hostile compressed frames (see test_ros_node.py for the set-up)."""
import array

import cv2
import numpy as np
import ros_harness as h
from test_ros_node import FAST, _marker_centres, marker_model, ros  # noqa: F401  (pytest fixtures)

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
