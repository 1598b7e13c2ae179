"""`pose_node`: camera images in, litepose_ros/PoseArray out, with diagnostics.

The subscription callback only drops the message into a one-slot mailbox (``LatestFrame``);
a worker thread decodes, runs the model and publishes. A camera faster than the model thus
costs dropped (and counted) frames, never growing latency or memory.

Run: ``ros2 run litepose_ros pose_node --ros-args --params-file config/cpu.yaml`` or
``python -m litepose_ros.ros.pose_node --ros-args -p model_path:=model.onnx``.
"""
import array
import os
import sys
import threading
import time
from typing import Any, List, Optional

import rclpy
import rclpy.executors
import rclpy.logging
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from ..backends import BackendError
from ..decoding import warn_if_slow
from ..metadata import ModelMetadataError
from ..node_settings import (
    DYNAMIC_PARAMETERS,
    NODE_NAME,
    STATIC_PARAMETERS,
    check_dynamic,
    decoder_changes,
    estimator_from_settings,
    select_people,
)
from ..pipeline import PoseEstimator
from .conversions import PoseArray, PoseArrayBuilder
from .frames import LatestFrame, StageStats
from .image_input import BadImage, compressed_to_bgr, image_to_bgr

try:  # Humble and newer; on older distros shutdown surfaces as KeyboardInterrupt only
    from rclpy.executors import ExternalShutdownException
except ImportError:  # pragma: no cover
    ExternalShutdownException = KeyboardInterrupt

EXIT_FATAL = 2
BAD_FRAME_LOG_PERIOD_S = 5.0


class FatalError(RuntimeError):
    """Start-up cannot continue; the message is logged and the process exits non-zero."""


class PoseNode(Node):
    def __init__(self) -> None:
        super(PoseNode, self).__init__(NODE_NAME)
        self._declare_parameters()
        self.settings = {name: self.get_parameter(name).value
                         for name in list(STATIC_PARAMETERS) + list(DYNAMIC_PARAMETERS)}
        self._check_settings()
        self.estimator = self._load_model()
        self.builder = PoseArrayBuilder(self.estimator.metadata, self.settings["model_path"],
                                        self.estimator.backend.name)
        self.frames = LatestFrame()
        self.stats = StageStats()
        self._filters_lock = threading.Lock()

        self.pose_pub = self.create_publisher(PoseArray, "poses", 10)
        self.debug_pub = (self.create_publisher(Image, "debug_image", 1)
                          if self.settings["publish_debug_image"] else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.input_topic = self._subscribe()
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(float(self.settings["diagnostics_period"]), self._publish_diagnostics)

        self._worker = threading.Thread(target=self._work, name="litepose_inference", daemon=True)
        self._worker.start()
        self.get_logger().info(self.summary())
        warn_if_slow(self.get_logger())  # the numpy decoder runs where the compiled core is not built

    # -- start-up -------------------------------------------------------------------------

    def _declare_parameters(self) -> None:
        for name, (default, text) in STATIC_PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text, read_only=True))
        for name, (default, text) in DYNAMIC_PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text))

    def _check_settings(self) -> None:
        s = self.settings
        if s["image_transport"] not in ("raw", "compressed"):
            raise FatalError("image_transport must be 'raw' or 'compressed', got {!r}".format(s["image_transport"]))
        if s["qos_reliability"] not in ("best_effort", "reliable"):
            raise FatalError("qos_reliability must be 'best_effort' or 'reliable', got {!r}".format(
                s["qos_reliability"]))
        if s["qos_depth"] < 1 or s["diagnostics_period"] <= 0:
            raise FatalError("qos_depth must be >= 1 and diagnostics_period > 0")
        for name in DYNAMIC_PARAMETERS:
            problem = check_dynamic(name, s[name])
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

    def _subscribe(self) -> str:
        reliability = (ReliabilityPolicy.RELIABLE if self.settings["qos_reliability"] == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(self.settings["qos_depth"]),
                         reliability=reliability)
        topic = self.settings["image_topic"]
        if self.settings["image_transport"] == "compressed":
            topic = topic.rstrip("/") + "/compressed"
            self.create_subscription(CompressedImage, topic, self.frames.put, qos)
        else:
            self.create_subscription(Image, topic, self.frames.put, qos)
        return self.resolve_topic_name(topic)

    def summary(self) -> str:
        meta = self.estimator.metadata
        return ("LitePose {} ({}, {} keypoints, input {}x{}, weights {}) on {} from {}; input {} ({}, {}); "
                "output {}{}; flip test {}; decoder {}".format(
                    meta.arch, meta.dataset, meta.num_joints, meta.input_width, meta.input_height, meta.weights,
                    self.estimator.backend.name, self.settings["model_path"], self.input_topic,
                    self.settings["image_transport"], self.settings["qos_reliability"],
                    self.resolve_topic_name("poses"),
                    " + " + self.resolve_topic_name("debug_image") if self.debug_pub else "",
                    "on" if self.settings["flip_test"] else "off", self.estimator.decoder_name))

    # -- run time -------------------------------------------------------------------------

    def _on_set_parameters(self, params: List[Any]) -> SetParametersResult:
        changes = {}
        for param in params:
            if param.name not in DYNAMIC_PARAMETERS:
                continue  # static ones are read-only (rejected by rclpy) or not ours
            value = param.value
            problem = check_dynamic(param.name, value)
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
            self.stats.input(frame.received)
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
        height, width = image.shape[:2]
        self.pose_pub.publish(self.builder.build(people, msg.header, width, height, timings.total_ms))
        if self.debug_pub is not None and self.debug_pub.get_subscription_count() > 0:
            self.debug_pub.publish(self._debug_image(image, people, msg.header))
        self.stats.output({
            "preprocess_ms": timings.preprocess_ms, "inference_ms": timings.inference_ms,
            "decode_ms": timings.decode_ms, "latency_ms": (time.monotonic() - received) * 1000.0,
        })

    def _debug_image(self, image: Any, people: Any, header: Any) -> Image:
        from ..draw import draw_people  # only needed with publish_debug_image

        canvas = draw_people(image, people, self.estimator.metadata.skeleton)
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
        if snap["input_rate_hz"] == 0.0:
            status.level, status.message = DiagnosticStatus.WARN, "no input images on {}".format(self.input_topic)
        elif snap["bad_frames"] or snap["errors"]:
            status.level, status.message = DiagnosticStatus.WARN, "running; some frames failed: {}".format(
                self.stats.last_problem)
        else:
            status.level, status.message = DiagnosticStatus.OK, "running"
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
        status.values = [KeyValue(key=k, value="{:.2f}".format(v) if isinstance(v, float) else str(v))
                         for k, v in values]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def stop(self) -> None:
        """Stop the worker (it finishes the frame in hand) and release the model."""
        self.frames.close()
        self._worker.join(timeout=10.0)
        self.estimator.close()


def main(args: Optional[List[str]] = None) -> int:
    rclpy.init(args=args)
    node = None  # type: Optional[PoseNode]
    try:
        node = PoseNode()
    except Exception as error:  # noqa: B902 - FatalError, or rclpy rejecting a parameter's type
        if not isinstance(error, FatalError):
            error = FatalError("cannot start: {}: {}".format(type(error).__name__, error))
        rclpy.logging.get_logger(NODE_NAME).fatal(str(error))
        sys.stderr.write("pose_node: fatal: {}\n".format(error))
        rclpy.try_shutdown()
        return EXIT_FATAL
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C / SIGTERM: rclpy's signal handler shut the context down
    finally:
        node.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
