"""COCO / CrowdPose keypoint evaluation of decoder results (tooling, not runtime).

COCO uses pycocotools' ``keypoints`` protocol. CrowdPose annotations have no ``area``;
they are scored with xtcocotools' ``keypoints_crowd`` protocol, the CrowdPose sigmas and
``use_area=False`` (area = 0.53 * box area), which also reports AP on the easy / medium /
hard crowd-index splits.
"""
import contextlib
import io
import json
import tempfile
from collections import OrderedDict
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from ..common.keypoints import CROWDPOSE

COCO_METRICS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
CROWDPOSE_METRICS = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")


def _pycocotools() -> Tuple[Any, Any]:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    return COCO, COCOeval


def _xtcocotools() -> Tuple[Any, Any]:
    try:
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    except (ImportError, ValueError) as error:
        # ValueError: the published wheels are compiled against numpy 1.x and fail under numpy 2.
        raise RuntimeError(
            "CrowdPose evaluation needs xtcocotools built for this numpy ({}); install it with "
            "`pip install cython && pip install --no-binary xtcocotools --no-build-isolation xtcocotools`".format(error)
        ) from None
    return COCO, COCOeval


def _clean_results(results: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [
        {
            "image_id": int(r["image_id"]),
            "category_id": int(r.get("category_id", 1)),
            "keypoints": [float(v) for v in r["keypoints"]],
            "score": float(r["score"]),
        }
        for r in results
    ]


def _load_results(gt: Any, coco_cls: Any, results: List[Dict[str, Any]]) -> Any:
    if not results:  # loadRes cannot take an empty list; an empty result set scores AP 0
        dt = coco_cls()
        dt.dataset = {"images": list(gt.dataset["images"]), "categories": gt.dataset["categories"], "annotations": []}
        dt.createIndex()
        if len(getattr(gt, "anno_file", ())) == 1:  # xtcocotools' crowd summary expects [gt, results]
            gt.anno_file.append("")
        return dt
    # xtcocotools' loadRes wants a file name; pycocotools takes either.
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(results, handle)
        handle.flush()
        return gt.loadRes(handle.name)


def _run(results: List[Dict[str, Any]], annotation_file: str, dataset: str) -> np.ndarray:
    coco_cls, eval_cls = _pycocotools() if dataset == "coco" else _xtcocotools()
    gt = coco_cls(annotation_file)
    dt = _load_results(gt, coco_cls, results)
    if dataset == "coco":
        evaluator = eval_cls(gt, dt, "keypoints")
    else:
        evaluator = eval_cls(gt, dt, "keypoints_crowd", np.array(CROWDPOSE.sigmas), use_area=False)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return np.asarray(evaluator.stats, dtype=np.float64)


def evaluate(
    results: Sequence[Dict[str, Any]], annotation_file: str, dataset: str, verbose: bool = False
) -> "OrderedDict[str, float]":
    """Keypoint AP/AR of COCO-format results against a COCO-format annotation file.

    ``dataset`` is "coco" or "crowdpose". No results scores AP 0 (-1 where a split has no
    ground truth, as the evaluators report it).
    """
    dataset = dataset.lower()
    if dataset not in ("coco", "crowdpose"):
        raise ValueError("dataset must be 'coco' or 'crowdpose', got {!r}".format(dataset))
    names = COCO_METRICS if dataset == "coco" else CROWDPOSE_METRICS
    cleaned = _clean_results(results)
    if verbose:
        stats = _run(cleaned, str(annotation_file), dataset)
    else:
        with contextlib.redirect_stdout(io.StringIO()):
            stats = _run(cleaned, str(annotation_file), dataset)
    return OrderedDict((name, float(value)) for name, value in zip(names, stats))


def format_table(metrics: "OrderedDict[str, float]") -> str:
    """A one-row markdown table of the metrics."""
    names = list(metrics)
    return "\n".join(
        [
            "| " + " | ".join(names) + " |",
            "|" + "---|" * len(names),
            "| " + " | ".join("{:.3f}".format(metrics[n]) for n in names) + " |",
        ]
    )
