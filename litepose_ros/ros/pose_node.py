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
import ast
import os
import re
import threading
import time
from typing import Any, List, Optional

import numpy as np
import rclpy
import rclpy.executors
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterValueException
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CompressedImage, Image

from ..backends import BackendError
from ..common.files import file_problem
from ..common.metadata import ModelMetadataError
from ..decoding import warn_if_slow
from ..image.messages import BadImage, compressed_to_bgr, image_to_bgr
from ..pipeline.estimator import PoseEstimator
from ..pipeline.frame_processor import FrameProcessor
from ..settings.factories import estimator_from_settings, tracker_from_settings
from ..settings.parameters import (
    BY_NAME,
    NODE_NAME,
    PARAMETERS,
    QOS_OVERRIDES_PREFIX,
    check,
    check_depth,
    decoder_changes,
    input_topic,
    unknown_parameter_messages,
)
from .conversions import PoseArray, PoseArrayBuilder
from .depth_input import DepthInput, stamp_ns
from .frames import ERROR, LOST_CAUSE, OK, WARN, LatestFrame, StageStats, health
from .input_qos import LOST_LOG_PERIOD_S, REFRESH_PERIOD_S, InputSubscription, default_profile
from .markers import MarkerArray, marker_array
from .stop_signals import StopRequest, exit_quietly_on_stop_signals, exit_with_parent, ignore_stop_signals

try:  # Humble and newer; on older distros shutdown surfaces as KeyboardInterrupt only
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = KeyboardInterrupt

EXIT_FATAL = 2
SPIN_PERIOD_S = 0.1  # how soon the spin loop notices a stop signal
LEVELS = {OK: DiagnosticStatus.OK, WARN: DiagnosticStatus.WARN, ERROR: DiagnosticStatus.ERROR}
BAD_FRAME_LOG_PERIOD_S = 5.0
ROS_OWNED = ("use_sim_time", "start_type_description_service")  # parameters rclpy declares itself
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


class PoseNodeLogic(object):
    """pose_node's behaviour, shared by the plain node (``PoseNode``) and the managed one
    (``litepose_ros.ros.pose_lifecycle_node``), in the steps of a lifecycle: parameters are
    declared when the node is created, ``_configure`` loads the model and creates the
    publishers, ``_activate`` subscribes and starts the worker and the diagnostics timer,
    ``_deactivate`` undoes that (finishing the frame in hand), ``_cleanup`` releases the model.
    Mixed into an rclpy ``Node`` class, whose methods it uses."""

    estimator = None  # type: Optional[PoseEstimator]
    _worker = None  # type: Optional[threading.Thread]

    def _configure(self) -> None:
        self.settings = {p.name: self.get_parameter(p.name).value for p in PARAMETERS}
        self._check_settings()
        self.estimator = self._load_model()
        self.builder = PoseArrayBuilder(self.estimator.metadata, self.settings["model_path"],
                                        self.estimator.backend.name)
        self.frames = LatestFrame()
        self.stats = StageStats()
        self._filters_lock = threading.Lock()
        self.tracker = self._make_tracker()
        self.processor = FrameProcessor(self.estimator, self.settings, self.tracker, self._filters_lock)

        self.pose_pub = self.create_publisher(PoseArray, "poses", 10)
        self.debug_pub = (self.create_publisher(Image, "debug_image", 1)
                          if self.settings["publish_debug_image"] else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.marker_pub = self.create_publisher(MarkerArray, "markers", 1) if self.settings["depth_topic"] else None
        self.track_reset_calls = 0  # ~/reset_tracks calls (the executor thread counts and reports them)
        self._reset_service = _create_reset_service(self, self.tracker) if self.tracker is not None else None
        self.input_topic = input_topic(self.resolve_topic_name(self.settings["image_topic"]),
                                       self.settings["image_transport"])
        self.depth = None  # type: Optional[DepthInput]

    def _activate(self) -> None:
        self.frames = LatestFrame()
        self.input_topic = self._subscribe()
        if self.settings["depth_topic"]:
            self.depth = DepthInput(self, self.settings, self._input)
        # steady time: with use_sim_time and no /clock, ROS time stands still, and so would a
        # ROS-time timer, while /diagnostics must keep saying how the node is doing
        steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._diagnostics_timer = self.create_timer(float(self.settings["diagnostics_period"]),
                                                    self._publish_diagnostics, clock=steady)
        self._worker = threading.Thread(target=self._work, name="litepose_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(self.summary())
        warn_if_slow(self.get_logger())  # the numpy decoder runs where the compiled core is not built

    def _deactivate(self) -> None:
        """Unsubscribe and stop the worker (it finishes the frame in hand) and the diagnostics."""
        for subscription in getattr(self, "inputs", []):
            self.destroy_subscription(subscription.subscription)
        self.inputs = []
        if getattr(self, "_refresh_timer", None) is not None:
            self.destroy_timer(self._refresh_timer)
            self._refresh_timer = None
        if getattr(self, "_diagnostics_timer", None) is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        self.frames.close()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None

    def _cleanup(self) -> None:
        """Release the model and what ``_configure`` created."""
        for publisher in (self.pose_pub, self.debug_pub, self.diag_pub, self.marker_pub):
            if publisher is not None:
                self.destroy_publisher(publisher)
        if self._reset_service is not None:
            self.destroy_service(self._reset_service)
        if self.estimator is not None:
            self.estimator.close()
            self.estimator = None

    # -- start-up -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        # What was given, as rclpy declared it from the overrides (without descriptors). Each is
        # undeclared again: ours and the QoS overrides are declared properly below and when
        # subscribing (taking the given value then); what stays undeclared was a typo.
        self._given = {name: param.value for name, param in self.get_parameters_by_prefix("").items()
                       if name not in ROS_OWNED}
        for name in self._given:
            self.undeclare_parameter(name)
        for param in PARAMETERS:
            try:
                self.declare_parameter(param.name, param.default, parameter_descriptor(param))
            except InvalidParameterValueException:  # outside the descriptor's range
                raise FatalError("{} must be {}, got {}".format(
                    param.name, param.range_text(), self._given.get(param.name, "?"))) from None

    def _warn_unknown_parameters(self) -> None:
        # a misspelt name would otherwise be ignored without a word
        qos_names = [name for name in self.get_parameters_by_prefix("") if name.startswith(QOS_OVERRIDES_PREFIX)]
        unknown = [name for name in self._given if not self.has_parameter(name)]
        for message in unknown_parameter_messages(unknown, qos_names):
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
        problem = file_problem(os.path.abspath(path), "model file")  # a directory or FIFO is not "not found"
        if problem:
            raise FatalError("{} (parameter model_path)".format(problem))
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
        """What the qos_overrides parameters start from: matching the publishers, unless the
        deprecated qos_reliability / qos_depth say otherwise."""
        return default_profile(self.settings["qos_reliability"], int(self.settings["qos_depth"]))

    def _input(self, msg_type: Any, topic: str, callback: Any, on_lost: Any = None) -> InputSubscription:
        subscription = InputSubscription(self, msg_type, topic, callback, self._qos(), on_lost)
        self.inputs.append(subscription)
        return subscription

    def _subscribe(self) -> str:
        self.inputs = []  # type: List[InputSubscription]
        # the base name is remapped (image_raw:=/camera/image_raw), then the transport's suffix
        # appended, as image_transport subscribers do
        base = self.resolve_topic_name(self.settings["image_topic"])
        compressed = self.settings["image_transport"] == "compressed"
        self.image_input = self._input(CompressedImage if compressed else Image,
                                       input_topic(base, self.settings["image_transport"]), self._on_image,
                                       self._on_lost)
        for name in ("qos_reliability", "qos_depth"):
            if self.settings[name] != BY_NAME[name].default:
                self.get_logger().warning("parameter {} is deprecated: use qos_overrides.{}.subscription.{}".format(
                    name, self.image_input.topic, name[4:]))
        self._refresh_timer = self.create_timer(REFRESH_PERIOD_S, self._refresh_inputs)
        return self.image_input.topic

    def _refresh_inputs(self) -> None:
        for subscription in self.inputs:
            change = subscription.refresh()
            if change:
                self.get_logger().info(change)

    def _on_lost(self, count: int) -> None:
        self.stats.lost(count)
        self.get_logger().warning("{} frame(s) on {} lost by DDS ({} so far): {}".format(
            count, self.input_topic, self.stats.lost_samples, LOST_CAUSE), throttle_duration_sec=LOST_LOG_PERIOD_S)

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
                    self.settings["image_transport"], self.image_input.describe(),
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
        if changes and self.estimator is not None:  # unconfigured (managed node): read at configure
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
            except BackendError as error:  # e.g. NaN outputs: an error (diagnostics ERROR), not "no people"
                self.stats.error(str(error))
                self.get_logger().error("inference failed: {}".format(error),
                                        throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)
            except Exception as error:  # noqa: B902 - one failing frame must not stop the node
                self.stats.error(repr(error))
                self.get_logger().error("frame failed: {!r}".format(error),
                                        throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)

    def _process(self, msg: Any, received: float) -> None:
        image = compressed_to_bgr(msg) if isinstance(msg, CompressedImage) else image_to_bgr(msg)
        result = self.processor.process(image, stamp_ns(msg.header), self.depth.lifter if self.depth else None,
                                        msg.header.frame_id)
        people, track_ids, positions, timings = result.people, result.track_ids, result.positions, result.timings
        if result.reset_reason == RESET_SERVICE_REASON:
            self.get_logger().info("tracks reset: {}".format(result.reset_reason))
        elif result.reset_reason:  # throttled: a stream whose stamps keep jumping back must not flood the log
            self.get_logger().warning("tracks reset: {}".format(result.reset_reason),
                                      throttle_duration_sec=BAD_FRAME_LOG_PERIOD_S)
        width, height = result.image_size
        poses = self.builder.build(people, msg.header, width, height, timings.total_ms, positions, result.frame_id,
                                   track_ids)
        self.pose_pub.publish(poses)
        if positions is not None and self.marker_pub.get_subscription_count() > 0:
            self.marker_pub.publish(marker_array(poses))
        self.builder.recycle(poses)  # published: its keypoint objects serve the next message
        if self.debug_pub is not None and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(self._debug_image(image, people, msg.header, track_ids))
        self.stats.output({
            "preprocess_ms": timings.preprocess_ms, "inference_ms": timings.inference_ms,
            "decode_ms": timings.decode_ms, "track_ms": result.track_ms,
            "latency_ms": (time.monotonic() - received) * 1000.0,
        })

    def _debug_image(self, image: Any, people: Any, header: Any, track_ids: Any = None) -> Image:
        from ..image.draw import draw_people  # only needed with publish_debug_image

        canvas = draw_people(image, people, self.estimator.metadata.skeleton, track_ids=track_ids)
        height, width = canvas.shape[:2]
        data = array.array("B")
        data.frombytes(np.ascontiguousarray(canvas).data)  # one copy (tobytes() then array() made two)
        del canvas  # the drawing is released now, not when the next frame replaces it
        return Image(header=header, height=height, width=width, encoding="bgr8", is_bigendian=0,
                     step=width * 3, data=data)

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
            ("decode_ms", snap["decode_ms"]), ("track_ms", snap["track_ms"]), ("latency_ms", snap["latency_ms"]),
            ("max_latency_ms", snap["max_latency_ms"]),
            ("frames_received", received), ("frames_processed", int(snap["processed"])),
            ("frames_dropped", dropped), ("bad_frames", int(snap["bad_frames"])), ("errors", int(snap["errors"])),
            ("backend", self.estimator.backend.name), ("decoder", self.estimator.decoder_name),
            ("model", self.settings["model_path"]),
            ("model_arch", self.estimator.metadata.arch), ("dataset", self.estimator.metadata.dataset),
            ("input_topic", self.input_topic), ("input_qos", self.image_input.describe()),
            ("dds_lost_samples", int(snap["lost_samples"])), ("qos_incompatible", self.image_input.incompatible),
            ("last_problem", self.stats.last_problem),
        ]
        if self.tracker is not None:
            values += [("active_tracks", self.tracker.active_tracks()), ("tracks_started", self.tracker.next_id),
                       ("track_resets", self.tracker.resets), ("track_reset_calls", self.track_reset_calls)]
        status.values = [KeyValue(key=k, value="{:.2f}".format(v) if isinstance(v, float) else str(v))
                         for k, v in values]
        msg = DiagnosticArray(status=[status])
        if self.depth is not None:
            msg.status.append(self.depth.status(self.get_fully_qualified_name()))
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg


class PoseNode(PoseNodeLogic, Node):
    """The plain node: configured and active from creation until ``stop``."""

    def __init__(self) -> None:
        # every -p / --params-file value for this node gets declared, so the node can see what
        # was given through public API (see _declare_parameters)
        Node.__init__(self, NODE_NAME, automatically_declare_parameters_from_overrides=True)
        self._declare_parameters()
        self._configure()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._activate()
        self._warn_unknown_parameters()

    def stop(self) -> None:
        """Stop the worker (it finishes the frame in hand) and release the model."""
        self._deactivate()
        if self.estimator is not None:
            self.estimator.close()


def params_file_problem(args: List[str]) -> Optional[str]:
    """A --params-file that does not exist or cannot be read (rcl would end in a traceback)."""
    for flag, path in zip(args, args[1:]):
        if flag == "--params-file":
            problem = file_problem(path, "parameters file")
            if problem:
                return "{} (--params-file)".format(problem)
    return None


def one_line(message: str) -> str:
    """A possibly multi-line error (backends quote their runtime's messages) as one line."""
    return " ".join(line.strip() for line in str(message).splitlines() if line.strip())


def _fatal(message: str) -> int:
    sys.stderr.write("pose_node: fatal: {}\n".format(one_line(message)))
    return EXIT_FATAL


def _rcl_error_text(error: Exception) -> str:
    """rcl's error in one line of words (unknown ROS arguments arrive as a Python list's repr)."""
    text = str(error).strip()
    if type(error).__name__ == "UnknownROSArgsError":
        try:
            names = [str(name) for name in ast.literal_eval(text)]
        except (ValueError, SyntaxError, TypeError):
            names = [text]
        return "unknown ROS arguments: {} (after --ros-args come -p NAME:=VALUE, --params-file FILE, -r FROM:=TO, " \
               "--log-level LEVEL)".format(" ".join(names))
    lines = text.splitlines()
    return re.sub(r",? at \S+:\d+", "", lines[0] if lines else type(error).__name__)


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
        node.track_reset_calls += 1  # calls before one frame make one reset (track_resets): both are shown
        tracker.request_reset(RESET_SERVICE_REASON)
        response.success, response.message = True, "tracks reset before the next frame"
        return response

    return node.create_service(Trigger, "~/reset_tracks", reset)


def main(args: Optional[List[str]] = None, node_class: Any = None) -> int:
    """Run ``node_class`` (default ``PoseNode``) until SIGINT/SIGTERM; 0, or EXIT_FATAL when it
    cannot start (one ``pose_node: fatal:`` line on stderr)."""
    exit_quietly_on_stop_signals()  # until the node exists (see the __main__ block for imports)
    exit_with_parent()
    problem = params_file_problem(list(sys.argv if args is None else args))
    if problem:
        return _fatal(problem)
    try:
        _init_rclpy(args)
    except Exception as error:  # noqa: B902 - RCLError: unparsable --ros-args or parameters file
        return _fatal(_rcl_error_text(error))
    stop = StopRequest()
    stop.install()
    node = None  # type: Optional[PoseNode]
    try:
        node = (node_class or PoseNode)()
    except Exception as error:  # noqa: B902 - FatalError, or rclpy rejecting a parameter's type
        if not isinstance(error, FatalError):
            error = FatalError("cannot start: {}: {}".format(type(error).__name__, error))
        _fatal(str(error))  # once: not also through the ROS logger (the same line twice)
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
