"""`litepose eval`: AP of a model on a COCO or CrowdPose annotation file.

``--protocol official`` (the default) is the official LitePose test and the number to compare
with the paper; ``--protocol robot`` is the same decoder on the square letterbox the node runs.
"""
import argparse
import json
import os
import sys

from ..common.files import progress, read_image
from .common import add_model_arguments, estimator_from_args


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("eval", help="evaluate a model on annotated images", description=__doc__)
    add_model_arguments(parser, default_protocol="official")
    parser.add_argument("--annotations", required=True, help="COCO-format keypoint annotation JSON")
    parser.add_argument("--images", required=True, help="directory holding the annotated images")
    parser.add_argument("--dataset", choices=("coco", "crowdpose"), help="default: the model's dataset")
    parser.add_argument("--output", metavar="FILE", help="also save the metrics as JSON here (default: print only)")
    parser.add_argument("--results", help="also save the COCO results JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def load_image_index(annotation_file: str):
    with open(annotation_file) as stream:
        data = json.load(stream)
    if "images" not in data or "annotations" not in data:
        raise ValueError("{} is not a COCO-format annotation file (needs 'images' and 'annotations')".format(
            annotation_file))
    return [(int(image["id"]), image["file_name"]) for image in data["images"]]


def run(args: argparse.Namespace) -> int:
    from ..backends import BackendError
    from ..evaluation.coco import evaluate, format_table

    try:
        estimator = estimator_from_args(args)
        images = load_image_index(args.annotations)
    except (BackendError, ValueError, OSError) as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    dataset = args.dataset or estimator.metadata.dataset
    if dataset != estimator.metadata.dataset:
        print("error: the model predicts {} keypoints, the annotations are {}".format(
            estimator.metadata.dataset, dataset), file=sys.stderr)
        return 1

    results, skipped = [], []
    for image_id, file_name in progress(images, len(images), "eval", enabled=not args.no_progress):
        image = read_image(os.path.join(args.images, file_name))
        if image is None:
            skipped.append(file_name)
            continue
        try:
            people, _ = estimator.estimate(image)
        except ValueError as error:  # an image the protocol cannot take (e.g. an extreme aspect ratio)
            print("warning: {}: {}".format(file_name, error), file=sys.stderr)
            skipped.append(file_name)
            continue
        results.extend(people.to_coco_results(image_id))
    for file_name in skipped:
        print("warning: skipped image {} (unreadable, missing, or refused as said above)".format(file_name),
              file=sys.stderr)
    if len(skipped) == len(images):
        print("error: none of the {} annotated images could be read".format(len(images)), file=sys.stderr)
        return 1

    try:
        metrics = evaluate(results, args.annotations, dataset)
    except RuntimeError as error:  # the evaluator is missing or broken; says how to fix it
        print("error: {}".format(error), file=sys.stderr)
        return 1
    print("{} protocol: {}".format(args.protocol, estimator.describe()))
    print(format_table(metrics))
    report = {
        "model": str(args.model), "dataset": dataset, "protocol": args.protocol,
        "images": len(images) - len(skipped), "skipped_images": skipped, "metrics": metrics,
    }
    if args.output:
        with open(args.output, "w") as stream:
            json.dump(report, stream, indent=2)
    if args.results:
        with open(args.results, "w") as stream:
            json.dump(results, stream)
    return 0
