"""`litepose bag analyze|summary`: pose statistics from rosbag2 recordings, without ROS."""
import argparse

from ..settings.parameters import BAG_OPTION, PARAMETERS
from .common import add_parameter_option


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("bag", help="analyse rosbag2 recordings (sqlite3, MCAP)", description=__doc__)
    commands = parser.add_subparsers(dest="bag_command", metavar="BAG_COMMAND")
    parser.set_defaults(func=lambda args: parser.print_help() or 2)
    _add_analyze(commands)
    _add_summary(commands)


def _add_outputs(parser: argparse.ArgumentParser) -> None:
    """Options both commands share: outputs, the visibility threshold, --no-progress."""
    group = parser.add_argument_group("outputs")
    group.add_argument("--csv", metavar="FILE", help="per-frame table: one row per person (or per empty frame)")
    group.add_argument("--summary", metavar="FILE", help="summary statistics as JSON (also printed)")
    group.add_argument("--plots", metavar="DIR", help="write people_over_time, latency_histogram and "
                       "keypoint_visibility PNGs here")
    group.add_argument("--visibility-threshold", type=float, default=0.1,
                       help="a keypoint counts as visible above this score (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_analyze(commands) -> None:
    parser = commands.add_parser(
        "analyze", help="run the pose pipeline over a camera topic",
        description="Run pose_node's pipeline on every frame of an Image or CompressedImage topic.",
    )
    parser.add_argument("input", metavar="INPUT_BAG", help="rosbag2 directory (or a .db3/.mcap file)")
    parser.add_argument("--topic", help="image topic (default: from --params, else the bag's only image topic)")
    parser.add_argument("--output", metavar="OUT_BAG", help="write a rosbag2 with /poses (litepose_ros/msg/PoseArray)")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3", help="output bag storage")
    parser.add_argument("--debug-images", action="store_true",
                        help="also write /debug_image (sensor_msgs/Image bgr8 with skeletons drawn)")
    parser.add_argument("--start", type=float, default=0.0, metavar="T",
                        help="skip messages received before T seconds after the bag's start")
    parser.add_argument("--end", type=float, metavar="T", help="stop at T seconds after the bag's start")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="process every N-th frame")
    depth = parser.add_argument_group("3D (people in metres, as pose_node with depth_topic)")
    depth.add_argument("--depth-topic", metavar="TOPIC",
                       help="depth image registered to the colour image (16UC1 mm or 32FC1 m): adds 3D to the poses "
                       "bag and CSV; pairing and range from --params (depth_* parameters)")
    depth.add_argument("--camera-info-topic", metavar="TOPIC",
                       help="the colour camera's CameraInfo (default: camera_info beside the image topic)")
    model = parser.add_argument_group("model (as pose_node's parameters; the command line wins over --params)")
    model.add_argument("--params", metavar="FILE", help="pose_node parameters file, e.g. config/cpu.yaml")
    for param in PARAMETERS:
        if param.bag == BAG_OPTION:
            add_parameter_option(model, param.name, with_default=False)
    _add_outputs(parser)
    parser.set_defaults(func=_run_analyze)


def _add_summary(commands) -> None:
    parser = commands.add_parser(
        "summary", help="statistics and plots from a bag of PoseArray messages",
        description="The analyze statistics from a poses bag (e.g. `ros2 bag record /poses`); no model needed.",
    )
    parser.add_argument("input", metavar="POSES_BAG", help="rosbag2 directory (or a .db3/.mcap file)")
    parser.add_argument("--topic", default="/poses", help="PoseArray topic (default: %(default)s)")
    _add_outputs(parser)
    parser.set_defaults(func=_run_summary)


def _run_analyze(args: argparse.Namespace) -> int:
    from ..bag.analyze import run

    return run(args)


def _run_summary(args: argparse.Namespace) -> int:
    from ..bag.summary import run

    return run(args)
