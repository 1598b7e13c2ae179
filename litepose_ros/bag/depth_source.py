"""Depth images and camera_info of a bag, fed to a ``DepthLifter`` alongside the colour frames.

The depth and camera_info topics are read with their own reader, in the bag's order, only
as far as the colour frame being processed needs (stamps up to its stamp + the tolerance), so
memory stays bounded by the pairing buffer however long the bag is.
"""
import collections
from typing import Any, Counter, Dict, Iterator, Optional, Tuple

from ..depth.lift import DepthLifter
from .reader import Frame, open_bag, read_messages, stamp_to_ns, topic_connections
from .types import IMAGE, typestore_for

CAMERA_INFO = "sensor_msgs/msg/CameraInfo"


def default_camera_info_topic(image_topic: str) -> str:
    """camera_info beside the image, as image_transport names it: /cam/color/image_raw ->
    /cam/color/camera_info (a /compressed suffix is dropped first)."""
    base = image_topic[:-len("/compressed")] if image_topic.endswith("/compressed") else image_topic
    return base.rsplit("/", 1)[0] + "/camera_info"


class BagDepth(object):
    """3D for the frames of one colour topic from a depth and a camera_info topic of the bag."""

    def __init__(self, path: str, depth_topic: str, info_topic: str, settings: Dict[str, Any]) -> None:
        self.depth_topic, self.info_topic = depth_topic, info_topic
        self.lifter = DepthLifter(settings, depth_topic, info_topic)
        self.skipped: Counter[str] = collections.Counter()
        self.read_error: Optional[str] = None
        self._reader = open_bag(path)
        connections = (topic_connections(self._reader, depth_topic, (IMAGE,))
                       + topic_connections(self._reader, info_topic, (CAMERA_INFO,)))
        self._messages: Iterator = read_messages(self._reader, connections, self, None, None)
        self._pending: Optional[Tuple[str, Any]] = None  # read, but stamped beyond the frame in hand

    def close(self) -> None:
        self._reader.close()

    def lifter_for(self, frame: Frame) -> DepthLifter:
        """The lifter, fed every depth image that can pair with ``frame`` (read ahead up to the
        pairing tolerance), for ``FrameProcessor.process``."""
        self._feed_until(frame.stamp_ns + self.lifter.pairer.tolerance_ns)
        return self.lifter

    def _feed_until(self, limit_ns: int) -> None:
        while True:
            if self._pending is None:
                self._pending = self._next()
                if self._pending is None:
                    return
            msgtype, message = self._pending
            stamp = stamp_to_ns(message.header.stamp)
            if stamp > limit_ns:
                return
            self._pending = None
            if msgtype == CAMERA_INFO:
                self.lifter.set_camera_info(message.k, message.width, message.height, message.header.frame_id)
            else:
                self.lifter.add_depth(stamp, message)

    def _next(self) -> Optional[Tuple[str, Any]]:
        for connection, _, raw in self._messages:
            try:
                return connection.msgtype, typestore_for(connection).deserialize_cdr(raw, connection.msgtype)
            except Exception:  # rosbags raises assorted errors on malformed CDR
                self.skipped["undecodable {} message (bad CDR)".format(connection.topic)] += 1
        return None

    def summary(self) -> Dict[str, Any]:
        snap = self.lifter.snapshot()
        snap.pop("last_ok")
        snap.update(depth_topic=self.depth_topic, camera_info_topic=self.info_topic, skipped=dict(self.skipped),
                    read_error=self.read_error)
        return snap
