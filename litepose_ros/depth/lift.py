"""People in 3D: keypoints lifted with a depth image aligned to the colour image.

Pure numpy (no ROS), shared by pose_node and `litepose bag analyze`. The depth image is the
one RGB-D drivers publish registered to the colour camera (``16UC1`` millimetres or
``32FC1`` metres), possibly at a lower resolution with the same field of view; the
intrinsics are the colour camera's (sensor_msgs/CameraInfo K).

Every keypoint gets an explicit validity flag: a keypoint that was not found, or whose depth
window holds no usable value (0, NaN, inf, outside the range), has no 3D point (NaN), never
a point at 0 m.
"""
import collections
import threading
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple

import numpy as np

# Encoding -> (dtype, metres per unit). Both are little-endian on the wire unless is_bigendian.
DEPTH_ENCODINGS = {"16UC1": (np.uint16, 0.001), "mono16": (np.uint16, 0.001), "32FC1": (np.float32, 1.0)}
_DEPTH_BY_LOWER = {name.lower(): layout for name, layout in DEPTH_ENCODINGS.items()}
# Depth and colour images are taken to cover the same view when their aspect ratios differ
# by at most this fraction (a 1-pixel crop of a 640x480 image is 0.2 %).
ASPECT_TOLERANCE = 0.01
# Depth images the pairing buffer keeps: enough for ~0.5 s of a 30 Hz camera, so a colour
# frame still finds its depth after a slow inference, without holding a growing backlog.
PAIRING_CAPACITY = 16
MAX_DEPTH_PIXELS = 1 << 25  # a depth image beyond this is not one (same spirit as MAX_PIXELS)
# Focal lengths (pixels) a real camera_info can have: 1 px is a ~180 degree view of any image,
# 1e6 px a 0.04 degree view of a 640-pixel one. Outside, 3D points would be absurd (1e32 m).
MIN_FOCAL_PX = 1.0
MAX_FOCAL_PX = 1e6


class DepthError(ValueError):
    """Depth cannot be used for this frame. ``kind`` is a short counter name for diagnostics
    (e.g. "bad_encoding", "size_mismatch"); str() says why in words."""

    def __init__(self, kind: str, message: str) -> None:
        super(DepthError, self).__init__(message)
        self.kind = kind


class Intrinsics(NamedTuple):
    """Pinhole intrinsics of the colour camera for an image of ``width`` x ``height`` pixels.
    cx, cy follow ROS/OpenCV: the centre of pixel 0 is at 0 (not 0.5 as in our keypoints)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled_to(self, width: int, height: int) -> "Intrinsics":
        """The same camera for an image resized to width x height (same field of view)."""
        if (width, height) == (self.width, self.height) or not self.width or not self.height:
            return self._replace(width=width, height=height)
        check_same_view((self.width, self.height), (width, height), "camera_info", "colour image")
        sx, sy = width / float(self.width), height / float(self.height)
        # pixel centres: (c + 0.5) * s - 0.5 keeps the principal point on the same spot
        return Intrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                          width, height)


def intrinsics_from_k(k: Sequence[float], width: int, height: int) -> Intrinsics:
    """CameraInfo.k (row-major 3x3) and its image size -> Intrinsics; DepthError if unusable."""
    values = np.asarray(k, np.float64).reshape(-1)
    if values.size != 9 or not np.all(np.isfinite(values)):
        raise DepthError("bad_camera_info", "camera_info K must be 9 finite numbers")
    fx, fy, cx, cy = float(values[0]), float(values[4]), float(values[2]), float(values[5])
    if fx <= 0.0 or fy <= 0.0:
        raise DepthError("bad_camera_info", "camera_info has focal length fx={} fy={} (uncalibrated?)".format(fx, fy))
    if not (MIN_FOCAL_PX <= fx <= MAX_FOCAL_PX and MIN_FOCAL_PX <= fy <= MAX_FOCAL_PX):
        raise DepthError("bad_camera_info", "camera_info has implausible focal length fx={:g} fy={:g} (pixels; "
                         "expected {:g} to {:g})".format(fx, fy, MIN_FOCAL_PX, MAX_FOCAL_PX))
    for name, centre, size in (("cx", cx, int(width)), ("cy", cy, int(height))):
        low, high = (-size, 2 * size) if size > 0 else (-MAX_FOCAL_PX, MAX_FOCAL_PX)
        if not low <= centre <= high:
            raise DepthError("bad_camera_info", "camera_info has implausible principal point {}={:g} for an image "
                             "of {}x{}".format(name, centre, width, height))
    return Intrinsics(fx, fy, cx, cy, int(width), int(height))


def check_same_view(size_a: Tuple[int, int], size_b: Tuple[int, int], name_a: str, name_b: str) -> None:
    """DepthError("size_mismatch") unless the two sizes are scalings of one another."""
    (wa, ha), (wb, hb) = size_a, size_b
    if min(wa, ha, wb, hb) <= 0 or abs(wa * hb - wb * ha) > ASPECT_TOLERANCE * max(wa * hb, wb * ha):
        raise DepthError("size_mismatch", "{} is {}x{} but {} is {}x{}: not the same view scaled, so not "
                         "aligned (register depth to colour)".format(name_a, wa, ha, name_b, wb, hb))


def depth_array(data: Any, width: int, height: int, step: int, encoding: str, is_bigendian: bool = False
                ) -> Tuple[np.ndarray, float]:
    """The raw depth values of a sensor_msgs/Image buffer as an HxW view (no copy when the
    rows are packed), and metres per unit. DepthError for anything that is not a depth image."""
    layout = _DEPTH_BY_LOWER.get(str(encoding).lower())  # without regard to case, as colour encodings
    if layout is None:
        raise DepthError("bad_encoding", "depth encoding {!r} is not supported; use {}".format(
            encoding, " or ".join(sorted(DEPTH_ENCODINGS))))
    dtype, unit = layout
    dtype = np.dtype(dtype).newbyteorder(">" if is_bigendian else "<")
    width, height, step = int(width), int(height), int(step)
    if width <= 0 or height <= 0 or width * height > MAX_DEPTH_PIXELS:
        raise DepthError("bad_depth", "depth image size {}x{} is not usable".format(width, height))
    row_bytes = width * dtype.itemsize
    buffer = np.frombuffer(data, np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8).reshape(-1)
    if step < row_bytes or buffer.size < step * (height - 1) + row_bytes:
        raise DepthError("bad_depth", "depth image data ({} bytes, step {}) too short for {}x{} {}".format(
            buffer.size, step, width, height, encoding))
    if step % dtype.itemsize:
        buffer = np.ascontiguousarray(buffer[:step * height].reshape(height, step)[:, :row_bytes]).reshape(-1)
        step = row_bytes
    rows = np.lib.stride_tricks.as_strided(buffer.view(dtype), shape=(height, width), strides=(step, dtype.itemsize),
                                           writeable=False)
    return rows, unit


class Depth(NamedTuple):
    """One depth image ready for lifting (what a pairing buffer holds)."""

    values: np.ndarray  # HxW raw units (uint16 or float32)
    metres_per_unit: float
    stamp_ns: int


class People3D(NamedTuple):
    """3D of N people with J keypoints, in metres in the camera's optical frame (x right,
    y down, z forward). Invalid entries are NaN and flagged False."""

    points: np.ndarray  # float32 [N, J, 3]
    valid: np.ndarray  # bool [N, J]
    positions: np.ndarray  # float32 [N, 3]: per-axis median of the valid keypoints
    position_valid: np.ndarray  # bool [N]

    @classmethod
    def none(cls, num_people: int, num_joints: int) -> "People3D":
        """No 3D for anyone (depth off or unusable for this frame)."""
        return cls(np.full((num_people, num_joints, 3), np.nan, np.float32), np.zeros((num_people, num_joints), bool),
                   np.full((num_people, 3), np.nan, np.float32), np.zeros((num_people,), bool))


class LiftSettings(NamedTuple):
    window: int = 5  # side of the square depth window (depth-image pixels, odd)
    min_m: float = 0.1  # depths outside [min_m, max_m] are invalid
    max_m: float = 10.0


DEFAULT_LIFT = LiftSettings()


def lift_people(keypoints: np.ndarray, depth: Depth, intrinsics: Intrinsics, image_size: Tuple[int, int],
                settings: LiftSettings = DEFAULT_LIFT) -> People3D:
    """keypoints float32 [N, J, 3] (x, y, score) in continuous pixels of the colour image of
    ``image_size`` (width, height) -> People3D. DepthError when depth, intrinsics and image
    do not describe the same view."""
    width, height = int(image_size[0]), int(image_size[1])
    num_people, num_joints = keypoints.shape[0], keypoints.shape[1]
    if num_people == 0:
        return People3D.none(0, num_joints)
    depth_h, depth_w = depth.values.shape
    check_same_view((depth_w, depth_h), (width, height), "depth image", "colour image")
    camera = intrinsics.scaled_to(width, height)
    flat = keypoints.reshape(-1, 3).astype(np.float64)
    z = window_medians(depth, flat[:, 0] * (depth_w / float(width)), flat[:, 1] * (depth_h / float(height)),
                       settings)
    valid = (flat[:, 2] > 0) & np.isfinite(z)
    z = np.where(valid, z, np.nan)
    # continuous keypoint coordinates -> ROS pixel-centre coordinates (centre of pixel 0 at 0)
    with np.errstate(over="ignore", invalid="ignore"):  # absurd intrinsics: inf, made invalid below
        x = (flat[:, 0] - 0.5 - camera.cx) * z / camera.fx
        y = (flat[:, 1] - 0.5 - camera.cy) * z / camera.fy
        points = np.stack([x, y, z], axis=1).reshape(num_people, num_joints, 3).astype(np.float32)
    # a point is valid only if all of it is finite (also in float32): never publish inf as good
    valid = valid.reshape(num_people, num_joints) & np.isfinite(points).all(axis=2)
    points[~valid] = np.nan
    return People3D(points, valid, *person_positions(points, valid))


def window_medians(depth: Depth, xs: np.ndarray, ys: np.ndarray, settings: LiftSettings) -> np.ndarray:
    """Median of the valid depths (metres) in a window around each continuous depth-image
    position; NaN where the window holds none. One gather for all keypoints at once."""
    height, width = depth.values.shape
    radius = max(int(settings.window), 1) // 2
    offsets = np.arange(-radius, radius + 1)
    # keypoints lie within [0, size] (People.clipped_to_image); the window is clamped at the border
    cols = np.clip(np.floor(np.nan_to_num(xs)).astype(np.int64)[:, None, None] + offsets[None, None, :], 0, width - 1)
    rows = np.clip(np.floor(np.nan_to_num(ys)).astype(np.int64)[:, None, None] + offsets[None, :, None], 0, height - 1)
    samples = depth.values[rows, cols].reshape(len(xs), -1).astype(np.float32) * np.float32(depth.metres_per_unit)
    usable = np.isfinite(samples) & (samples >= settings.min_m) & (samples <= settings.max_m)
    return nan_median(np.where(usable, samples, np.nan), axis=1)


def person_positions(points: np.ndarray, valid: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per person: per-axis median of the valid keypoints (robust to a hand in front of the
    body or a keypoint on the background), and whether there was any."""
    masked = np.where(valid[:, :, None], points, np.nan)
    return nan_median(masked, axis=1).astype(np.float32), valid.any(axis=1)


def nan_median(values: np.ndarray, axis: int) -> np.ndarray:
    """Median along ``axis`` ignoring NaN; NaN where all are NaN. np.nanmedian does the same
    but warns on all-NaN slices and is several times slower on many small slices."""
    ordered = np.sort(values, axis=axis)  # NaN sorts last: the valid values come first
    count = np.expand_dims(np.sum(~np.isnan(values), axis=axis), axis)
    low = np.take_along_axis(ordered, np.maximum(count - 1, 0) // 2, axis=axis)
    high = np.take_along_axis(ordered, count // 2, axis=axis)  # all NaN: index 0, NaN
    return np.squeeze((low + high) / 2.0, axis=axis)


class StampPairer(object):
    """Pairs a colour frame with the depth image closest in stamp within a tolerance.

    Holds the newest ``capacity`` depth images (bounded memory whatever the rates); adding
    and matching are thread-safe (the ROS callback adds, the inference worker matches).
    """

    def __init__(self, tolerance_ns: int, capacity: int = PAIRING_CAPACITY) -> None:
        self.tolerance_ns = int(tolerance_ns)
        self._items = collections.deque(maxlen=max(int(capacity), 1))  # type: collections.deque
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, item: Any) -> None:
        with self._lock:
            self._items.append((int(stamp_ns), item))

    def match(self, stamp_ns: int) -> Optional[Any]:
        """The item closest to ``stamp_ns`` if within the tolerance, else None."""
        with self._lock:
            best = None  # type: Optional[Tuple[int, Any]]
            for stamp, item in self._items:
                gap = abs(stamp - stamp_ns)
                if gap <= self.tolerance_ns and (best is None or gap < best[0]):
                    best = (gap, item)
            return None if best is None else best[1]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# Outcome counters of DepthLifter.lift, in the order diagnostics list them.
OUTCOMES = ("paired", "unpaired", "no_camera_info", "bad_camera_info", "bad_encoding", "bad_depth", "size_mismatch",
            "errors")


class DepthLifter(object):
    """Everything between depth/camera_info messages and People3D, for pose_node and
    `bag analyze` alike: the pairing buffer, the latest camera_info, and a count of every
    outcome (OUTCOMES) with the last problem in words. Thread-safe.

    Depth messages are kept undecoded (any object with sensor_msgs/Image's fields): only
    those that pair with a processed colour frame are ever read.
    """

    def __init__(self, settings: Dict[str, Any], depth_name: str = "depth", info_name: str = "camera_info") -> None:
        """``settings``: the node's depth parameters (settings.parameters.PARAMETERS)."""
        self.pairer = StampPairer(int(round(float(settings["depth_stamp_tolerance"]) * 1e9)))
        self.lift_settings = LiftSettings(int(settings["depth_window"]), float(settings["depth_min"]),
                                          float(settings["depth_max"]))
        self.depth_name, self.info_name = depth_name, info_name
        self._lock = threading.Lock()
        self._camera = None  # type: Optional[Tuple[Intrinsics, str]]  # last good camera_info and its frame
        self._camera_problem = None  # type: Optional[DepthError]  # why the last camera_info was unusable
        self.counts = collections.Counter()  # type: collections.Counter
        self.last_problem = ""
        self.last_ok = True

    def add_depth(self, stamp_ns: int, msg: Any) -> None:
        self.pairer.add(stamp_ns, msg)

    def set_camera_info(self, k: Sequence[float], width: int, height: int, frame_id: str) -> None:
        try:
            camera, problem = (intrinsics_from_k(k, width, height), str(frame_id)), None
        except DepthError as error:
            camera, problem = None, error
        with self._lock:
            self._camera, self._camera_problem = camera, problem

    def lift(self, keypoints: np.ndarray, stamp_ns: int, image_size: Tuple[int, int]
             ) -> Tuple[Optional[People3D], str]:
        """(3D of these people, frame of the 3D) for the colour frame stamped ``stamp_ns``;
        (None, "") when it has none, the reason counted. Never raises."""
        try:
            intrinsics, frame_id = self._intrinsics()
            msg = self.pairer.match(stamp_ns)
            if msg is None:
                raise DepthError("unpaired", "no depth image on {} within {:.3f} s of the colour stamp".format(
                    self.depth_name, self.pairer.tolerance_ns / 1e9))
            values, unit = depth_array(msg.data, msg.width, msg.height, msg.step, msg.encoding, msg.is_bigendian)
            people = lift_people(keypoints, Depth(values, unit, stamp_ns), intrinsics, image_size, self.lift_settings)
        except DepthError as error:
            self._outcome(error.kind, str(error))
            return None, ""
        except Exception as error:  # noqa: B902 - a bug in 3D must not cost the 2D output
            self._outcome("errors", "3D failed: {!r}".format(error))
            return None, ""
        self._outcome("paired", "")
        return people, frame_id

    def _intrinsics(self) -> Tuple[Intrinsics, str]:
        with self._lock:
            if self._camera is not None:
                return self._camera
            if self._camera_problem is not None:
                raise self._camera_problem
        raise DepthError("no_camera_info", "no camera_info received on {}".format(self.info_name))

    def _outcome(self, kind: str, problem: str) -> None:
        with self._lock:
            self.counts[kind] += 1
            self.last_ok = not problem
            if problem:
                self.last_problem = problem

    def snapshot(self) -> Dict[str, Any]:
        """Every outcome count, whether the latest frame got 3D, and the last problem."""
        with self._lock:
            result = {kind: int(self.counts.get(kind, 0)) for kind in OUTCOMES}
            result.update(last_ok=self.last_ok, last_problem=self.last_problem)
            return result
