"""pose_node's depth side: depth image and camera_info subscriptions, pairing by stamp, lifting
people to 3D (``litepose_ros.depth``), and a /diagnostics status saying how that goes.

Nothing here can stop the 2D output: every reason a frame gets no 3D is counted under a short
name, the last one is reported, and the frame is published without 3D.
"""
import collections
import threading
from typing import Any, Dict, Optional, Tuple

import numpy as np
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import CameraInfo, Image

from ..depth import Depth, DepthError, LiftSettings, People3D, StampPairer, depth_array, intrinsics_from_k, lift_people

# Counter names in /diagnostics, in the order they are listed.
OUTCOMES = ("paired", "unpaired", "no_camera_info", "bad_camera_info", "bad_encoding", "bad_depth", "size_mismatch",
            "errors")


def stamp_ns(header: Any) -> int:
    return int(header.stamp.sec) * 1000000000 + int(header.stamp.nanosec)


class DepthInput(object):
    """Subscribes on ``node``; ``lift`` is called by the inference worker (thread-safe)."""

    def __init__(self, node: Any, settings: Dict[str, Any], qos: Any) -> None:
        self.pairer = StampPairer(int(round(float(settings["depth_stamp_tolerance"]) * 1e9)))
        self.lift_settings = LiftSettings(int(settings["depth_window"]), float(settings["depth_min"]),
                                          float(settings["depth_max"]))
        self.topic = node.resolve_topic_name(settings["depth_topic"])
        self.info_topic = node.resolve_topic_name(settings["camera_info_topic"])
        self._lock = threading.Lock()
        self._camera = None  # type: Optional[Tuple[Any, str]]  # (Intrinsics, frame_id) of the last good info
        self._camera_problem = None  # type: Optional[DepthError]  # why the last camera_info was unusable
        self.counts = collections.Counter()  # type: collections.Counter
        self.last_problem = ""
        self._last_ok = True
        node.create_subscription(Image, settings["depth_topic"], self._on_depth, qos)
        node.create_subscription(CameraInfo, settings["camera_info_topic"], self._on_camera_info, qos)

    def _on_depth(self, msg: Image) -> None:
        # kept undecoded: only depth images that pair with a processed frame are ever read
        self.pairer.add(stamp_ns(msg.header), msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            camera = (intrinsics_from_k(msg.k, msg.width, msg.height), str(msg.header.frame_id))
        except DepthError as error:
            with self._lock:
                self._camera, self._camera_problem = None, error
            return
        with self._lock:
            self._camera, self._camera_problem = camera, None

    def lift(self, keypoints: np.ndarray, header: Any, image_size: Tuple[int, int]
             ) -> Tuple[Optional[People3D], str]:
        """(3D of these people, frame of the 3D) for the colour frame with ``header``;
        (None, "") when it has none, the reason counted."""
        try:
            intrinsics, frame_id = self._intrinsics()
            msg = self.pairer.match(stamp_ns(header))
            if msg is None:
                raise DepthError("unpaired", "no depth image on {} within {:.3f} s of the colour stamp".format(
                    self.topic, self.pairer.tolerance_ns / 1e9))
            values, unit = depth_array(msg.data, msg.width, msg.height, msg.step, msg.encoding, msg.is_bigendian)
            people = lift_people(keypoints, Depth(values, unit, stamp_ns(msg.header)), intrinsics, image_size,
                                 self.lift_settings)
        except DepthError as error:
            self._outcome(error.kind, str(error))
            return None, ""
        except Exception as error:  # noqa: B902 - a bug in 3D must not cost the 2D output
            self._outcome("errors", "3D failed: {!r}".format(error))
            return None, ""
        self._outcome("paired", "")
        return people, frame_id or str(header.frame_id)

    def _intrinsics(self) -> Tuple[Any, str]:
        with self._lock:
            if self._camera is not None:
                return self._camera
            if self._camera_problem is not None:
                raise self._camera_problem
        raise DepthError("no_camera_info", "no camera_info received on {}".format(self.info_topic))

    def _outcome(self, kind: str, problem: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            self._last_ok = not problem
            if problem:
                self.last_problem = problem

    def status(self, node_name: str) -> DiagnosticStatus:
        """The depth status for /diagnostics: WARN while the latest frame got no 3D."""
        with self._lock:
            counts, last_ok, problem = dict(self.counts), self._last_ok, self.last_problem
        status = DiagnosticStatus(name="{}: depth".format(node_name), hardware_id="depth")
        if not last_ok:
            status.level, status.message = DiagnosticStatus.WARN, "no 3D: {}".format(problem)
        elif counts.get("paired"):
            status.level, status.message = DiagnosticStatus.OK, "3D from depth"
        else:
            status.level, status.message = DiagnosticStatus.OK, "waiting for colour frames"
        values = [("depth_topic", self.topic), ("camera_info_topic", self.info_topic)]
        values += [("frames_" + kind, counts.get(kind, 0)) for kind in OUTCOMES]
        values += [("depth_buffered", len(self.pairer)), ("last_problem", problem)]
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values]
        return status
