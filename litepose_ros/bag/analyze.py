"""`litepose bag analyze`: run the pose node's pipeline over a camera topic of a bag.

Per frame, exactly what pose_node does: decode, then ``FrameProcessor.process`` (the estimator,
``min_person_score`` / ``max_people``, the person tracker on the header stamps and the depth
lift); the PoseArray carries the source header and the track ids.
"""
import os
import re
import signal
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..common.files import file_problem
from ..common.interrupt import GracefulInterrupt, signals_ignored
from ..messages.pose_array import MessageTypes, PoseArrayBuilder
from ..pipeline.frame_processor import FrameProcessor
from ..settings.factories import estimator_from_settings, tracker_config, tracker_from_settings
from ..settings.parameters import BAG_OPTION, NODE_NAME, PARAMETERS, check_depth, defaults, input_topic
from ..settings.params_file import parameters_from_file
from . import BagError
from .depth_source import BagDepth, default_camera_info_topic
from .outputs import OutputError, SpaceWatch, check_output_paths, write_json
from .reader import Frame, FrameSource, open_bag
from .stats import FrameRecord, FrameTable, format_summary, summarize
from .types import IMAGE, IMAGE_TYPES, POSE_ARRAY, typestore

# The node parameters that change what analyze computes.
USED_PARAMETERS = tuple(p.name for p in PARAMETERS if p.bag)
NODE_NAMES = ["/**", NODE_NAME, "/" + NODE_NAME]
POSES_TOPIC = "/poses"  # the node publishes relative "poses" and "debug_image"
DEBUG_TOPIC = "/debug_image"
EXIT_INTERRUPTED = 130


def load_params_file(path: str) -> Dict[str, Any]:
    """ros__parameters of pose_node from a ROS 2 parameters file (as in config/*.yaml)."""
    import yaml

    try:
        with open(path) as stream:
            document = yaml.safe_load(stream) or {}
    except (OSError, yaml.YAMLError) as error:
        raise BagError("cannot read parameters file {}: {}".format(path, error)) from None
    params = parameters_from_file(document, NODE_NAMES) if isinstance(document, dict) else None
    if params is None:
        raise BagError("{}: no '<node>: ros__parameters:' section".format(path))
    return params


def resolve_settings(args: Any) -> Dict[str, Any]:
    """Node defaults < parameters file < command-line options."""
    settings = {name: value for name, value in defaults().items() if name in USED_PARAMETERS}
    if args.params:
        params = load_params_file(args.params)
        settings.update({k: v for k, v in params.items() if k in USED_PARAMETERS})
    # each BAG_OPTION parameter has an option (dest = its short name) that is None unless given
    overrides = {p.name: getattr(args, p.short) for p in PARAMETERS if p.bag == BAG_OPTION}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if getattr(args, "depth_topic", None) and check_depth(settings):
        raise BagError(check_depth(settings))
    if not settings["model_path"]:
        raise BagError("no model: pass --model or a --params file with model_path")
    problem = file_problem(os.path.expanduser(str(settings["model_path"])), "model file")
    if problem:
        raise BagError(problem)
    settings["model_path"] = os.path.expanduser(str(settings["model_path"]))
    problem = tracker_config(settings).problem()
    if problem:
        raise BagError(problem)
    return settings


def load_estimator(settings: Dict[str, Any]):  # -> PoseEstimator
    from ..backends import BackendError
    from ..common.metadata import ModelMetadataError

    try:
        return estimator_from_settings(settings)
    except (BackendError, ModelMetadataError, OSError, ValueError) as error:
        raise BagError("cannot load model {}: {}".format(settings["model_path"], error)) from None


def choose_topic(args: Any, settings: Dict[str, Any]) -> str:
    """--topic, else the params file's image topic, else the bag's only image topic."""
    if args.topic:
        return args.topic
    if args.params and settings["image_topic"]:
        return "/" + input_topic(str(settings["image_topic"]), settings["image_transport"]).strip("/")
    reader = open_bag(args.input)
    try:
        images = sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})
    finally:
        reader.close()
    if len(images) != 1:
        raise BagError("pass --topic; image topics in the bag: {}".format(", ".join(images) or "none"))
    return images[0]


class PosesWriter(object):
    """The output rosbag2: PoseArray on /poses (and annotated images), log times from the source."""

    def __init__(self, path: str, storage: str, debug_images: bool, metadata: Any, model_path: str,
                 backend: str) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer, WriterError

        self.store = typestore()
        self.builder = PoseArrayBuilder(rosbags_types(self.store), metadata, model_path, backend)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        try:
            # Version 8: Humble's metadata parser cannot read version 9 QoS lists.
            self.writer = Writer(path, version=8, storage_plugin=plugin)
            self.writer.open()
        except (WriterError, OSError) as error:
            raise BagError("cannot create output bag: {}".format(error)) from None
        self.poses = self.writer.add_connection(POSES_TOPIC, POSE_ARRAY, typestore=self.store)
        self.debug = self.writer.add_connection(DEBUG_TOPIC, IMAGE, typestore=self.store) if debug_images else None
        self.count = 0

    def header(self, source: Any) -> Any:
        types = self.store.types
        stamp = types["builtin_interfaces/msg/Time"](sec=int(source.stamp.sec), nanosec=int(source.stamp.nanosec))
        return types["std_msgs/msg/Header"](stamp=stamp, frame_id=str(source.frame_id))

    def write(self, frame: Frame, people: Any, processing_ms: float, annotated: Any = None,
              positions: Any = None, position_frame_id: str = "", track_ids: Any = None) -> None:
        """``positions`` (depth.People3D, when analyze has depth) the people's 3D in ``position_frame_id``;
        ``track_ids`` one per person."""
        header = self.header(frame.header)
        height, width = frame.image.shape[:2]
        message = self.builder.build(people, header, width, height, processing_ms, positions, position_frame_id,
                                     track_ids)
        self.writer.write(self.poses, frame.log_time_ns, self.store.serialize_cdr(message, POSE_ARRAY))
        if self.debug is not None and annotated is not None:
            height, width = annotated.shape[:2]
            image = self.store.types[IMAGE](header=header, height=height, width=width, encoding="bgr8",
                                            is_bigendian=0, step=width * 3, data=annotated.reshape(-1))
            self.writer.write(self.debug, frame.log_time_ns, self.store.serialize_cdr(image, IMAGE))
        self.count += 1

    def close(self) -> None:
        self.writer.close()  # writes the index and metadata.yaml: the bag is valid from here


def rosbags_types(store: Any) -> MessageTypes:
    types = store.types
    return MessageTypes(pose_array=types[POSE_ARRAY], person=types["litepose_ros/msg/Person"],
                        keypoint=types["litepose_ros/msg/Keypoint"], limb=types["litepose_ros/msg/Limb"],
                        point=types["geometry_msgs/msg/Point"])


def process_frames(
    source: FrameSource,
    estimator: Any,
    settings: Dict[str, Any],
    on_frame: Callable[[Frame, FrameRecord, Any], None],
    stop: GracefulInterrupt,
    show_progress: bool,
    records: List[FrameRecord],
    depth: Optional[BagDepth] = None,
) -> None:
    """Appends to records as it goes, so an abort keeps what was done. With ``depth`` the
    records carry the people's 3D (when the frame pairs with a depth image)."""
    from ..common.files import progress

    tracker = tracker_from_settings(settings, estimator.metadata.sigmas)  # settings checked by resolve_settings
    processor = FrameProcessor(estimator, settings, tracker)
    from ..backends import BackendError

    for frame in progress(source, source.total, "analyze", enabled=show_progress):
        try:
            result = processor.process(frame.image, frame.stamp_ns, depth.lifter_for(frame) if depth else None,
                                       str(frame.header.frame_id))
        except BackendError as error:  # NaN outputs or a runtime failure: counted, said once per reason
            reason = "model failed: {}".format(_without_counts(str(error)))
            if not source.skipped[reason]:
                print("frame {}: {}".format(frame.index, error), file=sys.stderr)
            source.skipped[reason] += 1
            source.model_errors += 1
            if stop.stopped:
                break
            continue
        if result.reset_reason:
            print("frame {}: tracks reset: {}".format(frame.index, result.reset_reason), file=sys.stderr)
        timings = result.timings
        stages = {"preprocess": timings.preprocess_ms, "inference": timings.inference_ms, "decode": timings.decode_ms,
                  "track": result.track_ms}
        record = FrameRecord(frame.index, frame.stamp_ns, result.people, timings.total_ms, stages, result.track_ids,
                             result.positions, result.frame_id)
        records.append(record)
        on_frame(frame, record, result.people)
        if stop.stopped:
            break


def _without_counts(text: str) -> str:
    """One reason per kind of failure: numbers that change from frame to frame taken out."""
    return re.sub(r"\bholds \d+ of \d+ values\b", "holds values", text)


def analyze_frames(
    args: Any, settings: Dict[str, Any], source: FrameSource, estimator: Any, stop: GracefulInterrupt,
    depth: Optional[BagDepth] = None,
) -> Tuple[Dict[str, Any], List[FrameRecord]]:
    """Everything after the bag and the model are open: the summary, and the records to plot.
    Whatever ends the loop (the last frame, a stop signal, a full disk) the outputs are closed
    valid; an output that failed is named in ``summary["run"]["output_error"]``."""
    from ..image.draw import draw_people

    metadata = estimator.metadata
    table = None  # type: Optional[FrameTable]
    try:  # the table first: a bag is harder to undo than an empty CSV
        table = FrameTable(args.csv, metadata.keypoint_names, with_3d=depth is not None) if args.csv else None
    except OSError as error:
        raise OutputError("cannot write --csv {}: {}".format(args.csv, error.strerror or error)) from None
    try:
        writer = (PosesWriter(args.output, args.storage, args.debug_images, metadata, settings["model_path"],
                              estimator.backend.name) if args.output else None)
    except BagError:
        if table:
            table.close()
        raise
    space = SpaceWatch([args.output, args.csv])

    def on_frame(frame: Frame, record: FrameRecord, people: Any) -> None:
        space.check()
        if table:
            try:
                table.add(record)
            except OSError as error:
                raise OutputError("cannot write --csv {}: {}".format(args.csv, error.strerror or error)) from None
        if writer:
            annotated = (draw_people(frame.image, people, metadata.skeleton, track_ids=record.track_ids)
                         if args.debug_images else None)
            try:
                writer.write(frame, people, record.processing_ms, annotated, record.positions,
                             record.position_frame_id, record.track_ids)
            except Exception as error:  # noqa: B902 - OSError, sqlite3 and rosbags errors: the disk failed
                raise OutputError("cannot write the output bag {}: {}".format(args.output, error)) from None

    records: List[FrameRecord] = []
    output_errors = []  # type: List[str]
    started = time.perf_counter()
    try:
        process_frames(source, estimator, settings, on_frame, stop, not args.no_progress, records, depth)
    except KeyboardInterrupt:  # second Ctrl-C, or no handler outside the main thread
        stop.stopped = True
    except OutputError as error:
        output_errors.append(str(error))
        if records:
            records.pop()  # process_frames appended the frame whose outputs failed: not in the summary
    finally:
        with signals_ignored():  # a valid bag even if a second stop signal comes now
            output_errors += _close_outputs(writer, table, args)
    wall_s = time.perf_counter() - started
    summary = summarize(records, metadata.keypoint_names, source.counts(), source.read_stamps_ns,
                        args.visibility_threshold)
    if depth is not None:
        summary["depth"] = depth.summary()
    summary["run"] = {
        "input": args.input, "topic": source.topic, "msgtype": source.msgtype, "output": args.output,
        "poses_written": writer.count if writer else 0, "interrupted": stop.stopped,
        "stop_signal": signal.Signals(stop.signal).name if stop.signal is not None else None,
        "output_error": "; ".join(output_errors) or None,
        "wall_s": round(wall_s, 3), "frames_per_s": round(len(records) / wall_s, 3) if wall_s > 0 else None,
        "model": os.path.basename(settings["model_path"]), "model_arch": metadata.arch,
        "dataset": metadata.dataset, "backend": estimator.backend.name,
        "settings": {k: v for k, v in settings.items() if k not in ("image_topic", "image_transport")},
    }
    return summary, records


def _close_outputs(writer: Optional[PosesWriter], table: Optional[FrameTable], args: Any) -> List[str]:
    """Close both (each even if the other fails); what failed, in words."""
    problems = []
    if writer:
        try:
            writer.close()
        except Exception as error:  # noqa: B902 - the disk failed while the index was written
            problems.append("cannot finish the output bag {}: {}".format(args.output, error))
    if table:
        try:
            table.close()
        except OSError as error:
            problems.append("cannot close --csv {}: {}".format(args.csv, error.strerror or error))
    return problems


def run(args: Any, estimator: Any = None) -> int:
    """CLI entry; ``estimator`` may be injected (tests). Returns the exit code."""
    try:
        settings = resolve_settings(args)
        if args.output and os.path.exists(args.output):
            raise BagError("output {} exists already; not overwriting".format(args.output))
        # Bag and topic first: their errors should not wait for a model to load.
        with FrameSource(args.input, choose_topic(args, settings), args.start, args.end, args.every) as source:
            check_output_paths(args)  # input errors first, then output ones, both before the model loads
            depth = open_depth(args, source.topic, settings)
            try:
                if estimator is None:
                    estimator = load_estimator(settings)
                with GracefulInterrupt("stopping after this frame (Ctrl-C again to abort)") as stop:
                    summary, records = analyze_frames(args, settings, source, estimator, stop, depth)
            finally:
                if depth is not None:
                    depth.close()
    except BagError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    written = finish(summary, records, args, title="{} on {}".format(summary["run"]["model"],
                                                                     summary["run"]["topic"]))
    problem = summary["run"]["output_error"] or written
    if problem:
        print("error: {}; outputs hold the {} frames before".format(problem, summary["frames"]["processed"]),
              file=sys.stderr)
    if summary["run"]["interrupted"]:
        print("interrupted: outputs hold the {} frames processed".format(summary["frames"]["processed"]),
              file=sys.stderr)
        return stop.exit_code
    if problem or summary["frames"]["read_error"] or source.model_errors:
        return 1
    return 0


def open_depth(args: Any, image_topic: str, settings: Dict[str, Any]) -> Optional[BagDepth]:
    """The bag's depth + camera_info topics when --depth-topic is given, else None."""
    if not getattr(args, "depth_topic", None):
        return None
    info_topic = getattr(args, "camera_info_topic", None) or default_camera_info_topic(image_topic)
    return BagDepth(args.input, args.depth_topic, info_topic, settings)


def finish(summary: Dict[str, Any], records: List[FrameRecord], args: Any, title: str) -> Optional[str]:
    """Print the summary, write its JSON and the plots (shared with `bag summary`); what could
    not be written, in words (None: all was)."""
    from .plots import write_plots

    print(format_summary(summary))
    run_info = summary.get("run", {})
    if run_info.get("frames_per_s"):
        print("throughput: {} frames/s over {} s (model {}, backend {})".format(
            run_info["frames_per_s"], run_info["wall_s"], run_info.get("model"), run_info.get("backend")))
    problem = None
    if args.summary:
        try:
            write_json(args.summary, summary)
            print("summary: {}".format(args.summary))
        except OutputError as error:
            problem = str(error)
    if args.plots:
        try:
            if records:
                print("plots: {}".format(", ".join(write_plots(records, summary, args.plots, title))))
            else:
                print("plots: nothing to plot (no frames processed)")
        except OSError as error:
            problem = "cannot write --plots {}: {}".format(args.plots, error.strerror or error)
    return problem
