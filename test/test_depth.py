"""litepose_ros.depth.lift against synthetic RGB-D scenes whose 3D truth is known.

A "person" is a set of 3D joints at a chosen distance in front of a wall; the joints are
projected with the intrinsics to colour pixels (our continuous convention), and a depth image
is rendered with each joint's body patch at its own depth and the wall behind. Lifting must give
the joints back within 1 % of the distance (or 1 cm), in both encodings, at full and half
resolution; holes and out-of-range depth must give "no 3D", never a point at 0 m.
"""
import numpy as np
import pytest

from litepose_ros.depth.lift import (
    Depth,
    DepthError,
    DepthLifter,
    Intrinsics,
    LiftSettings,
    StampPairer,
    depth_array,
    intrinsics_from_k,
    lift_people,
)

WIDTH, HEIGHT = 640, 480
CAMERA = Intrinsics(fx=525.0, fy=530.0, cx=318.7, cy=241.2, width=WIDTH, height=HEIGHT)
WALL_BEHIND_M = 1.5
PATCH_PX = 8  # half side of each joint's body patch, colour pixels (covers the 5x5 window)


def person_joints(distance: float, num_joints: int = 17) -> np.ndarray:
    """[J, 3] body points at ``distance`` spread over the view (at 0.5 m that is a torso,
    at 8 m a whole person and more), at depths up to 12 cm apart like nose vs shoulders."""
    rng = np.random.RandomState(int(distance * 100))
    x = distance * rng.uniform(-0.45, 0.45, num_joints)
    y = distance * np.linspace(-0.35, 0.35, num_joints)  # >= 20 px apart: patches never overlap
    z = distance + rng.uniform(-0.06, 0.06, num_joints)
    return np.stack([x * z / distance, y * z / distance, z], axis=1)


def project(points: np.ndarray, camera: Intrinsics = CAMERA) -> np.ndarray:
    """3D -> continuous pixel coordinates (centre of pixel 0 at 0.5)."""
    u = camera.fx * points[:, 0] / points[:, 2] + camera.cx + 0.5
    v = camera.fy * points[:, 1] / points[:, 2] + camera.cy + 0.5
    return np.stack([u, v], axis=1)


def render_depth(joints: np.ndarray, width: int, height: int) -> np.ndarray:
    """Metres, HxW for a depth camera registered to the colour one at width x height."""
    camera = CAMERA.scaled_to(width, height)
    depth = np.full((height, width), float(np.mean(joints[:, 2])) + WALL_BEHIND_M, np.float64)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    for (u, v), z in zip(project(joints, camera), joints[:, 2]):
        half = PATCH_PX * width / float(WIDTH)
        depth[(abs(xs - u) < half) & (abs(ys - v) < half)] = z
    return depth


def encode(metres: np.ndarray, encoding: str, pad: int = 0) -> Depth:
    """Through the wire format: the bytes a driver would publish (rows padded by ``pad``)."""
    if encoding == "16UC1":
        raw = np.where(np.isfinite(metres), np.round(metres * 1000.0), 0).astype("<u2")
    else:
        raw = metres.astype("<f4")
    height, width = raw.shape
    step = width * raw.itemsize + pad
    buffer = np.zeros((height, step), np.uint8)
    buffer[:, :width * raw.itemsize] = raw.view(np.uint8).reshape(height, -1)
    values, unit = depth_array(buffer.tobytes(), width, height, step, encoding)
    return Depth(values, unit, 0)


def keypoints_for(joints: np.ndarray) -> np.ndarray:
    uv = project(joints)
    return np.concatenate([uv, np.full((len(joints), 1), 0.8)], axis=1)[None].astype(np.float32)


def assert_close(found: np.ndarray, truth: np.ndarray) -> None:
    tolerance = np.maximum(0.01 * truth[..., 2:3], 0.01)
    error = np.abs(found - truth)
    assert np.all(error <= tolerance), "worst error {:.4f} m".format(float(error.max()))


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
@pytest.mark.parametrize("scale", [1, 2], ids=["full", "half"])
@pytest.mark.parametrize("distance", [0.5, 1.0, 2.5, 5.0, 8.0])
def test_person_in_front_of_a_wall_comes_back_in_3d(encoding, scale, distance):
    joints = person_joints(distance)
    depth = encode(render_depth(joints, WIDTH // scale, HEIGHT // scale), encoding, pad=6)
    result = lift_people(keypoints_for(joints), depth, CAMERA, (WIDTH, HEIGHT), LiftSettings(5, 0.1, 10.0))
    assert result.valid.all()
    assert_close(result.points[0].astype(np.float64), joints)
    assert result.position_valid[0]
    assert_close(result.positions[0].astype(np.float64), np.median(joints, axis=0))


@pytest.mark.parametrize("encoding", ["16UC1", "32FC1"])
def test_holes_and_out_of_range_give_no_3d_never_zero(encoding):
    joints = person_joints(3.0)
    metres = render_depth(joints, WIDTH, HEIGHT)
    uv = project(joints)
    hole = np.nan if encoding == "32FC1" else 0.0
    holes = {2: hole, 7: 12.0, 11: 0.05}  # missing, beyond depth_max, nearer than depth_min
    for joint, value in holes.items():
        col, row = int(uv[joint, 0]), int(uv[joint, 1])
        metres[row - 8:row + 9, col - 8:col + 9] = value
    keypoints = keypoints_for(joints)
    keypoints[0, 4, 2] = 0.0  # not found by the model: no 3D either, though depth is there
    result = lift_people(keypoints, encode(metres, encoding), CAMERA, (WIDTH, HEIGHT), LiftSettings(5, 0.1, 10.0))
    invalid = sorted(holes) + [4]
    assert sorted(np.nonzero(~result.valid[0])[0].tolist()) == sorted(invalid)
    assert np.isnan(result.points[0, invalid]).all(), "invalid keypoints must be NaN, not 0 m"
    ok = result.valid[0]
    assert_close(result.points[0, ok].astype(np.float64), joints[ok])
    assert (result.points[0, ok, 2] > 2.8).all()


def test_partial_hole_uses_the_valid_depths_of_the_window():
    joints = person_joints(2.0)
    metres = render_depth(joints, WIDTH, HEIGHT)
    col, row = (int(c) for c in project(joints)[3])
    metres[row - 2:row + 3, col - 2:col + 1] = 0.0  # 15 of the 25 window pixels lost
    result = lift_people(keypoints_for(joints), encode(metres, "16UC1"), CAMERA, (WIDTH, HEIGHT))
    assert result.valid[0, 3]
    assert_close(result.points[0, 3:4].astype(np.float64), joints[3:4])


def test_person_without_any_depth_has_no_position_and_others_keep_theirs():
    near, far = person_joints(1.5), person_joints(4.0)
    near[:, 0] -= 0.6
    metres = np.minimum(render_depth(near, WIDTH, HEIGHT), render_depth(far, WIDTH, HEIGHT))
    keypoints = np.concatenate([keypoints_for(near), keypoints_for(far)])
    keypoints[1, :, 2] = 0.0
    result = lift_people(keypoints, encode(metres, "32FC1"), CAMERA, (WIDTH, HEIGHT))
    assert result.position_valid.tolist() == [True, False]
    assert np.isnan(result.positions[1]).all()
    assert_close(result.positions[0].astype(np.float64), np.median(near, axis=0))


def test_camera_info_at_another_resolution_is_scaled():
    joints = person_joints(2.0)
    depth = encode(render_depth(joints, WIDTH, HEIGHT), "16UC1")
    # the same camera calibrated at 1280x960 (pixel-centre convention kept)
    big = Intrinsics(CAMERA.fx * 2, CAMERA.fy * 2, (CAMERA.cx + 0.5) * 2 - 0.5, (CAMERA.cy + 0.5) * 2 - 0.5, 1280, 960)
    result = lift_people(keypoints_for(joints), depth, big, (WIDTH, HEIGHT))
    assert_close(result.points[0].astype(np.float64), joints)


def test_depth_of_another_view_is_a_size_mismatch():
    depth = encode(np.full((360, 640), 2.0), "16UC1")
    with pytest.raises(DepthError) as error:
        lift_people(keypoints_for(person_joints(2.0)), depth, CAMERA, (WIDTH, HEIGHT))
    assert error.value.kind == "size_mismatch" and "640x360" in str(error.value)


@pytest.mark.parametrize("k, reason", [
    ([0, 0, 320, 0, 0, 240, 0, 0, 1], "focal length"),
    ([525, 0, 320, 0, float("nan"), 240, 0, 0, 1], "finite"),
    ([525, 0, 320], "9 finite"),
    ([525, 0, 1e308, 0, 530, 240, 0, 0, 1], "implausible principal point cx=1e+308"),  # issue 22 item 8
    ([525, 0, 320, 0, 530, -5000, 0, 0, 1], "implausible principal point cy=-5000"),
    ([1e-30, 0, 320, 0, 530, 240, 0, 0, 1], "implausible focal length fx=1e-30"),
    ([525, 0, 320, 0, 1e9, 240, 0, 0, 1], "implausible focal length fx=525 fy=1e+09"),
])
def test_unusable_camera_info(k, reason):
    with pytest.raises(DepthError) as error:
        intrinsics_from_k(k, WIDTH, HEIGHT)
    assert error.value.kind == "bad_camera_info" and reason in str(error.value)


def test_points_that_overflow_are_invalid_never_inf():
    """Issue 22 item 8: whatever intrinsics reach the lift, a valid point is finite."""
    joints = person_joints(2.0)
    depth = encode(render_depth(joints, WIDTH, HEIGHT), "32FC1")
    absurd = CAMERA._replace(fx=1e-40, cx=-1e308)
    with np.errstate(all="raise"):  # no floating point warnings either
        result = lift_people(keypoints_for(joints), depth, absurd, (WIDTH, HEIGHT))
    assert not result.valid.any() and not result.position_valid.any()
    assert np.isnan(result.points).all() and np.isnan(result.positions).all()


@pytest.mark.parametrize("encoding", ["16uc1", "MONO16", "32fc1"])
def test_depth_encodings_match_without_regard_to_case(encoding):
    """Issue 22 item 14: as colour encodings do."""
    values, unit = depth_array(bytes(8 * 4 * 4), 4, 4, 16, encoding)
    assert values.shape == (4, 4) and unit == (1.0 if encoding.lower() == "32fc1" else 0.001)


def test_depth_buffers_are_checked():
    with pytest.raises(DepthError) as error:
        depth_array(bytes(640 * 480 * 3), 640, 480, 640 * 3, "bgr8")
    assert error.value.kind == "bad_encoding" and "16UC1" in str(error.value)
    with pytest.raises(DepthError) as error:
        depth_array(bytes(1000), 640, 480, 1280, "16UC1")
    assert error.value.kind == "bad_depth"
    big_endian = np.array([[1000, 2500]], ">u2").tobytes()
    values, unit = depth_array(big_endian, 2, 1, 4, "16UC1", is_bigendian=True)
    assert (values * unit).tolist() == [[1.0, 2.5]]


def test_stamp_pairer_takes_the_closest_within_tolerance_and_forgets_the_oldest():
    pairer = StampPairer(tolerance_ns=10, capacity=3)
    for stamp in (100, 133, 166, 200):
        pairer.add(stamp, "depth@{}".format(stamp))
    assert len(pairer) == 3
    assert pairer.match(105) is None, "100 was dropped (capacity 3)"
    assert pairer.match(140) == "depth@133"
    assert pairer.match(195) == "depth@200"
    assert pairer.match(150) is None, "17 ns from the nearest: outside the tolerance"


class _DepthMsg(object):
    """The sensor_msgs/Image fields DepthLifter reads."""

    def __init__(self, depth: Depth, encoding: str = "32FC1") -> None:
        values = np.ascontiguousarray(depth.values, "<f4") * depth.metres_per_unit
        self.data, self.height, self.width = values.tobytes(), values.shape[0], values.shape[1]
        self.step, self.encoding, self.is_bigendian = values.shape[1] * 4, encoding, 0


def test_lifter_counts_every_outcome_and_never_raises():
    settings = {"depth_stamp_tolerance": 0.01, "depth_window": 5, "depth_min": 0.1, "depth_max": 10.0}
    lifter = DepthLifter(settings, "/depth", "/info")
    joints = person_joints(2.0)
    keypoints = keypoints_for(joints)
    assert lifter.lift(keypoints, 0, (WIDTH, HEIGHT)) == (None, "")
    assert lifter.snapshot()["no_camera_info"] == 1 and "no camera_info received on /info" in lifter.last_problem
    lifter.set_camera_info([0, 0, 320, 0, 0, 240, 0, 0, 1], WIDTH, HEIGHT, "optical")
    assert lifter.lift(keypoints, 0, (WIDTH, HEIGHT))[0] is None and lifter.snapshot()["bad_camera_info"] == 1
    lifter.set_camera_info([CAMERA.fx, 0, CAMERA.cx, 0, CAMERA.fy, CAMERA.cy, 0, 0, 1], WIDTH, HEIGHT, "optical")
    lifter.add_depth(1000000000, _DepthMsg(encode(render_depth(joints, WIDTH // 2, HEIGHT // 2), "32FC1")))
    assert lifter.lift(keypoints, 1020000000, (WIDTH, HEIGHT))[0] is None, "20 ms off, tolerance 10 ms"
    positions, frame_id = lifter.lift(keypoints, 1005000000, (WIDTH, HEIGHT))
    assert frame_id == "optical"
    assert_close(positions.points[0].astype(np.float64), joints)
    lifter.add_depth(2000000000, _DepthMsg(encode(np.full((10, 10), 2.0), "32FC1"), encoding="rgb8"))
    assert lifter.lift(keypoints, 2000000000, (WIDTH, HEIGHT))[0] is None
    snap = lifter.snapshot()
    assert (snap["unpaired"], snap["paired"], snap["bad_encoding"], snap["last_ok"]) == (1, 1, 1, False)
