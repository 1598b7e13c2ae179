"""pose_node's depth side: depth image and camera_info subscriptions feeding a
``litepose_ros.depth.lift.DepthLifter``, and the /diagnostics status saying how pairing goes.

Nothing here can stop the 2D output: every reason a frame gets no 3D is counted, the last one
is reported, and the frame is published without 3D.
"""
from typing import Any, Dict

from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CameraInfo, Image

from ..depth.lift import OUTCOMES, DepthLifter


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1000000000 + int(header.stamp.nanosec)


class DepthInput(object):
    """Subscribes on ``node``; ``lifter.lift`` is called by the inference worker."""

    def __init__(self, node: Any, settings: Dict[str, Any], subscribe: Any) -> None:
        """``subscribe(msg_type, topic, callback)``: the node's input subscriptions (QoS as the image's)."""
        self.topic = node.resolve_topic_name(settings["depth_topic"])
        self.info_topic = node.resolve_topic_name(settings["camera_info_topic"])
        self.lifter = DepthLifter(settings, self.topic, self.info_topic)
        subscribe(Image, settings["depth_topic"], self._on_depth)
        subscribe(CameraInfo, settings["camera_info_topic"], self._on_camera_info)

    def _on_depth(self, msg: Image) -> None:
        self.lifter.add_depth(stamp_ns(msg.header), msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self.lifter.set_camera_info(msg.k, msg.width, msg.height, msg.header.frame_id)

    def status(self, node_name: str) -> DiagnosticStatus:
        """The depth status for /diagnostics: WARN while the latest frame got no 3D."""
        snap = self.lifter.snapshot()
        status = DiagnosticStatus(name="{}: depth".format(node_name), hardware_id="depth")
        if not snap["last_ok"]:
            status.level, status.message = DiagnosticStatus.WARN, "no 3D: {}".format(snap["last_problem"])
        elif snap["paired"]:
            status.level, status.message = DiagnosticStatus.OK, "3D from depth"
        else:
            status.level, status.message = DiagnosticStatus.OK, "waiting for colour frames"
        values = [("depth_topic", self.topic), ("camera_info_topic", self.info_topic)]
        values += [("frames_" + kind, snap[kind]) for kind in OUTCOMES]
        values += [("depth_buffered", len(self.lifter.pairer)), ("last_problem", snap["last_problem"])]
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values]
        return status
