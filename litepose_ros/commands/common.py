"""Arguments and helpers shared by the subcommands that run a model on images."""
import argparse

# "official": the reference evaluation protocol (flip test, heatmaps projected to input size).
# "fast": what the robot runs (no flip, grouping at stride-2 heatmap resolution).
PROTOCOLS = {
    "official": {"flip_test": True, "project_to_input": True},
    "fast": {"flip_test": False, "project_to_input": False},
}


def add_model_arguments(parser: argparse.ArgumentParser, default_protocol: str) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", required=True, help="exported model (.onnx, .tflite, .engine)")
    group.add_argument("--backend", default="auto", help="backend id, or auto to pick by file suffix")
    group.add_argument("--threads", type=int, default=0, help="inference threads (0: runtime default)")
    group.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), default=default_protocol,
        help="official: flip test + input-resolution decoding; fast: the robot's settings (default: %(default)s)",
    )
    group.add_argument("--detection-threshold", type=float, default=0.1)
    group.add_argument("--tag-threshold", type=float, default=1.0)
    group.add_argument("--max-people", type=int, default=30)


def estimator_from_args(args: argparse.Namespace):  # -> PoseEstimator (imported lazily)
    from ..pipeline import PoseEstimator

    protocol = PROTOCOLS[args.protocol]
    return PoseEstimator.from_model(
        args.model,
        backend=args.backend,
        threads=args.threads,
        flip_test=protocol["flip_test"],
        project_to_input=protocol["project_to_input"],
        detection_threshold=args.detection_threshold,
        tag_threshold=args.tag_threshold,
        max_num_people=args.max_people,
    )
