"""Settings of the associative-embedding decoder (LitePose / HigherHRNet test settings)."""
from typing import Any, NamedTuple, Tuple

from ..common.keypoints import KeypointSet


class DecoderConfig(NamedTuple):
    """Everything ``decode`` needs besides the network outputs.

    Defaults are the reference test settings (LitePose ``experiments/*`` TEST section).
    ``project_to_input`` upsamples heatmaps and tags to the network input size before
    grouping (the official evaluation protocol); off, grouping runs at stage-2 resolution.
    """

    num_joints: int
    joint_order: Tuple[int, ...]
    flip_index: Tuple[int, ...]
    detection_threshold: float = 0.1
    tag_threshold: float = 1.0
    max_num_people: int = 30
    nms_kernel: int = 5
    project_to_input: bool = False
    adjust: bool = True
    refine: bool = True
    use_detection_val: bool = True
    ignore_too_much: bool = False

    @classmethod
    def from_keypoint_set(cls, kps: KeypointSet, **overrides: Any) -> "DecoderConfig":
        fields = dict(
            num_joints=kps.num_joints,
            joint_order=tuple(int(j) for j in kps.joint_order),
            flip_index=tuple(int(j) for j in kps.flip_index),
        )
        fields.update(overrides)
        return cls(**fields).validated()

    def validated(self) -> "DecoderConfig":
        """Return self, or raise ValueError naming every inconsistent field."""
        problems = []
        j = self.num_joints
        if not isinstance(j, int) or j <= 0:
            problems.append("num_joints must be a positive int, got {!r}".format(j))
        else:
            for name in ("joint_order", "flip_index"):
                values = getattr(self, name)
                if sorted(int(v) for v in values) != list(range(j)):
                    problems.append("{} must be a permutation of 0..{}, got {!r}".format(name, j - 1, values))
        if self.tag_threshold <= 0:
            problems.append("tag_threshold must be > 0, got {!r}".format(self.tag_threshold))
        if not isinstance(self.max_num_people, int) or self.max_num_people <= 0:
            problems.append("max_num_people must be a positive int, got {!r}".format(self.max_num_people))
        kernel = self.nms_kernel
        if not isinstance(kernel, int) or kernel <= 0 or kernel % 2 == 0:
            problems.append("nms_kernel must be a positive odd int, got {!r}".format(kernel))
        if problems:
            raise ValueError("invalid DecoderConfig: " + "; ".join(problems))
        return self
