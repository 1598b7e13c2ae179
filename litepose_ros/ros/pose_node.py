"""`pose_node`: camera images in, litepose_ros/PoseArray out, with diagnostics.

The subscription callback only drops the message into a one-slot mailbox (``LatestFrame``);
a worker thread decodes, runs the model and publishes. A camera faster than the model thus
costs dropped (and counted) frames, never growing latency or memory.

Run: ``ros2 run litepose_ros pose_node --ros-args --params-file config/cpu.yaml`` or
``python -m litepose_ros.ros.pose_node --ros-args -p model_path:=model.onnx``.
"""
# ruff: noqa: E402  (the stop-signal handlers go in before the slow imports)
import sys

if __name__ == "__main__":  # Ctrl-C while rclpy, OpenCV and the runtimes import: exit quietly
    from litepose_ros.ros.stop_signals import exit_quietly_on_stop_signals

    exit_quietly_on_stop_signals()

import array
import os
import re
import threading
import time
from typing import Any, List, Optional

import rclpy
import rclpy.executors
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from ..backends import BackendError
from ..decoding import warn_if_slow
from ..image_messages import BadImage, compressed_to_bgr, image_to_bgr
from ..metadata import ModelMetadataError
from ..node_settings import (
    BY_NAME,
    NODE_NAME,
    PARAMETERS,
    check,
    check_depth,
    decoder_changes,
    estimator_from_settings,
    input_topic,
    select_people,
    track_people,
    tracker_from_settings,
    unknown_parameter_messages,
)
from ..pipeline import PoseEstimator
from .conversions import PoseArray, PoseArrayBuilder
from .depth_input import DepthInput, stamp_ns
from .frames import ERROR, OK, WARN, LatestFrame, StageStats, health
from .markers import MarkerArray, marker_array
from .stop_signals import StopRequest, exit_quietly_on_stop_signals, ignore_stop_signals

try:  # Humble and newer; on older distros shutdown surfaces as KeyboardInterrupt only
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = KeyboardInterrupt

EXIT_FATAL = 2
SPIN_PERIOD_S = 0.1  # how soon the spin loop notices a stop signal
LEVELS = {OK: DiagnosticStatus.OK, WARN: DiagnosticStatus.WARN, ERROR: DiagnosticStatus.ERROR}
BAD_FRAME_LOG_PERIOD_S = 5.0
RESET_SERVICE_REASON = "reset_tracks service called"


class FatalError(RuntimeError):
    """Start-up cannot continue; the message is logged and the process exits non-zero."""


def parameter_descriptor(param: Any) -> ParameterDescriptor:
    """The ROS descriptor of a table entry: help, read-only unless dynamic, and its range, so
    that `ros2 param set` and `ros2 param describe` know the limits."""
    text = param.help + (" ({})".format(param.range_text()) if param.range_text() else "")
    descriptor = ParameterDescriptor(description=text, read_only=not param.dynamic,
                                     additional_constraints=param.range_text())
    bounds = param.descriptor_range()
    if bounds is not None and param.kind is int:
        descriptor.integer_range = [IntegerRange(from_value=bounds[0], to_value=bounds[1], step=1)]
    elif bounds is not None:
        descriptor.floating_point_range = [FloatingPointRange(from_value=bounds[0], to_value=bounds[1], step=0.0)]
    return descriptor


class PoseNode(Node):
    def __init__(self) -> None:
        super(PoseNode, self).__init__(NODE_NAME)
        self._declare_parameters()
        self.settings = {p.name: self.get_parameter(p.name).value for p in PARAMETERS}
        self._check_settings()
        self.estimator = self._load_model()
        self.builder = PoseArrayBuilder(self.estimator.metadata, self.settings["model_path"],
                                        self.estimator.backend.name)
        self.frames = LatestFrame()
        self.stats = StageStats()
        self._filters_lock = threading.Lock()
        self.tracker = self._make_tracker()

        self.pose_pub = self.create_publisher(PoseArray, "poses", 10)
        self.debug_pub = (self.create_publisher(Image, "debug_image", 1)
                          if self.settings["publish_debug_image"] else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.input_topic = self._subscribe()
        self.depth, self.marker_pub = None, None  # type: Optional[DepthInput], Any
        if self.settings["depth_topic"]:
            self.depth = DepthInput(self, self.settings, self._qos())
            self.marker_pub = self.create_publisher(MarkerArray, "markers", 1)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if self.tracker is not None:
            self._reset_service = _create_reset_service(self, self.tracker)
        self.create_timer(float(self.settings["diagnostics_period"]), self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name="litepose_inference", daemon=True)
        self._worker.start()
        self._warn_unknown_parameters()
        self.get_logger().info(self.summary())
        warn_if_slow(self.get_logger())  # the numpy decoder runs where the compiled core is not built

    # -- start-up -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        for param in PARAMETERS:
            try:
                self.declare_parameter(param.name, param.default, parameter_descriptor(param))
            except InvalidParameterValueException:  # outside the descriptor's range
                given = getattr(self, "_parameter_overrides", {}).get(param.name)
                raise FatalError("{} must be {}, got {}".format(
                    param.name, param.range_text(), given.value if given is not None else "?")) from None

    def _warn_unknown_parameters(self) -> None:
        # rclpy keeps every -p / --params-file value for this node, declared or not (private
        # attribute since Dashing); a misspelt name would otherwise be ignored without a word
        given = getattr(self, "_parameter_overrides", {})
        for message in unknown_parameter_messages(n for n in given if not self.has_parameter(n)):
            self.get_logger().warning(message)

    def _check_settings(self) -> None:
        for param in PARAMETERS:  # the descriptors' ranges cannot say "> 0", "finite" or list choices
            problem = check(param.name, self.settings[param.name])
            if problem:
                raise FatalError(problem)
        problem = check_depth(self.settings) if self.settings["depth_topic"] else None
        if problem:
            raise FatalError(problem)

    def _load_model(self) -> PoseEstimator:
        path = os.path.expanduser(str(self.settings["model_path"]))
        if not path:
            raise FatalError("parameter model_path is not set: pass -p model_path:=/path/to/model.onnx "
                             "or a config file with --params-file")
        if not os.path.isfile(path):
            raise FatalError("model file not found: {} (parameter model_path)".format(os.path.abspath(path)))
        if not os.access(path, os.R_OK):
            raise FatalError("model file is not readable: {}".format(os.path.abspath(path)))
        self.settings["model_path"] = path
        try:
            return estimator_from_settings(self.settings)
        except (BackendError, ModelMetadataError, OSError, ValueError) as error:
            raise FatalError("cannot load model {}: {}".format(path, error)) from None

    def _make_tracker(self) -> Any:
        try:
            return tracker_from_settings(self.settings, self.estimator.metadata.sigmas)
        except ValueError as error:
            raise FatalError(str(error)) from None

    def _qos(self) -> QoSProfile:
        reliability = (ReliabilityPolicy.RELIABLE if self.settings["qos_reliability"] == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(self.settings["qos_depth"]),
                          reliability=reliability)

    def _subscribe(self) -> str:
        qos = self._qos()
        topic = input_topic(self.settings["image_topic"], self.settings["image_transport"])
        if self.settings["image_transport"] == "compressed":
            self.create_subscription(CompressedImage, topic, self._on_image, qos)
        else:
            self.create_subscription(Image, topic, self._on_image, qos)
        return self.resolve_topic_name(topic)

    def _on_image(self, msg: Any) -> None:
        # counted here, not in the worker: input_rate_hz is what arrives over DDS, dropped frames included
        self.stats.input()
        self.frames.put(msg)

    def summary(self) -> str:
        meta = self.estimator.metadata
        return ("LitePose {} ({}, {} keypoints, input {}x{}, weights {}) on {} from {}; input {} ({}, {}); "
                "output {}{}{}; flip test {}; decoder {}".format(
                    meta.arch, meta.dataset, meta.num_joints, meta.input_width, meta.input_height, meta.weights,
                    self.estimator.backend.name, self.settings["model_path"], self.input_topic,
                    self.settings["image_transport"], self.settings["qos_reliability"],
                    self.resolve_topic_name("poses"),
                    " + " + self.resolve_topic_name("debug_image") if self.debug_pub else "",
                    "; 3D from {} + {}, markers on {}".format(self.depth.topic, self.depth.info_topic,
                                                             self.resolve_topic_name("markers")) if self.depth else "",
                    "on" if self.settings["flip_test"] else "off", self.estimator.decoder_name))

    # -- run time -------------------------------------------------------------------------

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        changes = {}
        for param in params:
            if param.name not in BY_NAME or not BY_NAME[param.name].dynamic:
                continue  # static ones are read-only (rejected by rclpy) or not ours
            value = param.value
            problem = check(param.name, value)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
            changes[param.name] = value
        if changes:
            self.estimator.update_decoder(**decoder_changes(changes))
            with self._filters_lock:
                self.settings.update(changes)
            self.get_logger().info("parameters changed: {}".format(
                ", ".join("{}={}".format(k, v) for k, v in sorted(changes.items()))))
        return SetParametersResult(successful=True)

    def _work(self) -> None:
        while True:
            frame = self.frames.take()
            if frame is None:
                return
            try:
                self._process(frame.msg, frame.received)
            except BadImage as error:
                self.stats.bad_frame(str(error))
                self.get_logger().warning("bad input frame skipped: {}".format(error),
                                          throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)
            except Exception as error:  # noqa: B902 - one failing frame must not stop the node
                self.stats.error(repr(error))
                self.get_logger().error("frame failed: {!r}".format(error),
                                        throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)

    def _process(self, msg: Any, received: float) -> None:
        image = compressed_to_bgr(msg) if isinstance(msg, CompressedImage) else image_to_bgr(msg)
        people, timings = self.estimator.estimate(image)
        with self._filters_lock:
            people = select_people(people, self.settings)
        stamp = stamp_ns(msg.header)
        height, width = image.shape[:2]
        people, track_ids, reset_reason = track_people(self.tracker, people, stamp, (width, height))
        if reset_reason == RESET_SERVICE_REASON:
            self.get_logger().info("tracks reset: {}".format(reset_reason))
        elif reset_reason:  # throttled: a stream whose stamps keep jumping back must not flood the log
            self.get_logger().warning("tracks reset: {}".format(reset_reason),
                                      throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)
        positions, frame_id = None, ""
        if self.depth is not None:
            positions, frame_id = self.depth.lifter.lift(people.keypoints, stamp, (width, height))
            frame_id = frame_id or msg.header.frame_id  # a camera_info without frame_id: the image's
        poses = self.builder.build(people, msg.header, width, height, timings.total_ms, positions, frame_id,
                                   track_ids)
        self.pose_pub.publish(poses)
        if positions is not None and self.marker_pub.get_subscription_count() > 0:
            self.marker_pub.publish(marker_array(poses))
        self.builder.recycle(poses)  # published: its keypoint objects serve the next message
        if self.debug_pub is not None and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(self._debug_image(image, people, msg.header, track_ids))
        self.stats.output({
            "preprocess_ms": timings.preprocess_ms, "inference_ms": timings.inference_ms,
            "decode_ms": timings.decode_ms, "latency_ms": (time.monotonic() - received) * 1000.0,
        })

    def _debug_image(self, image: Any, people: Any, header: Any, track_ids: Any = None) -> Image:
        from ..draw import draw_people  # only needed with publish_debug_image

        canvas = draw_people(image, people, self.estimator.metadata.skeleton, track_ids=track_ids)
        height, width = canvas.shape[:2]
        return Image(header=header, height=height, width=width, encoding="bgr8", is_bigendian=0,
                     step=width * 3, data=array.array("B", canvas.tobytes()))

    def _publish_diagnostics(self) -> None:
        self.diag_pub.publish(self.diagnostics())

    def diagnostics(self) -> DiagnosticArray:
        snap = self.stats.snapshot()
        received, dropped = self.frames.counts()
        status = DiagnosticStatus(name="{}: pose estimation".format(self.get_fully_qualified_name()),
                                  hardware_id=self.estimator.backend.name)
        level, status.message = health(snap, self.stats.window_s, self.stats.last_problem, self.input_topic)
        status.level = LEVELS[level]
        values = [
            ("input_rate_hz", snap["input_rate_hz"]), ("output_rate_hz", snap["output_rate_hz"]),
            ("preprocess_ms", snap["preprocess_ms"]), ("inference_ms", snap["inference_ms"]),
            ("decode_ms", snap["decode_ms"]), ("latency_ms", snap["latency_ms"]),
            ("max_latency_ms", snap["max_latency_ms"]),
            ("frames_received", received), ("frames_processed", int(snap["processed"])),
            ("frames_dropped", dropped), ("bad_frames", int(snap["bad_frames"])), ("errors", int(snap["errors"])),
            ("backend", self.estimator.backend.name), ("decoder", self.estimator.decoder_name),
            ("model", self.settings["model_path"]),
            ("model_arch", self.estimator.metadata.arch), ("dataset", self.estimator.metadata.dataset),
            ("input_topic", self.input_topic), ("last_problem", self.stats.last_problem),
        ]
        if self.tracker is not None:
            values += [("active_tracks", self.tracker.active_tracks()), ("tracks_started", self.tracker.next_id),
                       ("track_resets", self.tracker.resets)]
        status.values = [KeyValue(key=k, value="{:.2f}".format(v) if isinstance(v, float) else str(v))
                         for k, v in values]
        msg = DiagnosticArray(status=[status])
        if self.depth is not None:
            msg.status.append(self.depth.status(self.get_fully_qualified_name()))
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def stop(self) -> None:
        """Stop the worker (it finishes the frame in hand) and release the model."""
        self.frames.close()
        self._worker.join(timeout=10.0)
        self.estimator.close()


def params_file_problem(args: List[str]) -> Optional[str]:
    """A --params-file that does not exist or cannot be read (rcl would end in a traceback)."""
    for flag, path in zip(args, args[1:]):
        if flag == "--params-file":
            if not os.path.isfile(path):
                return "parameters file not found: {} (--params-file)".format(path)
            if not os.access(path, os.R_OK):
                return "parameters file is not readable: {} (--params-file)".format(path)
    return None


def _fatal(message: str) -> int:
    sys.stderr.write("pose_node: fatal: {}\n".format(message))
    return EXIT_FATAL


def _init_rclpy(args: Optional[List[str]]) -> None:
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # pragma: no cover - before Humble
        rclpy.init(args=args)
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def _create_reset_service(node: Node, tracker: Any) -> Any:
    """``~/reset_tracks`` (std_srvs/Trigger): forget all tracks before the next frame."""
    from std_srvs.srv import Trigger

    def reset(request: Any, response: Any) -> Any:
        tracker.request_reset(RESET_SERVICE_REASON)
        response.success, response.message = True, "tracks reset before the next frame"
        return response

    return node.create_service(Trigger, "~/reset_tracks", reset)


def main(args: Optional[List[str]] = None) -> int:
    exit_quietly_on_stop_signals()  # until the node exists (see the __main__ block for imports)
    problem = params_file_problem(list(sys.argv if args is None else args))
    if problem:
        return _fatal(problem)
    try:
        _init_rclpy(args)
    except Exception as error:  # noqa: B902 - RCLError: unparsable --ros-args or parameters file
        return _fatal(re.sub(r",? at \S+:\d+", "", str(error).strip().splitlines()[0]))
    stop = StopRequest()
    stop.install()
    node = None  # type: Optional[PoseNode]
    try:
        node = PoseNode()
    except Exception as error:  # noqa: B902 - FatalError, or rclpy rejecting a parameter's type
        if not isinstance(error, FatalError):
            error = FatalError("cannot start: {}: {}".format(type(error).__name__, error))
        rclpy.logging.get_logger(NODE_NAME).fatal(str(error))
        _fatal(str(error))
        rclpy.try_shutdown()
        return EXIT_FATAL
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.requested and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # the context was shut down from elsewhere
    finally:
        node.stop()  # the worker ends (and stops publishing) before the context goes
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        ignore_stop_signals()
    return 0


if __name__ == "__main__":
    sys.exit(main())
