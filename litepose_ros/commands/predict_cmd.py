"""`litepose predict`: people in image files, as COCO results JSON and drawn skeletons."""
import argparse
import json
import os
import sys

import cv2

from ..common.files import list_images, progress, read_images
from .common import add_model_arguments, estimator_from_args


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="detect people in images", description=__doc__)
    parser.add_argument("inputs", nargs="+", metavar="IMAGE_OR_DIR")
    add_model_arguments(parser, default_protocol="fast")
    parser.add_argument("--output", help="write COCO keypoint results JSON here")
    parser.add_argument("--draw", metavar="OUT_DIR", help="write each image with skeletons drawn here")
    parser.add_argument("--min-score", type=float, default=0.0, help="drop people scoring below this")
    parser.set_defaults(func=run)


def image_id_for(path: str, index: int) -> int:
    """COCO-style numeric file names keep their id; anything else is numbered in order."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return int(stem) if stem.isdigit() else index


def run(args: argparse.Namespace) -> int:
    from ..backends import BackendError
    from ..image.draw import draw_people

    try:
        estimator = estimator_from_args(args)
    except BackendError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    paths = list_images(args.inputs)
    if args.draw:
        os.makedirs(args.draw, exist_ok=True)
    results = []
    processed = 0
    for index, (path, image) in enumerate(progress(read_images(paths), len(paths), "predict")):
        people, _ = estimator.estimate(image)
        people = people.filtered(min_score=args.min_score)
        for result in people.to_coco_results(image_id_for(path, index)):
            result["file_name"] = os.path.basename(path)
            results.append(result)
        if args.draw:
            drawn = draw_people(image, people, estimator.metadata.skeleton)
            cv2.imwrite(os.path.join(args.draw, os.path.basename(path)), drawn)
        processed += 1
        print("{}: {} people".format(path, len(people)))
    if args.output:
        with open(args.output, "w") as stream:
            json.dump(results, stream)
    print("{} of {} images processed, {} people".format(processed, len(paths), len(results)))
    return 0 if processed or not paths else 1
