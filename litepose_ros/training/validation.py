"""Validation during training: the model (still in PyTorch, on its device) goes through the
same pre-processing, decoder and evaluator as ``litepose eval`` on an exported model, under one
of the protocols of ``litepose_ros.evaluation.protocols`` (the official one by default: it picks best.pth)."""
import json
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn

from ..common.metadata import ModelMetadata
from ..model.module_backend import ModuleBackend
from .datasets import ImageRecord

__all__ = ["ModuleBackend", "predict", "subset_annotations", "validate"]


def subset_annotations(annotation_file: str, image_ids: Sequence[int], out_path: str) -> str:
    """Write the annotations of ``image_ids`` only, so images left out do not count as misses."""
    with open(annotation_file) as stream:
        data = json.load(stream)
    keep = set(int(i) for i in image_ids)
    data["images"] = [image for image in data["images"] if int(image["id"]) in keep]
    data["annotations"] = [ann for ann in data["annotations"] if int(ann["image_id"]) in keep]
    with open(out_path, "w") as stream:
        json.dump(data, stream)
    return out_path


def predict(model: nn.Module, records: Sequence[ImageRecord], metadata: ModelMetadata, device: torch.device,
            protocol: str = "official", progress: bool = False) -> List[Dict[str, Any]]:
    """COCO-format results of ``model`` on ``records`` (source-image pixels)."""
    from ..backends import NonFiniteOutput
    from ..common.files import read_image
    from ..evaluation.protocols import protocol_options
    from ..pipeline.estimator import PoseEstimator

    was_training = model.training
    model.eval()
    estimator = PoseEstimator(ModuleBackend(model, metadata, device), **protocol_options(protocol))
    results: List[Dict[str, Any]] = []
    iterator: Any = records
    if progress:
        from tqdm import tqdm

        iterator = tqdm(records, desc="val", unit="img", leave=False)
    for record in iterator:
        image = read_image(record.path)
        if image is None:
            raise OSError("cannot read validation image {}".format(record.path))
        try:
            people, _ = estimator.estimate(image)
        except NonFiniteOutput:  # a diverging model: no detections for this image (its AP shows it)
            continue
        results.extend(people.to_coco_results(record.image_id))
    model.train(was_training)
    return results


def validate(model: nn.Module, records: Sequence[ImageRecord], annotation_file: str, metadata: ModelMetadata,
             device: torch.device, protocol: str = "official", progress: bool = False,
             work_dir: Optional[str] = None) -> "OrderedDict[str, float]":
    """AP/AR of ``model`` on ``records`` with the dataset's official evaluator."""
    from ..evaluation.coco import evaluate

    results = predict(model, records, metadata, device, protocol, progress)
    if work_dir is not None:
        annotation_file = subset_annotations(annotation_file, [r.image_id for r in records],
                                             os.path.join(work_dir, "val_subset.json"))
    return evaluate(results, annotation_file, metadata.dataset)
