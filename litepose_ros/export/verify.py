"""Do two models (any backends) find the same people? Heatmap error statistics + OKS agreement.

Used by ``litepose verify``, by ``litepose build-engine`` (TensorRT vs ONNX Runtime on the
Jetson itself) and by ``litepose export-tflite`` (LiteRT vs PyTorch). Runtime code: Python 3.6,
numpy <= 1.19, no torch.
"""
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..backends.base import Backend
from ..common.metadata import ModelMetadata
from ..common.people import People
from ..image.preprocess import Preprocessor

# Defaults: the same people (mean OKS >= 0.9 over reference people) and heatmaps within 0.05.
DEFAULT_HEATMAP_TOLERANCE = 0.05
DEFAULT_MIN_OKS = 0.9
# People below this score flicker between runtimes even when nothing is wrong; they are not compared.
DEFAULT_MIN_SCORE = 0.2
FIXED_INPUT_SEED = 0


class Tolerance(NamedTuple):
    heatmap_max_abs: float = DEFAULT_HEATMAP_TOLERANCE
    min_oks: float = DEFAULT_MIN_OKS
    min_score: float = DEFAULT_MIN_SCORE


class OutputStats(NamedTuple):
    """|model - reference| over all inputs, separately for heatmaps and (unit-free) tags."""

    heatmap_max_abs: float
    heatmap_mean_abs: float
    heatmap_reference_max: float
    tag_max_abs: float
    tag_mean_abs: float


class VerifyReport(NamedTuple):
    inputs: int
    stats: OutputStats
    # Mean OKS between matched people over every reference and extra person (1.0 when neither has any).
    people_oks: float
    reference_people: int
    model_people: int
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        tol = self.tolerance
        return self.stats.heatmap_max_abs <= tol.heatmap_max_abs and self.people_oks >= tol.min_oks

    def summary(self) -> str:
        s = self.stats
        lines = [
            "inputs compared: {}".format(self.inputs),
            "heatmaps: max |diff| {:.3g} (tolerance {:g}), mean |diff| {:.3g}, reference max {:.3g}".format(
                s.heatmap_max_abs, self.tolerance.heatmap_max_abs, s.heatmap_mean_abs, s.heatmap_reference_max),
            "tags: max |diff| {:.3g}, mean |diff| {:.3g}".format(s.tag_max_abs, s.tag_mean_abs),
            "people (score >= {:g}): reference {}, model {}; agreement (mean OKS) {:.4f} (minimum {:g})".format(
                self.tolerance.min_score, self.reference_people, self.model_people, self.people_oks,
                self.tolerance.min_oks),
            "result: {}".format("PASS" if self.passed else "FAIL"),
        ]
        return "\n".join(lines)


def oks_matrix(model: People, reference: People, sigmas: Sequence[float]) -> np.ndarray:
    """COCO object keypoint similarity [len(model), len(reference)], on the reference's found joints.

    The object scale is the area of the reference person's keypoint box (the datasets use the
    segmentation area, which predictions do not have).
    """
    k2 = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    result = np.zeros((len(model), len(reference)), np.float64)
    boxes = reference.boxes()
    for j, ref in enumerate(reference.keypoints):
        visible = ref[:, 2] > 0
        if not visible.any():
            continue
        area = max(float((boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1])), 1.0)
        d2 = ((model.keypoints[:, :, :2] - ref[None, :, :2]) ** 2).sum(axis=2)
        e = d2 / (2.0 * area * k2[None, :])
        result[:, j] = np.exp(-e)[:, visible].mean(axis=1)
    return result


def people_agreement(model: People, reference: People, sigmas: Sequence[float]) -> Tuple[float, int]:
    """(sum of OKS over matched pairs, number of people counted): unmatched people count 0."""
    from scipy.optimize import linear_sum_assignment

    total = max(len(model), len(reference))
    if total == 0:
        return 0.0, 0
    oks = oks_matrix(model, reference, sigmas)
    if oks.size == 0:
        return 0.0, total
    rows, cols = linear_sum_assignment(-oks)
    return float(oks[rows, cols].sum()), total


def fixed_input(metadata: ModelMetadata, seed: int = FIXED_INPUT_SEED) -> np.ndarray:
    """A reproducible normalised input when no images are given (structure check, not people)."""
    image = np.random.RandomState(seed).uniform(0.0, 1.0, metadata.input_shape)
    mean = np.asarray(metadata.mean).reshape(1, 3, 1, 1)
    std = np.asarray(metadata.std).reshape(1, 3, 1, 1)
    return ((image - mean) / std).astype(np.float32)


def _check_same_model(model: Backend, reference: Backend) -> None:
    a, b = model.metadata, reference.metadata
    if a.input_shape != b.input_shape or a.num_joints != b.num_joints:
        raise ValueError("the models are not comparable: {} vs {}".format(a, b))


class _Accumulator(object):
    def __init__(self, num_joints: int) -> None:
        self.j = num_joints
        self.heat_max = self.heat_sum = self.heat_ref = self.tag_max = self.tag_sum = 0.0
        self.heat_count = self.tag_count = 0

    def add(self, got: Sequence[np.ndarray], ref: Sequence[np.ndarray]) -> None:
        j = self.j
        heat = [np.abs(got[0][:, :j] - ref[0][:, :j]), np.abs(got[1] - ref[1])]
        tags = np.abs(got[0][:, j:] - ref[0][:, j:])
        self.heat_max = max([self.heat_max] + [float(h.max()) for h in heat])
        self.heat_sum += sum(float(h.sum()) for h in heat)
        self.heat_count += sum(h.size for h in heat)
        self.heat_ref = max(self.heat_ref, float(np.abs(ref[0][:, :j]).max()), float(np.abs(ref[1]).max()))
        self.tag_max = max(self.tag_max, float(tags.max()) if tags.size else 0.0)
        self.tag_sum += float(tags.sum())
        self.tag_count += tags.size

    def stats(self) -> OutputStats:
        return OutputStats(self.heat_max, self.heat_sum / max(self.heat_count, 1), self.heat_ref,
                           self.tag_max, self.tag_sum / max(self.tag_count, 1))


def compare_backends(model: Backend, reference: Backend, images: Sequence[np.ndarray] = (),
                     tolerance: Optional[Tolerance] = None,
                     decoder_options: Optional[Dict[str, Any]] = None) -> VerifyReport:
    """Run both on the same BGR images (or one fixed tensor when none) and compare what they produce."""
    tolerance = tolerance or Tolerance()
    _check_same_model(model, reference)
    metadata = reference.metadata
    from ..decoding import DecoderConfig, decode  # scipy: only when verifying, not for `litepose --help`

    config = DecoderConfig.from_keypoint_set(metadata.keypoint_set(), **(decoder_options or {}))
    preprocess = Preprocessor(metadata)
    inputs = [preprocess(image) for image in images] if len(images) else [(fixed_input(metadata), None)]
    acc = _Accumulator(metadata.num_joints)
    oks_sum, counted, n_ref, n_model = 0.0, 0, 0, 0
    for tensor, box in inputs:
        got, ref = model.run(tensor), reference.run(tensor)
        acc.add(got, ref)
        people = [decode(outputs, config).filtered(tolerance.min_score) for outputs in (got, ref)]
        if box is not None:
            people = [box.people_to_source(p) for p in people]
        total, count = people_agreement(people[0], people[1], metadata.sigmas)
        oks_sum, counted = oks_sum + total, counted + count
        n_model, n_ref = n_model + len(people[0]), n_ref + len(people[1])
    agreement = oks_sum / counted if counted else 1.0
    return VerifyReport(len(inputs), acc.stats(), agreement, n_ref, n_model, tolerance)


def load_images(paths: Sequence[str], limit: int = 0) -> List[np.ndarray]:
    """BGR images from files and (non-recursively) directories; unreadable files are skipped."""
    from ..common.files import list_images, read_images

    files = list_images(paths)
    if limit > 0:
        files = files[:limit]
    return [image for _, image in read_images(files)]
