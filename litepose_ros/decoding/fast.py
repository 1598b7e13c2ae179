"""Runtime decoder: LitePose bottom-up outputs (heatmaps + associative-embedding tags) to people.

Same people as the official algorithm (``reference.decode_reference``), computed with
vectorised numpy / OpenCV / scipy, and only where they are read: the heatmap rows that can
hold a peak, for all joints at once; tags at the candidates' pixels; whole maps only for the
joints the refine step scans (or where the people are spread over most of the map). Runs on Python 3.6 and numpy 1.19
(Jetson Nano): keep the syntax and the numpy API that old, and never import torch here.
"""
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from ..people import People
from .config import DecoderConfig
from .dense import gather, upsample2x, upsample2x_rows, upsample2x_stack, upsample_at_pixels_is_exact
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


# Beyond this share of the rows that can hold a peak, whole heatmaps are cheaper than rows
# (the refine step then reads them too).
_MAX_ROW_SHARE = 0.1


class _Maps(object):
    """The official inference's heatmaps and tags at the grouping resolution, bit for bit the
    reference's (same resize, ``dense.resize_map``, same order of operations), computed only
    where they are read.

    Heatmaps come as the rows that can hold a pixel above the threshold (``heat_rows``),
    whole only where those are many or for the joints the refine step scans; tags come at the
    candidates' pixels (``dense.Upsample2x``), whole only for the refine step. Projected to
    the input size, the stride-2 heatmaps are whole: they bound the projected rows and are
    upsampled into them. Where OpenCV here does not compute like ``Upsample2x``, every map is
    whole. The flipped outputs are mirrored at stage-2 size, before the projection, as the
    reference does (bilinear resizing is not mirror-symmetric to the bit).
    """

    def __init__(self, outputs: Outputs, config: DecoderConfig, flipped_outputs: Optional[Outputs]) -> None:
        j = config.num_joints
        self.num_joints = j
        self._stages = [_check_outputs(outputs, j, "outputs")]
        if flipped_outputs is not None:
            self._stages.append(_check_outputs(flipped_outputs, j, "flipped_outputs"))
        self.tag_dim = len(self._stages)
        self._flip = np.array(config.flip_index, np.int64)
        self.project = config.project_to_input
        h, w = self._stages[0][1].shape[1:]
        self.base_size = (h, w)
        self.size = (2 * h, 2 * w) if self.project else (h, w)
        self.sparse = upsample_at_pixels_is_exact()
        self._up_stage1 = upsample2x(h // 2, w // 2)
        self._up_stage2 = upsample2x(h, w)
        # per stage, the stride-2 heatmaps the projected ones are upsampled from
        self._stage_heat = [self._stage2_heat(i, 0, j) for i in range(self.tag_dim)] if self.project else []
        # the rows ``heat_rows`` returned: [J * H] -> row of self._rows, or -1
        self._row_of = np.zeros(0, np.int64)
        self._rows = np.zeros((0, self.size[1]), np.float32)
        # whole maps at the grouping resolution, channel by channel as needed
        self._heat_all: Optional[np.ndarray] = None  # [J, H, W]
        self._tags_all: Optional[np.ndarray] = None  # [L, J, H, W]
        self._full_heat: Set[int] = set()
        self._full_tags: Set[int] = set()

    def _stage2_heat(self, i: int, a: int, b: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Stage ``i``'s stride-2 heatmaps of joints [a, b): the stage-1 maps upsampled and
        averaged with stage 2's, mirrored for the flip test (into ``out`` if given)."""
        stage1, stage2 = self._stages[i]
        if i == 0:
            heat = upsample2x_stack(stage1[a:b], out)
            heat += stage2[a:b]
            heat *= np.float32(0.5)  # exact halving, same as the reference's / 2
            return heat
        heat = upsample2x_stack(np.ascontiguousarray(stage1[self._flip[a:b]]))
        heat += stage2[self._flip[a:b]]
        heat *= np.float32(0.5)
        return _mirrored(heat, out)

    def _stage2_tags(self, i: int, a: int, b: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Stage ``i``'s stride-2 tags of joints [a, b), mirrored for the flip test (into ``out``)."""
        stage1, j = self._stages[i][0], self.num_joints
        if i == 0:
            return upsample2x_stack(stage1[j + a:j + b], out)
        return _mirrored(upsample2x_stack(np.ascontiguousarray(stage1[j + self._flip[a:b]])), out)

    # -- heatmaps
    def heat_rows(self, threshold: np.float32) -> Tuple[np.ndarray, np.ndarray]:
        """Row ids (joint * H + y) of the heatmaps and the rows [n, W]: every row with a pixel
        above ``threshold`` and its neighbours (the quarter offsets read them), in order. Where
        few rows can hold such a pixel (a bound from the maps they are upsampled from), only
        those are computed."""
        j, (h, w) = self.num_joints, self.size
        above = self._row_bound(threshold) if self.sparse else None
        whole = None
        if above is None or above.mean() > _MAX_ROW_SHARE:  # spread out: whole maps are cheaper
            whole = self.heat_maps(range(j)).reshape(j * h, w)
            above = cv2.reduce(whole, 1, cv2.REDUCE_MAX).reshape(j, h) > threshold
        need = above.copy()
        need[:, 1:] |= above[:, :-1]
        need[:, :-1] |= above[:, 1:]
        ids = np.flatnonzero(need)
        self._rows = whole[ids] if whole is not None else self._heat_rows(*np.divmod(ids, h))
        self._row_of = np.full(j * h, -1, np.int64)
        self._row_of[ids] = np.arange(len(ids))
        return ids, self._rows

    def _row_bound(self, threshold: np.float32) -> np.ndarray:
        """[J, H] whether a row can hold a pixel above ``threshold``. An upsampled pixel is a
        convex combination of the two source rows it reads, so their maxima bound it, up to a
        few float32 roundings; near the threshold negative terms are outweighed by positive
        ones, so those roundings are a few ulps of the largest maxima."""
        j, (h, w) = self.num_joints, self.base_size
        scale, bounds = abs(float(threshold)), []
        for i, (stage1, stage2) in enumerate(self._stages):
            if self.project:
                source, y0, y1 = self._stage_heat[i], self._up_stage2.rows[0], self._up_stage2.rows[1]
                maxima = [cv2.reduce(source.reshape(j * h, w), 1, cv2.REDUCE_MAX).reshape(j, h)]
            else:
                y0, y1 = self._up_stage1.rows[:2]
                maxima = [cv2.reduce(stage1[:j].reshape(j * h // 2, w // 2), 1, cv2.REDUCE_MAX).reshape(j, h // 2),
                          cv2.reduce(stage2.reshape(j * h, w), 1, cv2.REDUCE_MAX).reshape(j, h)]
                if i == 1:
                    maxima = [m[self._flip] for m in maxima]
            scale = max([scale] + [float(np.abs(m).max()) for m in maxima])
            bound = np.maximum(maxima[0][:, y0], maxima[0][:, y1]).astype(np.float64)
            bounds.append(bound if self.project else (bound + maxima[1]) / 2)  # (upsampled + stage 2) / 2
        bound = bounds[0] if len(bounds) == 1 else (bounds[0] + bounds[1]) / 2
        return bound > float(threshold) - 16 * float(np.finfo(np.float32).eps) * scale

    def _heat_rows(self, joint: np.ndarray, y: np.ndarray) -> np.ndarray:
        """[n, W] heatmap rows ``y`` of ``joint``, bit for bit the whole maps'."""
        rows = []
        for i, (stage1, stage2) in enumerate(self._stages):
            if self.project:
                rows.append(upsample2x_rows(self._stage_heat[i], joint, y))
                continue
            source = joint if i == 0 else self._flip[joint]
            heat = upsample2x_rows(stage1, source, y)
            heat += stage2[source, y]
            heat *= np.float32(0.5)
            rows.append(heat if i == 0 else heat[:, ::-1])
        return rows[0] if len(rows) == 1 else (rows[0] + rows[1]) / 2.0

    def heat_at(self, joint: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Heatmap values at pixels of the rows ``heat_rows`` returned."""
        return self._rows[self._row_of[joint * self.size[0] + y], x]

    def heat_maps(self, channels: Iterable[int]) -> np.ndarray:
        """[J, H, W] heatmaps at the grouping resolution, whole for ``channels`` (others unset)."""
        if self._heat_all is None:
            self._heat_all = np.empty((self.num_joints,) + self.size, np.float32)
        for a, b in _runs(c for c in channels if c not in self._full_heat):
            out = self._heat_all[a:b]
            if self.project:
                maps = [upsample2x_stack(m[a:b], out if i == 0 else None) for i, m in enumerate(self._stage_heat)]
            else:
                maps = [self._stage2_heat(i, a, b, out if i == 0 else None) for i in range(self.tag_dim)]
            if len(maps) == 2:  # the reference's (p0 + p1) / 2.0, in place
                np.add(out, maps[1], out=out)
                out /= 2.0
            self._full_heat.update(range(a, b))
        return self._heat_all

    # -- tags
    def tag_maps(self, channels: Sequence[int]) -> np.ndarray:
        """[L, J, H, W] tags at the grouping resolution, whole for ``channels`` (others unset)."""
        if self._tags_all is None:
            self._tags_all = np.empty((self.tag_dim, self.num_joints) + self.size, np.float32)
        for a, b in _runs(c for c in channels if c not in self._full_tags):
            for i in range(self.tag_dim):
                out = self._tags_all[i, a:b]
                if self.project:
                    upsample2x_stack(self._stage2_tags(i, a, b), out)
                else:
                    self._stage2_tags(i, a, b, out)
            self._full_tags.update(range(a, b))
        return self._tags_all

    def _stage_tags_at(self, i: int, c: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Stage ``i``'s tags at stage-2 resolution (mirrored for the flip) at pixels (c, y, x)."""
        stage1 = self._stages[i][0]
        if i == 0:
            return self._up_stage1.at(gather(stage1), self.num_joints + c, y, x)
        return self._up_stage1.at(gather(stage1), self.num_joints + self._flip[c], y, self.base_size[1] - 1 - x)

    def tags_at(self, c: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
        """[n, L] tags of joints ``c`` at pixels (y, x) of the grouping resolution."""
        if not self.sparse:
            return self.tag_maps(np.unique(c).tolist())[:, c, y, x].T
        tags = np.empty((len(c), self.tag_dim), np.float32)
        for i in range(self.tag_dim):
            if self.project:
                tags[:, i] = self._up_stage2.at(lambda a, b, d, i=i: self._stage_tags_at(i, a, b, d), c, y, x)
            else:
                tags[:, i] = self._stage_tags_at(i, c, y, x)
        return tags


def _mirrored(maps: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """[C, H, W] maps mirrored left-right, C-contiguous (into ``out`` if given)."""
    if out is None:
        return np.ascontiguousarray(maps[:, :, ::-1])
    out[...] = maps[:, :, ::-1]
    return out


def _runs(channels: Iterable[int]) -> List[Tuple[int, int]]:
    """Sorted distinct ``channels`` as runs [a, b) of consecutive ones."""
    runs: List[Tuple[int, int]] = []
    for c in sorted(set(channels)):
        if runs and runs[-1][1] == c:
            runs[-1] = (runs[-1][0], c + 1)
        else:
            runs.append((c, c + 1))
    return runs


def _float32_floor(value: float) -> np.float32:
    """Largest float32 <= value, so float32 ``x > result`` equals float64 ``x > value``."""
    low = np.float32(value)
    if float(low) > value:
        low = np.nextafter(low, np.float32(-np.inf))
    return low


def _peaks(ids: np.ndarray, rows: np.ndarray, height: int, threshold: np.float32,
           kernel: int) -> Tuple[np.ndarray, ...]:
    """(joint, y, x, value) of every pixel above ``threshold`` that equals the max of its
    kernel x kernel neighbourhood (max-pool NMS), in (joint, y, x) order, from the heatmap
    ``rows`` [n, W] with row ids ``ids`` (joint * height + y) that hold every pixel above the
    threshold.

    One max filter for all joints: the rows left out cannot beat a pixel above the threshold,
    so -inf rows stand in for them, as many as the filter reaches (and between joints).
    cv2.dilate's replicated border equals -inf padding because the edge pixel is always inside
    its own window.
    """
    if len(ids) == 0:
        return tuple(np.zeros(0, t) for t in (np.int64, np.int64, np.int64, np.float32))
    pad = kernel // 2
    gap = np.diff(ids, prepend=ids[0] - 1) - 1  # rows left out before each row
    same_joint = ids // height == np.concatenate(([-1], ids[:-1])) // height
    position = np.cumsum(1 + np.where(same_joint, np.minimum(gap, pad), pad)) - 1 + pad
    source_row = np.full(position[-1] + 1 + pad, -1, np.int64)
    source_row[position] = np.arange(len(ids))
    packed = np.take(rows, source_row, axis=0)
    packed[source_row < 0] = -np.inf
    pooled = cv2.dilate(packed, np.ones((kernel, kernel), np.uint8), borderType=cv2.BORDER_REPLICATE)
    peak = cv2.bitwise_and(cv2.compare(packed, pooled, cv2.CMP_EQ), cv2.compare(packed, float(threshold), cv2.CMP_GT))
    with_peaks = np.flatnonzero(cv2.reduce(peak, 1, cv2.REDUCE_MAX).ravel())
    row, x = np.nonzero(peak[with_peaks])
    row = with_peaks[row]
    value = packed[row, x]
    joint, y = np.divmod(ids[source_row[row]], height)
    return joint, y, x, value


class _Candidates(object):
    """Per joint: NMS peaks above threshold, best first (ties by index), at most max_num_people,
    with their tags; all joints at once, in the heatmap rows that can hold a peak."""

    def __init__(self, maps: _Maps, config: DecoderConfig) -> None:
        threshold = _float32_floor(config.detection_threshold)
        ids, rows = maps.heat_rows(threshold)
        joint, y, x, value = _peaks(ids, rows, maps.size[0], threshold, config.nms_kernel)
        # best first per joint; (y, x) order already, which a stable sort keeps among equal values
        order = np.lexsort((-value, joint))
        joint, y, x, value = joint[order], y[order], x[order], value[order]
        counts = np.bincount(joint, minlength=maps.num_joints)
        first = np.cumsum(counts) - counts
        keep = np.arange(len(joint)) - first[joint] < config.max_num_people
        joint, y, x, value = joint[keep], y[keep], x[keep], value[keep]
        tags = maps.tags_at(joint, y, x)
        rows = np.column_stack((x, y, value, tags)).astype(np.float64)
        ends = np.cumsum(np.minimum(counts, config.max_num_people)).tolist()
        starts = [0] + ends[:-1]
        self.joints: List[np.ndarray] = [rows[a:b] for a, b in zip(starts, ends)]  # float64: x, y, value, tags...
        self.tags: List[np.ndarray] = [tags[a:b] for a, b in zip(starts, ends)]  # float32 [n, L]

    def __bool__(self) -> bool:
        return any(len(joints) for joints in self.joints)

    __nonzero__ = __bool__


# ----------------------------------------------------------------------------- grouping
class _Groups(object):
    """People under construction, in the reference's order: keyed by the first tag value of the
    joint that started them (a later joint with the same first tag value lands in that person).
    Each person's mean tag is updated with its tags."""

    def __init__(self, num_joints: int, tag_dim: int, capacity: int) -> None:
        self.joints = np.zeros((capacity, num_joints, 3 + tag_dim))
        self.tag_sum = np.zeros((capacity, tag_dim), np.float32)
        self.tag_count = np.zeros(capacity, np.int64)
        self.means = np.zeros((capacity, tag_dim), np.float32)
        # One tag dimension (no flip test): the reference's np.mean over a person's [n, 1] tags
        # sums them pairwise from n = 8 on, not in order; keep the tags to do the same.
        self.tag_rows = np.zeros((capacity, num_joints), np.float32) if tag_dim == 1 else None
        self.keys: Dict[float, int] = {}
        self.size = 0

    def start(self, joint_id: int, joint: np.ndarray, tag: np.ndarray) -> None:
        key = float(tag[0])
        person = self.keys.get(key)
        if person is None:
            person = self.keys[key] = self.size
            self.size += 1
        self.joints[person, joint_id] = joint
        self.tag_sum[person] = self.means[person] = tag
        self.tag_count[person] = 1
        if self.tag_rows is not None:
            self.tag_rows[person, 0] = tag[0]

    def add(self, person: int, joint_id: int, joint: np.ndarray, tag: np.ndarray) -> None:
        """``add_many`` for one person, with scalar indices (several times faster)."""
        self.joints[person, joint_id] = joint
        count = int(self.tag_count[person]) + 1
        self.tag_count[person] = count
        self.tag_sum[person] += tag
        if self.tag_rows is not None:
            self.tag_rows[person, count - 1] = tag[0]
            if count % 8 == 0:
                self._sum_pairwise(person, count)
        self.means[person] = self.tag_sum[person] / np.float32(count)

    def add_many(self, people: np.ndarray, joint_id: int, joints: np.ndarray, tags: np.ndarray) -> None:
        """``add`` for each row, to distinct ``people``."""
        if len(people) == 0:
            return
        self.joints[people, joint_id] = joints
        counts = self.tag_count[people] + 1
        self.tag_count[people] = counts
        self.tag_sum[people] += tags
        if self.tag_rows is not None:
            self.tag_rows[people, counts - 1] = tags[:, 0]
            restart = counts % 8 == 0
            for n in set(counts[restart].tolist()) if restart.any() else ():
                self._sum_pairwise(people[counts == n], n)
        # bit for bit np.mean(person's tags, axis=0) in float32
        self.means[people] = self.tag_sum[people] / counts[:, None].astype(np.float32)

    def _sum_pairwise(self, people, count: int) -> None:
        """The tag sums of ``people`` (an index or indices), who have ``count`` tags, a multiple
        of 8, redone as numpy does. The running sums are in order, as numpy sums fewer than 8
        tags (and rows of several tag dimensions); one contiguous tag column it sums pairwise:
        8 partial sums added as a tree, then the rest in order. So the running sum is redone
        at each multiple of 8 tags and goes on in order from there."""
        self.tag_sum[people, 0] = np.add.reduce(self.tag_rows[people, :count], axis=-1)


def _match_joint(groups: _Groups, joint_id: int, joints: np.ndarray, tags: np.ndarray, config: DecoderConfig) -> None:
    num_grouped = min(groups.size, config.max_num_people)
    if config.ignore_too_much and num_grouped == config.max_num_people:
        return
    diff = joints[:, None, 3:] - groups.means[None, :num_grouped, :]
    dist = np.sqrt(np.add.reduce(diff * diff, axis=2))  # np.linalg.norm(diff, axis=2), as the reference
    if dist.shape == (1, 1):  # one joint, one person: the assignment pairs them
        if dist[0, 0] < config.tag_threshold:
            groups.add(0, joint_id, joints[0], tags[0])
        else:
            groups.start(joint_id, joints[0], tags[0])
        return
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
def _quarter_offsets(value: Callable[[np.ndarray, np.ndarray], np.ndarray], height: int, width: int,
                     y: np.ndarray, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """+0.5 to the pixel centre, then a quarter pixel toward the larger neighbour (ties go down).

    ``value(y, x)``: the heatmap of each pixel's joint, over a map of ``height`` x ``width``.
    """
    right = value(y, np.minimum(x + 1, width - 1)) > value(y, np.maximum(x - 1, 0))
    down = value(np.minimum(y + 1, height - 1), x) > value(np.maximum(y - 1, 0), x)
    return x + np.where(right, 0.75, 0.25), y + np.where(down, 0.75, 0.25)


def _adjust(people: np.ndarray, maps: _Maps) -> None:
    """Quarter offsets of the grouped joints, from the heatmap rows the peaks were found in."""
    person, joint = np.nonzero(people[:, :, 2] > 0)
    x = people[person, joint, 0].astype(np.int64)
    y = people[person, joint, 1].astype(np.int64)
    value = lambda yy, xx: maps.heat_at(joint, yy, xx)  # noqa: E731
    people[person, joint, 0], people[person, joint, 1] = _quarter_offsets(value, *maps.size, y, x)


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
    value = lambda yy, xx: heatmaps[joint, yy, xx]  # noqa: E731
    people[missing, joint, 0], people[missing, joint, 1] = _quarter_offsets(value, *maps.size, py, px)
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
