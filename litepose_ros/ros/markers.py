"""PoseArray with 3D -> visualization_msgs/MarkerArray for RViz: per person a skeleton
(LINE_LIST) and its joints (SPHERE_LIST) in the frame of the 3D, coloured by track id.

Built from the published message itself, so RViz shows exactly what consumers receive.
"""
import math
from typing import Any, List, Sequence, Tuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

LIFETIME_S = 1.0  # markers of a person no longer published vanish after this (e.g. node stopped)
LINE_WIDTH_M = 0.02
JOINT_DIAMETER_M = 0.05
# Distinct colours (RGB) for track ids; people without a track (track_id -1) share NO_TRACK.
PALETTE = ((0.90, 0.10, 0.10), (0.10, 0.60, 0.90), (0.20, 0.80, 0.20), (0.95, 0.60, 0.05),
           (0.60, 0.20, 0.80), (0.05, 0.80, 0.75), (0.95, 0.30, 0.70), (0.60, 0.45, 0.25))
NO_TRACK = (1.0, 1.0, 1.0)


def colour_for(track_id: int) -> Tuple[float, float, float]:
    return PALETTE[track_id % len(PALETTE)] if track_id >= 0 else NO_TRACK


def marker_array(msg: Any, lifetime_s: float = LIFETIME_S) -> MarkerArray:
    """Markers for every person of ``msg`` (a PoseArray) that has a valid 3D position.

    The first marker is DELETEALL, so people who left this frame disappear at once; the
    lifetime clears the rest when messages stop coming.
    """
    clear = Marker(action=Marker.DELETEALL)
    clear.header.stamp, clear.header.frame_id = msg.header.stamp, msg.position_frame_id
    markers = [clear]
    lifetime = Duration(sec=int(lifetime_s), nanosec=int(round((lifetime_s % 1.0) * 1e9)))
    for index, person in enumerate(msg.people):
        if not person.position_valid:
            continue
        red, green, blue = colour_for(int(person.track_id))
        colour = ColorRGBA(r=red, g=green, b=blue, a=1.0)
        joints = [k.position for k in person.keypoints if _drawable(k)]
        lines = _limb_points(person.keypoints, msg.skeleton)
        for kind, namespace, points, size in ((Marker.LINE_LIST, "skeleton", lines, LINE_WIDTH_M),
                                              (Marker.SPHERE_LIST, "joints", joints, JOINT_DIAMETER_M)):
            if not points:
                continue
            marker = Marker(ns=namespace, id=index, type=kind, action=Marker.ADD, points=points, color=colour,
                            lifetime=lifetime, frame_locked=False)
            marker.header.stamp, marker.header.frame_id = msg.header.stamp, msg.position_frame_id
            marker.pose.orientation.w = 1.0
            marker.scale.x = marker.scale.y = marker.scale.z = size
            markers.append(marker)
    return MarkerArray(markers=markers)


def _drawable(keypoint: Any) -> bool:
    """Valid and finite: RViz must never get a NaN or inf point, whatever a message claims."""
    point = keypoint.position
    return bool(keypoint.position_valid) and all(math.isfinite(v) for v in (point.x, point.y, point.z))


def _limb_points(keypoints: Sequence[Any], skeleton: Sequence[Any]) -> List[Point]:
    """Two points per limb whose both ends have a valid 3D position."""
    points = []
    for limb in skeleton:
        a, b = keypoints[limb.joint_a], keypoints[limb.joint_b]
        if _drawable(a) and _drawable(b):
            points.extend((a.position, b.position))
    return points
