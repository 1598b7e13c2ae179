"""What a model file carries about itself, so that nothing else has to travel with it.

The same JSON document is embedded in every exported model (ONNX metadata_props,
TFLite metadata, the TensorRT engine's sidecar) under the key ``METADATA_KEY``.
"""
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .architectures import input_size_problem
from .keypoints import KeypointSet, get_keypoint_set

METADATA_KEY = "litepose"
FORMAT_VERSION = 1

INPUT_NAME = "image"
# Stage 1 (stride 4): J heatmaps then J associative-embedding tags; stage 2 (stride 2): J heatmaps.
OUTPUT_NAMES = ("heatmaps_tags", "heatmaps_highres")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ModelMetadataError(ValueError):
    """A model's embedded metadata is missing or inconsistent."""


class ModelMetadata(object):
    """Architecture, keypoints and input convention of one exported network."""

    def __init__(
        self,
        arch: str,
        dataset: str,
        input_width: int,
        input_height: int,
        keypoint_names: Sequence[str],
        skeleton: Sequence[Sequence[int]],
        flip_index: Sequence[int],
        joint_order: Sequence[int],
        sigmas: Sequence[float],
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        color_order: str = "rgb",
        weights: str = "unknown",
        input_name: str = INPUT_NAME,
        output_names: Sequence[str] = OUTPUT_NAMES,
    ) -> None:
        self.arch = arch
        self.dataset = dataset
        self.input_width = int(input_width)
        self.input_height = int(input_height)
        self.keypoint_names = [str(n) for n in keypoint_names]
        self.skeleton = [(int(a), int(b)) for a, b in skeleton]
        self.flip_index = [int(i) for i in flip_index]
        self.joint_order = [int(i) for i in joint_order]
        self.sigmas = [float(s) for s in sigmas]
        self.mean = [float(m) for m in mean]
        self.std = [float(s) for s in std]
        self.color_order = color_order
        self.weights = weights
        self.input_name = input_name
        self.output_names = list(output_names)
        self.validate()

    @classmethod
    def for_dataset(
        cls, arch: str, dataset: str, input_width: int, input_height: int, weights: str
    ) -> "ModelMetadata":
        kps = get_keypoint_set(dataset)
        return cls(
            arch=arch,
            dataset=kps.name,
            input_width=input_width,
            input_height=input_height,
            keypoint_names=kps.keypoint_names,
            skeleton=kps.skeleton,
            flip_index=kps.flip_index,
            joint_order=kps.joint_order,
            sigmas=kps.sigmas,
            weights=weights,
        )

    @property
    def num_joints(self) -> int:
        return len(self.keypoint_names)

    @property
    def input_shape(self) -> Tuple[int, int, int, int]:
        return (1, 3, self.input_height, self.input_width)

    def output_shapes(self, input_height: int = 0, input_width: int = 0) -> List[Tuple[int, int, int, int]]:
        """Shapes of the two outputs, in OUTPUT_NAMES order, for the metadata's input size or the given one."""
        j = self.num_joints
        h, w = input_height or self.input_height, input_width or self.input_width
        return [(1, 2 * j, h // 4, w // 4), (1, j, h // 2, w // 2)]

    def keypoint_set(self) -> KeypointSet:
        return KeypointSet(
            name=self.dataset,
            keypoint_names=tuple(self.keypoint_names),
            skeleton=tuple(self.skeleton),
            flip_index=tuple(self.flip_index),
            sigmas=tuple(self.sigmas),
            joint_order=tuple(self.joint_order),
        )

    def validate(self) -> None:
        j = self.num_joints
        problems = []
        size_problem = input_size_problem(self.input_width, self.input_height)
        if size_problem:
            problems.append(size_problem)
        for name, values in (("flip_index", self.flip_index), ("joint_order", self.joint_order)):
            if sorted(values) != list(range(j)):
                problems.append("{} is not a permutation of 0..{}".format(name, j - 1))
        if len(self.sigmas) != j:
            problems.append("{} sigmas for {} keypoints".format(len(self.sigmas), j))
        if any(not (0 <= a < j and 0 <= b < j) for a, b in self.skeleton):
            problems.append("skeleton refers to keypoints outside 0..{}".format(j - 1))
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            problems.append("mean and std need 3 values each, std > 0")
        if self.color_order not in ("rgb", "bgr"):
            problems.append("color_order must be 'rgb' or 'bgr'")
        if len(self.output_names) != 2:
            problems.append("exactly two output names are expected")
        if problems:
            raise ModelMetadataError("invalid model metadata: " + "; ".join(problems))

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "arch": self.arch,
            "dataset": self.dataset,
            "input_width": self.input_width,
            "input_height": self.input_height,
            "keypoint_names": self.keypoint_names,
            "skeleton": [list(pair) for pair in self.skeleton],
            "flip_index": self.flip_index,
            "joint_order": self.joint_order,
            "sigmas": self.sigmas,
            "mean": self.mean,
            "std": self.std,
            "color_order": self.color_order,
            "weights": self.weights,
            "input_name": self.input_name,
            "output_names": self.output_names,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "ModelMetadata":
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelMetadataError(
                "unsupported metadata format_version {!r} (this build reads {})".format(version, FORMAT_VERSION)
            )
        fields = dict(data)
        fields.pop("format_version")
        try:
            return cls(**fields)
        except TypeError as error:
            raise ModelMetadataError("malformed model metadata: {}".format(error)) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: Optional[str], source: str = "model") -> "ModelMetadata":
        if not text:
            raise ModelMetadataError(
                "{} has no '{}' metadata; export it with `litepose export`".format(source, METADATA_KEY)
            )
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ModelMetadataError("{}: metadata is not valid JSON ({})".format(source, error)) from None
        if not isinstance(data, dict):
            raise ModelMetadataError("{}: metadata must be a JSON object".format(source))
        return cls.from_dict(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelMetadata) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "ModelMetadata(arch={!r}, dataset={!r}, input={}x{}, weights={!r})".format(
            self.arch, self.dataset, self.input_width, self.input_height, self.weights
        )
