"""Tracking scenes that look like a bottom-up pose detector's output, with known identities.

Not part of the runtime package: used by bench/bench_tracking_peers.py and test/test_tracking.py.

People are 3D figures (COCO joints, 1.55-1.95 m tall) walking with a gait (legs and arms swing
with the step phase, the knee bends) along random paths on the ground, seen by a level pinhole
camera (640x480, f = 520 px, 1.5 m above the ground). Each frame the detector model then:

- hides joints behind static objects (pillars, tables) and behind nearer people's bodies
  (thick segments between their joints: limbs, torso, neck, head), and joints outside the image;
- adds per-joint jitter that grows as people get small (2 px at 350 px tall, 8 px at 80 px;
  wrists and ankles 1.5x), rare outliers and left/right confusions;
- drops joints: the lower body of a person as a whole, wrists, ankles, knees more than others,
  every joint a little;
- misses people (more when small or mostly hidden) and reports nobody with fewer than 4 joints;
- adds false partial skeletons: fragments at random places, and a person's legs split off as a
  separate "person" (a grouping error), both with low scores;
- hands the people over in random order, at 5, 15 or 30 Hz or at irregular times with gaps.

Scenes are designed to be hard, not to pass: everything is drawn from the seed, nothing from a
tracker's behaviour.
"""
import math
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

WIDTH, HEIGHT = 640, 480
FOCAL_PX = 520.0
CAMERA_HEIGHT_M = 1.5
NUM_JOINTS = 17
START_NS = 1700000000 * 10 ** 9

# Standing joints of a 1.75 m person in their own frame: (forward, lateral (left +), up) metres.
_BODY = np.array([
    (0.09, 0.0, 1.62), (0.07, 0.035, 1.66), (0.07, -0.035, 1.66), (0.0, 0.075, 1.63), (0.0, -0.075, 1.63),
    (0.0, 0.19, 1.43), (0.0, -0.19, 1.43), (0.0, 0.22, 1.12), (0.0, -0.22, 1.12), (0.02, 0.23, 0.84),
    (0.02, -0.23, 0.84), (0.0, 0.11, 0.93), (0.0, -0.11, 0.93), (0.02, 0.11, 0.50), (0.02, -0.11, 0.50),
    (0.0, 0.11, 0.08), (0.0, -0.11, 0.08),
])
LOWER_BODY = np.array([11, 12, 13, 14, 15, 16])
LEGS = np.array([13, 14, 15, 16])
_JITTER_FACTOR = np.array([0.7] * 5 + [1.0] * 4 + [1.5, 1.5] + [1.0] * 4 + [1.5, 1.5])
# chance a joint is not found in a frame, on top of the scene's dropout
_JOINT_DROP = np.array([0.02] * 5 + [0.02, 0.02, 0.08, 0.08, 0.2, 0.2, 0.05, 0.05, 0.1, 0.1, 0.2, 0.2])
_MIRROR = np.array([0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15])


class Person(NamedTuple):
    waypoints: np.ndarray  # [K, 3]: time s, ground x (right +), depth z (metres from the camera)
    height_m: float
    phase: float  # gait phase offset
    arms: float  # arm swing amplitude (radians per m/s)

    def where(self, time_s: float) -> Tuple[np.ndarray, np.ndarray]:
        """Ground position (x, z) and velocity at ``time_s`` (held before the first and after
        the last waypoint)."""
        t, xz = self.waypoints[:, 0], self.waypoints[:, 1:]
        i = int(np.clip(np.searchsorted(t, time_s) - 1, 0, len(t) - 2))
        span = max(t[i + 1] - t[i], 1e-9)
        share = float(np.clip((time_s - t[i]) / span, 0.0, 1.0))
        velocity = (xz[i + 1] - xz[i]) / span if t[i] <= time_s <= t[i + 1] else np.zeros(2)
        return xz[i] + share * (xz[i + 1] - xz[i]), velocity

    def joints(self, time_s: float) -> np.ndarray:
        """[17, 3] world joints (x right, y up, z depth) with the gait at this time."""
        position, velocity = self.where(time_s)
        speed = float(np.hypot(*velocity))
        heading = velocity / speed if speed > 0.05 else np.array([0.0, -1.0])  # still: facing the camera
        left = np.array([-heading[1], heading[0]])
        body = _BODY * (self.height_m / 1.75)
        forward, lateral, up = body[:, 0].copy(), body[:, 1], body[:, 2].copy()
        # gait: step frequency grows with speed; the swing with speed up to a run
        phase = self.phase + 2.0 * math.pi * (0.9 + 0.35 * speed) * time_s
        swing = min(0.35 * speed, 0.7)
        thigh, shin = 0.43 * self.height_m / 1.75, 0.42 * self.height_m / 1.75
        for side, sign in ((0, 1.0), (1, -1.0)):
            angle = sign * swing * math.sin(phase)
            bend = max(0.0, sign * math.sin(phase + 0.6)) * 1.2 * swing
            hip_up = up[11 + side]
            forward[13 + side] = thigh * math.sin(angle)
            up[13 + side] = hip_up - thigh * math.cos(angle)
            forward[15 + side] = forward[13 + side] + shin * math.sin(angle - bend)
            up[15 + side] = up[13 + side] - shin * math.cos(angle - bend)
            arm = -angle * self.arms
            forward[7 + side] = 0.3 * math.sin(arm)
            forward[9 + side] = 0.56 * math.sin(arm) + 0.1 * abs(math.sin(arm))
            up[9 + side] = up[5 + side] - 0.56 * math.cos(arm) - 0.03
        x = position[0] + forward * heading[0] + lateral * left[0]
        z = position[1] + forward * heading[1] + lateral * left[1]
        return np.stack([x, up, z], axis=1)


class Occluder(NamedTuple):
    x_m: float  # centre
    z_m: float  # depth
    width_m: float
    height_m: float  # top above the ground

    def rect(self) -> np.ndarray:
        left, top = project(np.array([[self.x_m - self.width_m / 2, self.height_m, self.z_m]]))[0]
        right, bottom = project(np.array([[self.x_m + self.width_m / 2, 0.0, self.z_m]]))[0]
        return np.array([left, top, right, bottom])


class Noise(NamedTuple):
    jitter: float = 1.0  # x the 2-8 px jitter
    joint_drop: float = 0.03  # every joint, on top of the per-joint rates
    lower_body_drop: float = 0.1  # the whole lower body of a person in a frame
    miss: float = 0.05  # a detectable person not reported
    false_rate: float = 0.03  # false partial skeletons per person per frame
    outliers: float = 0.02  # joints placed far off


DETECTOR = Noise()  # the detector of every scene, unless one says otherwise


class Scene(NamedTuple):
    name: str
    people: Sequence[Person]
    times_s: np.ndarray
    noise: Noise = DETECTOR
    occluders: Sequence[Occluder] = ()
    seed: int = 0


class Frame(NamedTuple):
    stamp_ns: int
    keypoints: np.ndarray  # float32 [N, 17, 3] (x, y, score); score 0 = not found
    scores: np.ndarray  # float32 [N]
    truth: np.ndarray  # int [N]: person index per detection, -1 for false skeletons


def project(points: np.ndarray) -> np.ndarray:
    """World [N, 3] (x, y up, z depth) -> pixels [N, 2]."""
    z = np.maximum(points[:, 2], 0.1)
    u = WIDTH / 2.0 + FOCAL_PX * points[:, 0] / z
    v = HEIGHT / 2.0 - FOCAL_PX * (points[:, 1] - CAMERA_HEIGHT_M) / z
    return np.stack([u, v], axis=1)


def frames(scene: Scene) -> List[Frame]:
    rng = np.random.RandomState(scene.seed)
    rects = [(o.z_m, o.rect()) for o in scene.occluders]
    out = []
    for time_s in scene.times_s:
        views = []  # (depth, person index, pixels [17, 2], visible [17])
        for index, person in enumerate(scene.people):
            world = person.joints(time_s)
            depth = float(np.median(world[:, 2]))
            if depth < 0.8:
                continue
            pixels = project(world)
            visible = (pixels[:, 0] >= 0) & (pixels[:, 0] < WIDTH) & (pixels[:, 1] >= 0) & (pixels[:, 1] < HEIGHT)
            for z, rect in rects:
                if z < depth:
                    visible &= ~_inside(pixels, rect)
            views.append((depth, index, pixels, visible))
        views.sort(key=lambda v: v[0])
        for near in range(len(views)):  # nearer bodies hide what is behind them
            depth, _, pixels, _ = views[near]
            for far in range(near + 1, len(views)):
                if views[far][0] > depth + 0.3:
                    views[far][3][:] &= ~_behind_body(views[far][2], pixels)
        poses, truth = [], []
        for _, index, pixels, visible in views:
            pose = _detect(pixels, visible, scene.noise, rng)
            if pose is not None:
                poses.append(pose)
                truth.append(index)
        poses, truth = _false_skeletons(poses, truth, scene.noise, rng)
        order = rng.permutation(len(poses))
        keypoints = np.array([poses[i] for i in order], np.float32).reshape(-1, NUM_JOINTS, 3)
        found = keypoints[:, :, 2] > 0
        scores = (keypoints[:, :, 2].sum(axis=1) / np.maximum(found.sum(axis=1), 1)
                  * np.sqrt(found.sum(axis=1) / NUM_JOINTS)).astype(np.float32)
        out.append(Frame(START_NS + int(round(time_s * 1e9)), keypoints, scores,
                         np.array([truth[i] for i in order], int)))
    return out


def _inside(pixels: np.ndarray, rect: np.ndarray) -> np.ndarray:
    return ((pixels[:, 0] >= rect[0]) & (pixels[:, 0] <= rect[2]) & (pixels[:, 1] >= rect[1])
            & (pixels[:, 1] <= rect[3]))


# A body's silhouette: thick segments between joints (limbs, torso sides and diagonals, neck)
_BONES = np.array([(5, 7), (7, 9), (6, 8), (8, 10), (11, 13), (13, 15), (12, 14), (14, 16), (5, 6), (11, 12),
                   (5, 11), (6, 12), (5, 12), (6, 11), (0, 5), (0, 6), (3, 4)])
_BONE_WIDTH = np.array([0.07] * 4 + [0.09] * 4 + [0.12] * 6 + [0.1] * 3)  # in body heights


def _behind_body(points: np.ndarray, body: np.ndarray) -> np.ndarray:
    """[N, 2] points hidden by a body whose projected joints are [17, 2]."""
    height = float(body[:, 1].max() - body[:, 1].min())
    a, b = body[_BONES[:, 0]], body[_BONES[:, 1]]  # [B, 2]
    ab = b - a
    share = np.clip((((points[:, None] - a[None]) * ab[None]).sum(axis=2)) / np.maximum((ab ** 2).sum(axis=1), 1e-9),
                    0.0, 1.0)
    nearest = a[None] + share[:, :, None] * ab[None]
    distance = np.sqrt(((points[:, None] - nearest) ** 2).sum(axis=2))
    head = np.sqrt(((points - body[0]) ** 2).sum(axis=1)) < 0.08 * height
    return (distance < 0.5 * _BONE_WIDTH[None] * height).any(axis=1) | head


def _detect(pixels: np.ndarray, visible: np.ndarray, noise: Noise, rng: np.random.RandomState
            ) -> Optional[np.ndarray]:
    """What the detector reports for one person: [17, 3] or None (missed)."""
    height_px = float(pixels[:, 1].max() - pixels[:, 1].min())
    sigma = noise.jitter * (2.0 + 6.0 * np.clip((350.0 - height_px) / 270.0, 0.0, 1.0)) * _JITTER_FACTOR
    found = visible & (rng.uniform(size=NUM_JOINTS) >= _JOINT_DROP + noise.joint_drop)
    if rng.uniform() < noise.lower_body_drop:
        found[LOWER_BODY] = False
    miss = noise.miss + (0.1 if height_px < 100 else 0.0) + (0.2 if visible.mean() < 0.5 else 0.0)
    if found.sum() < 4 or rng.uniform() < miss:
        return None
    xy = pixels + rng.normal(size=(NUM_JOINTS, 2)) * sigma[:, None]
    outliers = rng.uniform(size=NUM_JOINTS) < noise.outliers
    xy[outliers] += rng.normal(0.0, 0.15 * height_px, (int(outliers.sum()), 2))
    if rng.uniform() < 0.02:  # left and right wrists (or ankles) confused
        pair = np.array([9, 10]) if rng.uniform() < 0.5 else np.array([15, 16])
        xy[pair] = xy[pair[::-1]]
    score = np.clip(0.85 - 0.3 * sigma / 8.0 + rng.normal(0.0, 0.08, NUM_JOINTS), 0.12, 1.0)
    pose = np.zeros((NUM_JOINTS, 3))
    pose[:, :2] = xy
    pose[:, 2] = np.where(found, score, 0.0)
    return pose


def _false_skeletons(poses: List[np.ndarray], truth: List[int], noise: Noise, rng: np.random.RandomState
                     ) -> Tuple[List[np.ndarray], List[int]]:
    poses, truth = list(poses), list(truth)
    for _ in range(rng.poisson(noise.false_rate * max(len(poses), 1))):
        pose = np.zeros((NUM_JOINTS, 3))
        real = [i for i, t in enumerate(truth) if t >= 0 and (poses[i][LEGS, 2] > 0).sum() >= 3]
        if real and rng.uniform() < 0.5:  # a grouping error: a person's legs as a person of their own
            source = poses[real[rng.randint(len(real))]]
            pose[LEGS] = source[LEGS]
            pose[LEGS, 2] *= 0.6
            source[LEGS, 2] = 0.0
        else:  # a fragment somewhere: 3-7 joints of a figure of random size
            height = rng.uniform(60.0, 300.0)
            centre = rng.uniform((0.0, 0.0), (WIDTH, HEIGHT))
            template = np.stack([_BODY[:, 1], 0.9 - _BODY[:, 2]], axis=1) / 1.75 * height
            joints = rng.choice(NUM_JOINTS, rng.randint(3, 8), replace=False)
            pose[joints, :2] = centre + template[joints] + rng.normal(0.0, 4.0, (len(joints), 2))
            pose[joints, 2] = rng.uniform(0.12, 0.5, len(joints))
        poses.append(pose)
        truth.append(-1)
    return poses, truth


# -- timing --------------------------------------------------------------------------------------

def steady(duration_s: float, rate_hz: float) -> np.ndarray:
    return np.arange(0.0, duration_s, 1.0 / rate_hz)


def irregular(duration_s: float, seed: int, gaps: int = 3) -> np.ndarray:
    """Periods drawn from 1/30 to 1/5 s, a new rate every second, and ``gaps`` 0.5 s gaps."""
    rng = np.random.RandomState(seed + 77)
    times, t = [], 0.0
    gap_at = set(rng.choice(int(duration_s) - 2, gaps, replace=False) + 1)
    while t < duration_s:
        rate = rng.uniform(5.0, 30.0)
        second = int(t)
        while t < second + 1 and t < duration_s:
            times.append(t)
            t += 1.0 / rate * rng.uniform(0.8, 1.2)
        if second in gap_at:
            t += 0.5
    return np.array(times)


# -- people --------------------------------------------------------------------------------------

def walker(rng: np.random.RandomState, duration_s: float, speed: Tuple[float, float] = (0.7, 1.6),
           x_range: Tuple[float, float] = (-4.5, 4.5), z_range: Tuple[float, float] = (2.5, 11.0),
           pauses: bool = True) -> Person:
    """A person walking between random points in view, now and then standing for a while."""
    def somewhere() -> np.ndarray:  # in view (the view is a wedge: paths between such points stay in it)
        z = rng.uniform(*z_range)
        return np.array([np.clip(rng.uniform(*x_range), -0.5 * z, 0.5 * z), z])

    t = 0.0
    xz = somewhere()
    points = [(t, xz[0], xz[1])]
    while t < duration_s:
        if pauses and rng.uniform() < 0.2:
            t += rng.uniform(0.5, 3.0)
        else:
            target = somewhere()
            t += float(np.hypot(*(target - xz))) / rng.uniform(*speed)
            xz = target
        points.append((t, xz[0], xz[1]))
    return _person(rng, points)


def crossing(rng: np.random.RandomState, start_s: float, x_from: float, x_to: float, z: float, speed: float
             ) -> Person:
    """Walks (or runs) straight across the view at depth ``z``, from outside to outside."""
    z_end = z + rng.uniform(-0.5, 0.5)
    travel = abs(x_to - x_from) / speed
    return _person(rng, [(start_s, x_from, z), (start_s + travel, x_to, z_end)])


def standing(rng: np.random.RandomState, x: float, z: float) -> Person:
    return _person(rng, [(0.0, x, z), (1e6, x + 0.01, z)])


def _person(rng: np.random.RandomState, points: Sequence[Tuple[float, float, float]]) -> Person:
    return Person(np.array(points, float), rng.uniform(1.55, 1.95), rng.uniform(0.0, 2 * math.pi),
                  rng.uniform(0.6, 1.2))


# -- the scenes ----------------------------------------------------------------------------------

def scenes(seed: int) -> List[Scene]:
    """Every scene of the bench for one seed (different people, paths and noise per seed)."""
    rng = np.random.RandomState(seed)
    made = []

    def add(name: str, people: Sequence[Person], times: np.ndarray, noise: Noise = DETECTOR,
            occluders: Sequence[Occluder] = ()) -> None:
        made.append(Scene(name, list(people), times, noise, list(occluders), seed * 1000 + len(made)))

    duration = 15.0
    for rate in (5, 15, 30):
        add("walking, {} Hz".format(rate), [walker(rng, duration) for _ in range(6)], steady(duration, rate))
    add("irregular 5-30 Hz, 0.5 s gaps", [walker(rng, duration) for _ in range(6)], irregular(duration, seed))
    add("jitter x1.5, 10 % joints dropped", [walker(rng, duration) for _ in range(6)], steady(duration, 15),
        Noise(jitter=1.5, joint_drop=0.1))
    add("lower body missing in 50 % of frames", [walker(rng, duration) for _ in range(6)], steady(duration, 15),
        Noise(lower_body_drop=0.5))
    add("20 % people missed, 8 % false skeletons", [walker(rng, duration) for _ in range(6)], steady(duration, 15),
        Noise(miss=0.2, false_rate=0.08))
    still = [standing(rng, rng.uniform(-1.0, 1.0), 7.0)]
    passers = [crossing(rng, start, side * -4.0, side * 4.0, rng.uniform(3.0, 5.0), rng.uniform(0.8, 1.5))
               for start, side in zip(np.arange(0.5, 19.0, 2.5), (1, -1) * 4)]
    add("still 20 s, walkers in front", still + passers, steady(20.0, 15))
    occluders = [Occluder(-1.5, 4.0, 0.5, 3.0), Occluder(1.8, 5.0, 0.6, 3.0), Occluder(0.0, 3.5, 1.6, 0.9)]
    add("pillars and a table", [walker(rng, duration, z_range=(4.5, 10.0)) for _ in range(6)],
        steady(duration, 15), occluders=occluders)
    edge = [crossing(rng, rng.uniform(0.0, 12.0), side * -3.5, side * 3.5, rng.uniform(2.2, 4.0),
                     rng.uniform(0.8, 1.6)) for side in (1, -1) * 6]
    add("entering and leaving at the edges", edge, steady(duration, 15))
    for rate in (5, 15):
        fast = [crossing(rng, rng.uniform(0.0, 10.0), side * -5.0, side * 5.0, rng.uniform(3.0, 6.0),
                         rng.uniform(3.0, 4.5)) for side in (1, -1, 1, -1, 1)]
        add("fast lateral motion, {} Hz".format(rate), fast + [walker(rng, duration) for _ in range(2)],
            steady(duration, rate))
    crowd = [walker(rng, 10.0, x_range=(-3.0, 3.0), z_range=(3.5, 9.0)) for _ in range(15)]
    add("crowd of 15, 15 Hz", crowd, steady(10.0, 15))
    crowd = [walker(rng, 10.0, x_range=(-3.5, 3.5), z_range=(3.5, 10.0)) for _ in range(20)]
    add("crowd of 20, 5 Hz", crowd, steady(10.0, 5))
    return made


def identities(scene_frames: Sequence[Frame]) -> Dict[int, int]:
    """Detections per person over a scene (a check that a scene has the people it says)."""
    counts: Dict[int, int] = {}
    for frame in scene_frames:
        for t in frame.truth.tolist():
            if t >= 0:
                counts[t] = counts.get(t, 0) + 1
    return counts
