"""Runtime decoder: LitePose bottom-up outputs (heatmaps + associative-embedding tags) to people.

Same people as the official algorithm (``reference.decode_reference``), computed with
vectorised numpy / OpenCV / scipy, and only where they are read: the stride-2 heatmaps are
whole, but peaks are searched in the box where a heatmap can exceed the threshold, tags are
resized around the peaks only, and whole projected maps are built only for the joints the
refine step scans. Runs on Python 3.6 and numpy 1.19 (Jetson Nano): keep the syntax and the
numpy API that old, and never import torch here.
"""
from typing import Dict, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..people import People
from .config import DecoderConfig
from .dense import crop_resize_is_exact, resize2x_window, resize_map
from .matching import matching_cost

Outputs = Sequence[np.ndarray]


# ----------------------------------------------------------------------------- dense maps
def _check_outputs(outputs: Outputs, num_joints: int, name: str) -> Tuple[np.ndarray, np.ndarray]:
    if len(outputs) != 2:
        raise ValueError("{}: expected (stage1, stage2), got {} arrays".format(name, len(outputs)))
    stage1, stage2 = (np.asarray(o, dtype=np.float32) for o in outputs)
    j = num_joints
    if stage1.ndim != 4 or stage2.ndim != 4 or stage1.shape[0] != 1 or stage2.shape[0] != 1:
        raise ValueError("{}: expected 4-D batch-1 arrays, got {} and {}".format(name, stage1.shape, stage2.shape))
    if stage1.shape[1] != 2 * j or stage2.shape[1] != j:
        raise ValueError(
            "{}: expected {} and {} channels for {} joints, got {} and {}".format(
                name, 2 * j, j, j, stage1.shape[1], stage2.shape[1])
        )
    if stage2.shape[2:] != (stage1.shape[2] * 2, stage1.shape[3] * 2):
        raise ValueError("{}: stage2 {} is not twice stage1 {}".format(name, stage2.shape[2:], stage1.shape[2:]))
    return stage1[0], stage2[0]


Box = Tuple[int, int, int, int]  # y0, y1, x0, x1: rows and columns [y0, y1) x [x0, x1)

# Beyond this share of the map, whole maps are cheaper than windows.
_MAX_WINDOW_SHARE = 0.5


class _Maps(object):
    """The official inference's heatmaps and tags at the grouping resolution, bit for bit the
    reference's (same resize, ``dense.resize_map``, same order of operations), computed only
    where they are read.

    The stage-2 resolution heatmaps (both stages averaged) are always whole: they are the
    grouping heatmaps at stride 2 and bound them when projecting to the input size. Anything
    else, the projected heatmaps and the tags, comes as windows (``dense.resize2x_window``),
    whole maps only for the joints the refine step scans. The flipped outputs are mirrored at
    stage-2 size, before the projection, as the reference does (bilinear resizing is not
    mirror-symmetric to the bit).
    """

    def __init__(self, outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs]) -> None:
        j = config.num_joints
        self.num_joints = j
        self._stages = [_check_outputs(outputs, j, "outputs")]
        if flipped_outputs is not None:
            self._stages.append(_check_outputs(flipped_outputs, j, "flipped_outputs"))
        self.tag_dim = len(self._stages)
        self._flip = list(config.flip_index)
        self.project = config.project_to_input
        h, w = self._stages[0][1].shape[1:]
        self.base_size = (h, w)
        self.size = (2 * h, 2 * w) if self.project else (h, w)
        half = np.float32(0.5)
        self._stage_heat = []
        mid = np.empty((h, w), np.float32)
        for i, (stage1, stage2) in enumerate(self._stages):
            heat = np.empty((j, h, w), np.float32)
            for c in range(j):
                src = self._flip[c] if i == 1 else c
                dst = mid if i == 1 else heat[c]
                resize_map(stage1[src], h, w, dst)
                np.add(dst, stage2[src], out=dst)
                dst *= half  # exact halving, same as the reference's / 2
                if i == 1:
                    heat[c] = dst[:, ::-1]
            self._stage_heat.append(heat)
        heats = self._stage_heat
        self.base = heats[0] if len(heats) == 1 else (heats[0] + heats[1]) / 2.0
        self.sparse = crop_resize_is_exact()
        # whole maps at the grouping resolution, channel by channel as needed
        self._heat_all: Optional[np.ndarray] = None  # [J, H, W]
        self._tags_all: Optional[np.ndarray] = None  # [L, J, H, W]
        self._full_heat: Set[int] = set()
        self._full_tags: Set[int] = set()
        self.windows: Dict[int, Tuple[Box, np.ndarray]] = {}  # projected heatmap windows with peaks

    # -- heatmaps
    def heat(self, c: int, box: Box) -> np.ndarray:
        """Joint ``c``'s heatmap over ``box`` (a view where possible: do not write)."""
        y0, y1, x0, x1 = box
        if not self.project:
            return self.base[c, y0:y1, x0:x1]
        if c in self._full_heat or not self.sparse or box == (0, self.size[0], 0, self.size[1]):
            return self.full_heat(c)[y0:y1, x0:x1]
        return self._projected_heat(c, box)

    def _projected_heat(self, c: int, box: Box, out: Optional[np.ndarray] = None) -> np.ndarray:
        h, w = self.base_size
        windows = [resize2x_window(lambda a, b, d, e, m=m: m[c, a:b, d:e], h, w, *box, out=out if i == 0 else None)
                   for i, m in enumerate(self._stage_heat)]
        if len(windows) == 1:
            return windows[0]
        total = np.add(windows[0], windows[1], out=out)
        total /= np.float32(2)  # the reference's (a + b) / 2, exactly
        return total

    def full_heat(self, c: int) -> np.ndarray:
        if not self.project:
            return self.base[c]
        return self.heat_maps([c])[c]

    def heat_maps(self, channels: Sequence[int]) -> np.ndarray:
        """[J, H, W] heatmaps at the grouping resolution, whole for ``channels`` (others unset)."""
        if not self.project:
            return self.base
        if self._heat_all is None:
            self._heat_all = np.empty((self.num_joints,) + self.size, np.float32)
        for c in channels:
            if c not in self._full_heat:
                self._projected_heat(c, (0, self.size[0], 0, self.size[1]), self._heat_all[c])
                self._full_heat.add(c)
        return self._heat_all

    # -- tags
    def _stage_tags(self, i: int, c: int, y0: int, y1: int, x0: int, x1: int,
                    out: Optional[np.ndarray] = None) -> np.ndarray:
        """Stage ``i``'s tags of joint ``c`` at stage-2 size over a box (mirrored for the flip)."""
        stage1 = self._stages[i][0]
        src = self.num_joints + (self._flip[c] if i == 1 else c)
        h, w = self.base_size
        if i == 0:
            return resize2x_window(lambda a, b, d, e: stage1[src, a:b, d:e], h // 2, w // 2, y0, y1, x0, x1, out)
        window = resize2x_window(lambda a, b, d, e: stage1[src, a:b, d:e], h // 2, w // 2, y0, y1, w - x1, w - x0)
        if out is None:
            return window[:, ::-1]
        out[...] = window[:, ::-1]
        return out

    def _tags(self, c: int, box: Box, out: Optional[np.ndarray] = None) -> np.ndarray:
        """[L, h, w] tags of joint ``c`` over ``box``, into ``out`` if given."""
        h, w = self.base_size
        if out is None:
            out = np.empty((self.tag_dim, box[1] - box[0], box[3] - box[2]), np.float32)
        for i in range(self.tag_dim):
            if self.project:
                resize2x_window(lambda a, b, d, e, i=i: self._stage_tags(i, c, a, b, d, e), h, w, *box, out=out[i])
            else:
                self._stage_tags(i, c, *box, out=out[i])
        return out

    def full_tags(self, c: int) -> np.ndarray:
        """[L, H, W]"""
        return self.tag_maps([c])[:, c]

    def tag_maps(self, channels: Sequence[int]) -> np.ndarray:
        """[L, J, H, W] tags at the grouping resolution, whole for ``channels`` (others unset)."""
        if self._tags_all is None:
            self._tags_all = np.empty((self.tag_dim, self.num_joints) + self.size, np.float32)
        for c in channels:
            if c not in self._full_tags:
                self._tags(c, (0, self.size[0], 0, self.size[1]), self._tags_all[:, c])
                self._full_tags.add(c)
        return self._tags_all

    def tags_at(self, c: int, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """[n, L] tags of joint ``c`` at pixels (ys, xs)."""
        box = _bounding_box(ys, xs)
        area = (box[1] - box[0]) * (box[3] - box[2])
        if c in self._full_tags or not self.sparse or area > _MAX_WINDOW_SHARE * self.size[0] * self.size[1]:
            return self.full_tags(c)[:, ys, xs].T
        return self._tags(c, box)[:, ys - box[0], xs - box[2]].T

    # -- where peaks can be
    def peak_box(self, c: int, threshold: float, pad: int) -> Tuple[Optional[Box], Optional[np.ndarray]]:
        """A box at the grouping resolution that holds every pixel of joint ``c`` above
        ``threshold`` and ``pad`` more pixels around them inside the map (what max-pool NMS
        reads), or None when no pixel is above the threshold; and when the box is the whole
        stride-2 map, the flat indices of those pixels."""
        base = self.base[c]
        if self.project:
            # A projected pixel is a convex combination of stage-2 pixels, exact up to a few
            # float32 roundings of the stage values: it exceeds the threshold only next to a
            # stage-2 pixel above the threshold less that rounding.
            scale = max(max(abs(v) for v in cv2.minMaxLoc(m[c])[:2]) for m in self._stage_heat)
            above = np.flatnonzero(base > threshold - 8 * np.finfo(np.float32).eps * max(scale, abs(threshold)))
        else:
            above = np.flatnonzero(base > threshold)
        if len(above) == 0:
            return None, None
        height, width = self.size
        full = (0, height, 0, width)
        known = None if self.project else above
        if not self.sparse:
            return full, known
        w = self.base_size[1]
        scale, grow = (2, 1) if self.project else (1, 0)  # a projected pixel reads stage-2 pixels +-1
        y0 = max(scale * (int(above[0]) // w) - grow - pad, 0)
        y1 = min(scale * (int(above[-1]) // w + 1) + grow + pad, height)
        if y1 - y0 > _MAX_WINDOW_SHARE * height:  # spread out: whole maps are cheaper
            return full, known
        columns = above % w
        x0 = max(scale * int(columns.min()) - grow - pad, 0)
        x1 = min(scale * (int(columns.max()) + 1) + grow + pad, width)
        if (y1 - y0) * (x1 - x0) > _MAX_WINDOW_SHARE * height * width:
            return full, known
        return (y0, y1, x0, x1), None


def _bounding_box(ys: np.ndarray, xs: np.ndarray) -> Box:
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _float32_floor(value: float) -> np.float32:
    """Largest float32 <= value, so float32 ``x > result`` equals float64 ``x > value``."""
    low = np.float32(value)
    if float(low) > value:
        low = np.nextafter(low, np.float32(-np.inf))
    return low


def _nms_peaks(heat: np.ndarray, threshold: np.float32, element: np.ndarray,
               above: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Flat indices and values of the pixels of C-contiguous ``heat`` above ``threshold``
    (``above``, when known) that equal the max of their neighbourhood (max-pool NMS: the
    replicated border of cv2.dilate equals -inf padding because the edge pixel is always
    inside its own window)."""
    ind = np.flatnonzero(heat > threshold) if above is None else above
    pooled = cv2.dilate(heat, element, borderType=cv2.BORDER_REPLICATE)
    values = heat.ravel()[ind]
    peak = pooled.ravel()[ind] == values
    return ind[peak], values[peak]


class _Candidates(object):
    """Per joint: NMS peaks above threshold, best first (ties by index), at most max_num_people,
    looked for in the box where the heatmap can exceed the threshold (``_Maps.peak_box``)."""

    def __init__(self, maps: _Maps, config: DecoderConfig) -> None:
        threshold = _float32_floor(config.detection_threshold)
        self.joints: List[np.ndarray] = []  # float64 rows: x, y, value, tags...
        self.tags: List[np.ndarray] = []  # float32 [n, L]
        element = np.ones((config.nms_kernel, config.nms_kernel), np.uint8)
        for c in range(maps.num_joints):
            box, above = maps.peak_box(c, threshold, max(config.nms_kernel // 2, 1))  # +-1 for the offsets
            y = x = np.zeros(0, np.int64)
            if box is not None:
                heat = np.ascontiguousarray(maps.heat(c, box))
                ind, value = _nms_peaks(heat, threshold, element, above)
                y, x = ind // heat.shape[1], ind % heat.shape[1]
            if len(y) == 0:
                self.joints.append(np.zeros((0, 3 + maps.tag_dim)))
                self.tags.append(np.zeros((0, maps.tag_dim), np.float32))
                continue
            # row-major order already: a stable sort keeps index order among equal values
            order = np.argsort(-value, kind="mergesort")[: config.max_num_people]
            y, x, value = y[order], x[order], value[order]
            tag = np.ascontiguousarray(maps.tags_at(c, y + box[0], x + box[2]))
            if maps.project:
                maps.windows[c] = (box, heat)  # the adjust step reads the peaks' neighbours there
            self.tags.append(tag)
            self.joints.append(np.column_stack((x + box[2], y + box[0], value, tag)).astype(np.float64))

    def __bool__(self) -> bool:
        return any(len(joints) for joints in self.joints)

    __nonzero__ = __bool__


# ----------------------------------------------------------------------------- grouping
class _Groups(object):
    """People under construction, in the reference's order: keyed by the first tag value of the
    joint that started them (a later joint with the same first tag value lands in that person)."""

    def __init__(self, num_joints: int, tag_dim: int, capacity: int) -> None:
        self.joints = np.zeros((capacity, num_joints, 3 + tag_dim))
        self.tag_sum = np.zeros((capacity, tag_dim), np.float32)
        self.tag_count = np.zeros(capacity, np.int64)
        # One tag dimension (no flip test): the reference's np.mean over a person's [n, 1] tags
        # sums them pairwise from n = 8 on, not in order; keep the tags to do the same.
        self.tag_rows = np.zeros((capacity, num_joints), np.float32) if tag_dim == 1 else None
        self.keys = {}  # type: Dict[float, int]
        self.size = 0

    def start(self, joint_id: int, joint: np.ndarray, tag: np.ndarray) -> None:
        key = float(tag[0])
        person = self.keys.get(key)
        if person is None:
            person = self.keys[key] = self.size
            self.size += 1
        self.joints[person, joint_id] = joint
        self.tag_sum[person] = tag
        self.tag_count[person] = 1
        if self.tag_rows is not None:
            self.tag_rows[person, 0] = tag[0]

    def add(self, person: int, joint_id: int, joint: np.ndarray, tag: np.ndarray) -> None:
        self.joints[person, joint_id] = joint
        if self.tag_rows is not None:
            self.tag_rows[person, self.tag_count[person]] = tag[0]
        self.tag_sum[person] += tag
        self.tag_count[person] += 1

    def add_many(self, people: np.ndarray, joint_id: int, joints: np.ndarray, tags: np.ndarray) -> None:
        """``add`` for each row, to distinct ``people``."""
        self.joints[people, joint_id] = joints
        if self.tag_rows is not None:
            self.tag_rows[people, self.tag_count[people]] = tags[:, 0]
        self.tag_sum[people] += tags
        self.tag_count[people] += 1

    def mean_tags(self, count: int) -> np.ndarray:
        """The first ``count`` people's mean tags, bit for bit np.mean(person's tags, axis=0) in float32."""
        means = self.tag_sum[:count] / self.tag_count[:count, None].astype(np.float32)
        if self.tag_rows is not None:
            # In-order sums equal numpy's below 8 tags (and for every count with more than one
            # tag dimension, reduced across rows); from 8 on numpy sums a contiguous run
            # pairwise, so redo those with np.mean on the same contiguous rows, one call per count.
            counts = self.tag_count[:count]
            for n in np.unique(counts[counts >= 8]):
                rows = np.flatnonzero(counts == n)
                means[rows, 0] = np.mean(self.tag_rows[rows, :n], axis=1)
        return means


def _match_joint(groups: _Groups, joint_id: int, joints: np.ndarray, tags: np.ndarray, config: DecoderConfig) -> None:
    num_grouped = min(groups.size, config.max_num_people)
    if config.ignore_too_much and num_grouped == config.max_num_people:
        return
    diff = joints[:, None, 3:] - groups.mean_tags(num_grouped)[None, :, :]
    dist = np.linalg.norm(diff, ord=2, axis=2)
    rows, cols = linear_sum_assignment(matching_cost(dist, joints[:, 2], config.use_detection_val))
    partner = np.full(len(joints), -1, np.int64)
    accepted = dist[rows, cols] < config.tag_threshold
    partner[rows[accepted]] = cols[accepted]
    new_rows = np.flatnonzero(partner < 0)
    if any(float(tags[row, 0]) in groups.keys for row in new_rows):
        # A new joint's tag value keys a person already there: it restarts that person, and
        # whether before or after that person's match in this joint depends on the row order.
        for row in range(len(joints)):
            if partner[row] >= 0:
                groups.add(int(partner[row]), joint_id, joints[row], tags[row])
            else:
                groups.start(joint_id, joints[row], tags[row])
        return
    matched = rows[accepted]
    groups.add_many(cols[accepted], joint_id, joints[matched], tags[matched])
    for row in new_rows:  # row order decides the order of new people
        groups.start(joint_id, joints[row], tags[row])


def _group(cands: _Candidates, config: DecoderConfig, tag_dim: int) -> np.ndarray:
    capacity = sum(len(joints) for joints in cands.joints)
    groups = _Groups(config.num_joints, tag_dim, max(capacity, 1))
    for joint_id in config.joint_order:
        joints, tags = cands.joints[joint_id], cands.tags[joint_id]
        if len(joints) == 0:
            continue
        if groups.size == 0:
            for row in range(len(joints)):
                groups.start(joint_id, joints[row], tags[row])
        else:
            _match_joint(groups, joint_id, joints, tags, config)
    return groups.joints[: groups.size].astype(np.float32)


# ----------------------------------------------------------------------------- adjust / refine
def _quarter_offsets(heat: np.ndarray, y: np.ndarray, x: np.ndarray,
                     joint: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """+0.5 to the pixel centre, then a quarter pixel toward the larger neighbour (ties go down).

    ``heat``: one map [H, W], or a window of it whose edges inside the map are a pixel away
    from (y, x); or maps [J, H, W] with the ``joint`` of each pixel.
    """
    h, w = heat.shape[-2:]
    at = () if joint is None else (joint,)
    right = heat[at + (y, np.minimum(x + 1, w - 1))] > heat[at + (y, np.maximum(x - 1, 0))]
    down = heat[at + (np.minimum(y + 1, h - 1), x)] > heat[at + (np.maximum(y - 1, 0), x)]
    return x + np.where(right, 0.75, 0.25), y + np.where(down, 0.75, 0.25)


def _adjust(people: np.ndarray, maps: _Maps) -> None:
    """Quarter offsets of the grouped joints: from the stride-2 heatmaps, or from the windows
    the projected peaks were found in (their edges inside the map are a pixel away)."""
    person, joint = np.nonzero(people[:, :, 2] > 0)
    x = people[person, joint, 0].astype(np.int64)
    y = people[person, joint, 1].astype(np.int64)
    if not maps.project:
        people[person, joint, 0], people[person, joint, 1] = _quarter_offsets(maps.base, y, x, joint)
        return
    for c in np.unique(joint):
        (y0, _, x0, _), heat = maps.windows[int(c)]
        sel = joint == c
        qx, qy = _quarter_offsets(heat, y[sel] - y0, x[sel] - x0)
        people[person[sel], c, 0], people[person[sel], c, 1] = qx + x0, qy + y0


# Tiles per side of the map: 8 x 8 pixels at stage-2 size (224), 16 x 16 at input size.
_TILES_PER_SIDE = 28
# Below this many missing joints, scoring whole maps is cheaper than building the tiles.
_FEW_MISSING = 48
# Hottest tiles per joint scored for all its pairs: a base plus a few per person.
_HOT_TILES = 16


def _dist(tags: np.ndarray, person_tags: np.ndarray) -> np.ndarray:
    """|tags - person tag| as the reference computes it in float32: tags [L, ...] broadcast
    against person_tags [L, ...] (sqrt(x * x) == |x| exactly for one dimension)."""
    if len(tags) == 1:
        return np.abs(tags[0] - person_tags[0])
    diff = tags - person_tags
    return np.sqrt(np.sum(diff * diff, axis=0))


def _best_full_map(heat: np.ndarray, tags: np.ndarray, person_tag: np.ndarray) -> int:
    """First flat argmax of heat - round(|tag - person_tag|) over one joint's whole map."""
    dist = _dist(tags, person_tag.astype(np.float32)[:, None, None])
    np.round(dist, out=dist)
    np.subtract(heat, dist, out=dist)
    return int(np.argmax(dist))


def _reduce(ufunc: np.ufunc, maps: np.ndarray, b: int) -> np.ndarray:
    """[N, hb*b, wb*b] to per-tile [N, hb*wb]. Rows first, over a middle axis, then the
    b times smaller result column by column: numpy is slow on short inner axes."""
    n, h, w = maps.shape
    rows = ufunc.reduce(maps.reshape(n, h // b, b, w), axis=2)
    out = rows[:, :, 0::b]
    for i in range(1, b):
        out = ufunc(out, rows[:, :, i::b])
    return out.reshape(n, -1)


class _Tiles(object):
    """The refine step's argmax(heat - round(|tag - person tag|)), exactly, without scoring
    whole maps: the joints' maps cut into square tiles with per-tile heat maximum and tag range.

    round(|.|) only grows with the distance (also in float32 arithmetic), so a tile's tag
    range and heat maximum bound every value in it. Each joint's hottest tiles are scored
    pixel by pixel for all its pairs at once; their best value then prunes every other tile
    whose bound is below it, and the few that remain are scored too. Ties resolve to the
    first maximum in row-major order, as argmax does.
    """

    def __init__(self, heatmaps: np.ndarray, tags: np.ndarray, joints: np.ndarray, hot_tiles: int) -> None:
        j, h, w = heatmaps.shape
        b = max(8, -(-max(h, w) // _TILES_PER_SIDE))
        hb, wb = -(-h // b), -(-w // b)
        self.rows = np.full(j, -1, np.int64)
        self.rows[joints] = np.arange(len(joints))
        if len(joints) < j:
            heatmaps, tags = heatmaps[joints], tags[:, joints]
        if (hb * b, wb * b) != (h, w):
            pad = ((0, 0), (0, hb * b - h), (0, wb * b - w))
            # Padded pixels never win (-inf heat); edge tags leave the tag ranges unchanged.
            heatmaps = np.pad(heatmaps, pad, mode="constant", constant_values=-np.inf)
            tags = np.stack([np.pad(t, pad, mode="edge") for t in tags])
        self.width, self.padded_width = w, wb * b
        n = len(joints)
        self.heat = heatmaps.reshape(n, -1)
        self.tags = tags.reshape(len(tags), n, -1)
        self.tile_max = _reduce(np.maximum, heatmaps, b)  # [N, T]
        self.tag_lo = np.stack([_reduce(np.minimum, t, b) for t in tags])  # [L, N, T]
        self.tag_hi = np.stack([_reduce(np.maximum, t, b) for t in tags])
        tile = np.arange(hb * wb)
        self.tile_origin = tile // wb * b * self.padded_width + tile % wb * b
        dy, dx = np.divmod(np.arange(b * b), b)
        self.tile_offsets = dy * self.padded_width + dx
        # Each joint's hot pixels: above its hot_tiles-th largest tile maximum (so at most
        # hot_tiles tiles hold them), scored for every pair of the joint. Every other pixel
        # of the joint is at most that threshold.
        k = min(hot_tiles, hb * wb)
        self.threshold = -np.partition(-self.tile_max, k - 1, axis=1)[:, k - 1]  # [N]
        hot = [np.flatnonzero(self.heat[i] > self.threshold[i]) for i in range(n)]
        size = max(1, max(len(h) for h in hot))
        self.hot_pixels = np.full((n, size), self.heat.shape[1], np.int64)  # padding: never wins
        self.hot_heat = np.full((n, size), -np.inf, np.float32)
        self.hot_tags = np.zeros((len(tags), n, size), np.float32)
        for i, pixels in enumerate(hot):
            self.hot_pixels[i, :len(pixels)] = pixels
            self.hot_heat[i, :len(pixels)] = self.heat[i, pixels]
            self.hot_tags[:, i, :len(pixels)] = self.tags[:, i, pixels]
        self.cold_max = np.minimum(self.tile_max, self.threshold[:, None])  # bound of the other pixels

    def best(self, joints: np.ndarray, person_tags: np.ndarray) -> np.ndarray:
        """Flat (unpadded) index of the first maximum of heat[j] - round(|tag[:, j] - t|) for each
        pair (j, t) of ``joints`` [P] and ``person_tags`` [P, L], all pairs at once."""
        rows = self.rows[joints]
        tag = person_tags.astype(np.float32).T[:, :, None]  # [L, P, 1]
        values = self.hot_heat[rows] - np.round(_dist(self.hot_tags[:, rows], tag))  # [P, M]
        best_value = values.max(axis=1)
        pixels = self.hot_pixels[rows]
        big = np.iinfo(np.int64).max
        best = np.where(values == best_value[:, None], pixels, big).min(axis=1)
        # Every other tile: its bound, and whether it could reach the best value so far.
        lo, hi = self.tag_lo[:, rows], self.tag_hi[:, rows]  # [L, P, T]
        near = np.maximum(np.maximum(lo - tag, tag - hi), np.float32(0))
        r_lo = np.round(np.sqrt(np.sum(near * near, axis=0))) if len(near) > 1 else np.round(near[0])
        maybe = self.cold_max[rows] - r_lo >= best_value[:, None]
        if maybe.any():
            pair, tiles = np.nonzero(maybe)
            pix = self.tile_origin[tiles][:, None] + self.tile_offsets[None, :]  # [S, b*b], row-major
            joint = rows[pair][:, None]
            val = self.heat[joint, pix] - np.round(_dist(self.tags[:, joint, pix], tag[:, pair]))
            col = val.argmax(axis=1)  # first maximum within each tile
            idx = np.arange(len(pair))
            value, pixel = val[idx, col], pix[idx, col]
            # Per pair: the largest value, then the smallest index, hot tiles included.
            pair = np.concatenate((pair, np.arange(len(rows))))
            value = np.concatenate((value, best_value))
            pixel = np.concatenate((pixel, best))
            order = np.lexsort((pixel, -value, pair))
            best = pixel[order[np.flatnonzero(np.diff(pair[order], prepend=-1))]]
        return best // self.padded_width * self.width + best % self.padded_width


def _refine(people: np.ndarray, maps: _Maps) -> None:
    """Fill each person's missing joints where the heatmap is high and the tag is the person's."""
    num_people = people.shape[0]
    found = people[:, :, 2] > 0
    if found.all():
        return
    w = maps.size[1]
    # the mean of the tags where the person's joints were detected (kept by the grouping)
    person_tags = np.empty((num_people, maps.tag_dim), np.float32)
    for p in range(num_people):
        person_tags[p] = np.mean(people[p, found[p], 3:], axis=0)
    missing, joint = np.nonzero(~found.T)  # joint-major, as the reference fills them
    missing, joint = joint, missing
    channels = [int(c) for c in np.unique(joint)]
    heatmaps, tags = maps.heat_maps(channels), maps.tag_maps(channels)  # whole for these joints
    if len(missing) > _FEW_MISSING:
        pos = _Tiles(heatmaps, tags, np.unique(joint), _HOT_TILES + 4 * num_people).best(joint, person_tags[missing])
    else:
        pos = np.array([_best_full_map(heatmaps[j], tags[:, j], person_tags[p]) for p, j in zip(missing, joint)],
                       np.int64)
    py, px = pos // w, pos % w
    val = heatmaps[joint, py, px]
    keep = val > 0
    if not keep.any():
        return
    missing, joint, px, py, val = missing[keep], joint[keep], px[keep], py[keep], val[keep]
    people[missing, joint, 0], people[missing, joint, 1] = _quarter_offsets(heatmaps, py, px, joint)
    people[missing, joint, 2] = val


# ----------------------------------------------------------------------------- entry point
def decode(outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs] = None) -> People:
    """Decode one image's network outputs into people, in network-input pixel coordinates.

    ``outputs`` = (stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]); ``flipped_outputs``
    the same for the horizontally flipped input (flip test), or None.
    """
    config = config.validated()
    maps = _Maps(outputs, config, flipped_outputs)
    cands = _Candidates(maps, config)
    if not cands:
        return People.empty(config.num_joints)
    people = _group(cands, config, maps.tag_dim)
    if config.adjust:
        _adjust(people, maps)
    scores = people[:, :, 2].mean(axis=1)
    if config.refine:
        _refine(people, maps)
    keypoints = np.ascontiguousarray(people[:, :, :3])
    stage2 = np.asarray(outputs[1])
    keypoints[:, :, 0] *= np.float32(stage2.shape[3] * 2 / maps.size[1])
    keypoints[:, :, 1] *= np.float32(stage2.shape[2] * 2 / maps.size[0])
    return People(keypoints, scores.astype(np.float32))
