"""Runtime decoder: LitePose bottom-up outputs (heatmaps + associative-embedding tags) to people.

Same people as the official algorithm (``reference.decode_reference``), computed with
vectorised numpy / OpenCV / scipy. Runs on Python 3.6 and numpy 1.19 (Jetson Nano):
keep the syntax and the numpy API that old, and never import torch here.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..people import People
from .config import DecoderConfig
from .dense import resize_map
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


class _DenseMaps(object):
    """Heatmaps [J, H, W] and, computed only once something needs them, tags [L, J, H, W]
    (L = 2 with flip test), at the grouping resolution, as the official inference builds them,
    with the reference's resize (``dense.resize_map``) and order of operations, so the maps
    are the reference's bit for bit. Channel by channel, so each map stays in cache. The
    flipped outputs are mirrored at stage-2 size, before the projection to the input size,
    as the reference does (bilinear resizing is not mirror-symmetric to the bit)."""

    def __init__(self, outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs]) -> None:
        j = config.num_joints
        self._stages = [_check_outputs(outputs, j, "outputs")]
        if flipped_outputs is not None:
            self._stages.append(_check_outputs(flipped_outputs, j, "flipped_outputs"))
        self._flip = list(config.flip_index)
        self._project = config.project_to_input
        self._size = self._stages[0][1].shape[1:]
        h, w = self._size
        out_h, out_w = (2 * h, 2 * w) if self._project else (h, w)
        half = np.float32(0.5)
        heats = []
        mid = np.empty((h, w), np.float32)
        for i, (stage1, stage2) in enumerate(self._stages):
            heat = np.empty((j, out_h, out_w), np.float32)
            for c in range(j):
                src = self._flip[c] if i == 1 else c
                dst = mid if (self._project or i == 1) else heat[c]
                resize_map(stage1[src], h, w, dst)
                np.add(dst, stage2[src], out=dst)
                dst *= half  # exact halving, same as the reference's / 2
                if i == 1:
                    dst = dst[:, ::-1]
                if self._project:
                    resize_map(dst, out_h, out_w, heat[c])
                elif i == 1:
                    heat[c] = dst
            heats.append(heat)
        final = (heats[0] + heats[1]) / 2.0 if len(heats) == 2 else heats[0]
        self.heatmaps = np.ascontiguousarray(final, np.float32)
        self._tags = None  # type: Optional[np.ndarray]

    @property
    def tags(self) -> np.ndarray:
        if self._tags is None:
            j = len(self._flip)
            h, w = self._size
            out_h, out_w = (2 * h, 2 * w) if self._project else (h, w)
            out = np.empty((len(self._stages), j, out_h, out_w), np.float32)
            mid = np.empty((h, w), np.float32)
            for i, (stage1, _) in enumerate(self._stages):
                for c in range(j):
                    src = j + (self._flip[c] if i == 1 else c)
                    dst = mid if (self._project or i == 1) else out[i, c]
                    resize_map(stage1[src], h, w, dst)
                    if i == 1:
                        dst = dst[:, ::-1]
                    if self._project:
                        resize_map(dst, out_h, out_w, out[i, c])
                    elif i == 1:
                        out[i, c] = dst
            self._tags = out
        return self._tags


def _float32_floor(value: float) -> np.float32:
    """Largest float32 <= value, so float32 ``x > result`` equals float64 ``x > value``."""
    low = np.float32(value)
    if float(low) > value:
        low = np.nextafter(low, np.float32(-np.inf))
    return low


class _Candidates(object):
    """Per joint: NMS peaks above threshold, best first (ties by index), at most max_num_people.

    A peak equals the max of its kernel x kernel window (max-pool NMS). Done channel by
    channel so each map stays in cache; the replicated border of cv2.dilate equals -inf
    padding because the edge pixel is always inside its own window.
    """

    def __init__(self, dense: _DenseMaps, config: DecoderConfig) -> None:
        heatmaps = dense.heatmaps
        num_joints, h, w = heatmaps.shape
        element = np.ones((config.nms_kernel, config.nms_kernel), np.uint8)
        threshold = _float32_floor(config.detection_threshold)
        peaks = []
        for j in range(num_joints):
            heat = heatmaps[j]
            pooled = cv2.dilate(heat, element, borderType=cv2.BORDER_REPLICATE)
            ind = np.flatnonzero((heat > threshold) & (pooled == heat))
            values = heat.ravel()[ind]
            order = np.argsort(-values, kind="mergesort")[: config.max_num_people]
            peaks.append((ind[order], values[order]))
        self.joints = []  # type: List[np.ndarray]  # float64 rows: x, y, value, tags...
        self.tags = []  # type: List[np.ndarray]  # float32 [n, L]
        if not any(len(ind) for ind, _ in peaks):
            return  # nobody: never build the tag maps
        tags = dense.tags
        flat_tags = tags.reshape(tags.shape[0], num_joints, -1)
        for j, (ind, values) in enumerate(peaks):
            tag = np.ascontiguousarray(flat_tags[:, j, ind].T)
            self.tags.append(tag)
            self.joints.append(np.column_stack((ind % w, ind // w, values, tag)).astype(np.float64))


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
def _quarter_offsets(heatmaps: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray):
    """+0.5 to the pixel centre, then a quarter pixel toward the larger neighbour (ties go down)."""
    _, h, w = heatmaps.shape
    right = heatmaps[joint, y, np.minimum(x + 1, w - 1)] > heatmaps[joint, y, np.maximum(x - 1, 0)]
    down = heatmaps[joint, np.minimum(y + 1, h - 1), x] > heatmaps[joint, np.maximum(y - 1, 0), x]
    return x + np.where(right, 0.75, 0.25), y + np.where(down, 0.75, 0.25)


def _adjust(people: np.ndarray, heatmaps: np.ndarray) -> None:
    person, joint = np.nonzero(people[:, :, 2] > 0)
    x = people[person, joint, 0].astype(np.int64)
    y = people[person, joint, 1].astype(np.int64)
    people[person, joint, 0], people[person, joint, 1] = _quarter_offsets(heatmaps, joint, x, y)


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


def _refine(people: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray) -> None:
    """Fill each person's missing joints where the heatmap is high and the tag is the person's."""
    num_people, num_joints = people.shape[:2]
    found = people[:, :, 2] > 0
    if found.all():
        return
    h, w = heatmaps.shape[1:]
    x = people[:, :, 0].astype(np.int64)
    y = people[:, :, 1].astype(np.int64)
    joint_ids = np.broadcast_to(np.arange(num_joints), found.shape)
    joint_tags = tags[:, joint_ids, y, x]  # [L, P, J], tags where the found joints were detected
    person_tags = np.empty((num_people, tags.shape[0]), np.float32)
    for p in range(num_people):
        person_tags[p] = np.mean(np.ascontiguousarray(joint_tags[:, p, found[p]].T), axis=0)
    missing, joint = np.nonzero(~found.T)  # joint-major, as the reference fills them
    missing, joint = joint, missing
    if len(missing) > _FEW_MISSING:
        joints = np.unique(joint)
        pos = _Tiles(heatmaps, tags, joints, _HOT_TILES + 4 * num_people).best(joint, person_tags[missing])
    else:
        pos = np.array([_best_full_map(heatmaps[j], tags[:, j], person_tags[p]) for p, j in zip(missing, joint)],
                       np.int64)
    py, px = pos // w, pos % w
    val = heatmaps[joint, py, px]
    keep = val > 0
    if not keep.any():
        return
    missing, joint, px, py, val = missing[keep], joint[keep], px[keep], py[keep], val[keep]
    qx, qy = _quarter_offsets(heatmaps, joint, px, py)
    people[missing, joint, 0] = qx
    people[missing, joint, 1] = qy
    people[missing, joint, 2] = val


# ----------------------------------------------------------------------------- entry point
def decode(outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs] = None) -> People:
    """Decode one image's network outputs into people, in network-input pixel coordinates.

    ``outputs`` = (stage1 [1, 2J, H/4, W/4], stage2 [1, J, H/2, W/2]); ``flipped_outputs``
    the same for the horizontally flipped input (flip test), or None.
    """
    config = config.validated()
    dense = _DenseMaps(outputs, config, flipped_outputs)
    cands = _Candidates(dense, config)
    if not cands.joints:
        return People.empty(config.num_joints)
    heatmaps, tags = dense.heatmaps, dense.tags
    people = _group(cands, config, tags.shape[0])
    if config.adjust:
        _adjust(people, heatmaps)
    scores = people[:, :, 2].mean(axis=1)
    if config.refine:
        _refine(people, heatmaps, tags)
    keypoints = np.ascontiguousarray(people[:, :, :3])
    stage2 = np.asarray(outputs[1])
    keypoints[:, :, 0] *= np.float32(stage2.shape[3] * 2 / heatmaps.shape[2])
    keypoints[:, :, 1] *= np.float32(stage2.shape[2] * 2 / heatmaps.shape[1])
    return People(keypoints, scores.astype(np.float32))
