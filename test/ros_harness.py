"""Helpers for the ROS tests: a deterministic marker model, the node as a real process, and an
in-test rclpy client (camera publisher + pose/diagnostics subscribers) on an isolated domain.

Every test gets its own ROS_DOMAIN_ID and discovery stays on localhost, so tests never see
each other or the LAN; waits are on matching and messages, not on fixed sleeps.
"""
import array
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")

import rclpy  # noqa: E402  (after the discovery setting)
import rclpy.executors  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from sensor_msgs.msg import CompressedImage, Image  # noqa: E402

from litepose_ros.ros.conversions import PoseArray  # noqa: E402

_domain_ids = itertools.count(20 + (os.getpid() % 20) * 8)


def next_domain_id() -> int:
    """A domain id unused by other tests of this run (and, by pid, likely by parallel runs)."""
    return 1 + next(_domain_ids) % 200


# -- a model whose output is known ------------------------------------------------------------

def make_marker_model(path: Path, input_width: int = 256, input_height: int = 256, dataset: str = "coco",
                      regions: Optional[Dict[int, Tuple[int, int, int, int]]] = None) -> Path:
    """Tiny ONNX model: keypoint j's heatmap is the red channel inside region j of the input.

    ``regions`` maps joint index -> (x0, y0, x1, y1) in network-input pixels; other joints
    get all-zero heatmaps. Red intensity v (0..255) becomes heat v/255 (undoing the
    ImageNet normalisation), pooled to stride 4 and 2 and slightly blurred, so a red blob
    gives a smooth peak exactly under its centre. All tags are 0: everything found is one
    person. The litepose metadata is embedded as ``litepose export`` does.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from litepose_ros.common.metadata import IMAGENET_MEAN, IMAGENET_STD, METADATA_KEY, ModelMetadata

    meta = ModelMetadata.for_dataset("marker", dataset, input_width, input_height, weights="synthetic-marker")
    j = meta.num_joints
    regions = regions if regions is not None else default_regions(input_width, input_height)

    def masks(stride: int) -> np.ndarray:
        mask = np.zeros((1, j, input_height // stride, input_width // stride), np.float32)
        for joint, (x0, y0, x1, y1) in regions.items():
            mask[0, joint, y0 // stride:y1 // stride, x0 // stride:x1 // stride] = 1.0
        return mask

    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "c0"),
        numpy_helper.from_array(np.array([1], np.int64), "c1"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        # tensor channel 0 is red (color_order rgb): (v/255 - mean) / std -> v/255
        numpy_helper.from_array(np.array(IMAGENET_STD[0], np.float32), "std_r"),
        numpy_helper.from_array(np.array(IMAGENET_MEAN[0], np.float32), "mean_r"),
        numpy_helper.from_array(masks(4), "mask4"),
        numpy_helper.from_array(masks(2), "mask2"),
        numpy_helper.from_array(np.zeros((1, j, input_height // 4, input_width // 4), np.float32), "tags"),
    ]
    nodes = [
        helper.make_node("Slice", ["image", "c0", "c1", "axis1"], ["red"]),
        helper.make_node("Mul", ["red", "std_r"], ["red_std"]),
        helper.make_node("Add", ["red_std", "mean_r"], ["heat"]),
        helper.make_node("AveragePool", ["heat"], ["heat4_raw"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("AveragePool", ["heat4_raw"], ["heat4_blur"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("Mul", ["heat4_blur", "mask4"], ["heat4"]),
        helper.make_node("Concat", ["heat4", "tags"], ["heatmaps_tags"], axis=1),
        helper.make_node("AveragePool", ["heat"], ["heat2_raw"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["heat2_raw"], ["heat2_blur"], kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1, 1, 1, 1], count_include_pad=0),
        helper.make_node("Mul", ["heat2_blur", "mask2"], ["heatmaps_highres"]),
    ]
    graph = helper.make_graph(
        nodes, "litepose_marker",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, list(meta.input_shape))],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
         for name, shape in zip(meta.output_names, meta.output_shapes())],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 6
    helper.set_model_props(model, {METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def default_regions(width: int, height: int) -> Dict[int, Tuple[int, int, int, int]]:
    """Joints 0, 5, 10, 15 in the four quadrants of the network input."""
    w, h = width // 2, height // 2
    return {0: (0, 0, w, h), 5: (w, 0, width, h), 10: (0, h, w, height), 15: (w, h, width, height)}


def draw_markers(width: int, height: int, centres: Sequence[Tuple[float, float]], sigma: float = 4.0) -> np.ndarray:
    """Black BGR image with a red Gaussian blob (peak 255) centred at each continuous (x, y)."""
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5  # pixel i spans [i, i+1)
    xs = np.arange(width, dtype=np.float64)[None, :] + 0.5
    red = np.zeros((height, width), np.float64)
    for cx, cy in centres:
        red = np.maximum(red, np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2)))
    image = np.zeros((height, width, 3), np.uint8)
    image[:, :, 2] = np.round(red * 255).astype(np.uint8)
    return image


def letterbox_to_input(x: float, y: float, src_w: int, src_h: int, in_w: int, in_h: int) -> Tuple[float, float]:
    """Independent statement of the letterbox (aspect kept, centred) for placing markers."""
    scale = min(in_w / src_w, in_h / src_h)
    new_w, new_h = round(src_w * scale), round(src_h * scale)
    return x * new_w / src_w + (in_w - new_w) // 2, y * new_h / src_h + (in_h - new_h) // 2


def export_litepose(out_dir: Path, input_size: int = 256) -> Path:
    """A real LitePose-XS COCO export with random weights (cached per test session)."""
    path = out_dir / "litepose_xs_coco_{}_random.onnx".format(input_size)
    if not path.exists():
        result = subprocess.run(
            [sys.executable, "-m", "litepose_ros.cli", "export", "--arch", "XS", "--dataset", "coco",
             "--input-size", str(input_size), "--output", str(path)],
            cwd=str(REPO_ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
            timeout=300,
        )
        if result.returncode != 0 or not path.exists():
            raise RuntimeError("litepose export failed ({}):\n{}".format(result.returncode, result.stdout[-3000:]))
    return path


# -- images as messages -----------------------------------------------------------------------

def image_msg(image: np.ndarray, stamp_ns: int, frame_id: str = "camera", encoding: str = "bgr8") -> Image:
    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0,
                step=int(image.strides[0]) if image.ndim > 1 else width,
                data=array.array("B", np.ascontiguousarray(image).tobytes()))
    set_stamp(msg, stamp_ns, frame_id)
    return msg


def compressed_msg(image: np.ndarray, stamp_ns: int, frame_id: str = "camera", ext: str = ".jpg") -> CompressedImage:
    import cv2

    ok, buf = cv2.imencode(ext, image)
    assert ok
    msg = CompressedImage(format="bgr8; {} compressed bgr8".format(ext.lstrip(".")),
                          data=array.array("B", buf.tobytes()))
    set_stamp(msg, stamp_ns, frame_id)
    return msg


def set_stamp(msg: Any, stamp_ns: int, frame_id: str) -> None:
    msg.header.stamp.sec = int(stamp_ns // 1_000_000_000)
    msg.header.stamp.nanosec = int(stamp_ns % 1_000_000_000)
    msg.header.frame_id = frame_id


def stamp_ns(header: Any) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


# -- the node as a process --------------------------------------------------------------------

class NodeProcess(object):
    """``python -m litepose_ros.ros.pose_node`` with parameters, as users start it."""

    def __init__(self, tmp_path: Path, domain_id: int, params: Optional[Dict[str, Any]] = None,
                 params_file: Optional[Path] = None, extra_args: Sequence[str] = (),
                 cwd: Optional[Path] = None, extra_env: Optional[Dict[str, str]] = None) -> None:
        self.log_path = tmp_path / "pose_node_{}.log".format(domain_id)
        args = [sys.executable, "-m", "litepose_ros.ros.pose_node", "--ros-args"]
        if params_file is not None:
            args += ["--params-file", str(params_file)]
        for name, value in (params or {}).items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["-p", "{}:={}".format(name, text)]
        args += list(extra_args)
        self.env = ros_env(tmp_path, domain_id)
        self.env.update(extra_env or {})
        self._log = open(str(self.log_path), "w")
        self.proc = subprocess.Popen(args, cwd=str(cwd or REPO_ROOT), env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("pose_node ignored signal {}:\n{}".format(sig, self.output())) from None
        self._log.close()
        return self.proc.returncode

    def rss_kib(self) -> int:
        with open("/proc/{}/status".format(self.proc.pid)) as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")


def ros_env(tmp_path: Path, domain_id: int) -> Dict[str, str]:
    env = dict(os.environ)
    log_dir = tmp_path / "ros_log"
    log_dir.mkdir(exist_ok=True)
    env.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST", ROS_LOG_DIR=str(log_dir),
               RCUTILS_COLORIZED_OUTPUT="0", PYTHONUNBUFFERED="1")
    return env


# -- the test's side of the wire ----------------------------------------------------------------

def qos(reliable: bool, depth: int) -> QoSProfile:
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT)


class RosClient(object):
    """A camera publisher and pose/diagnostics subscribers in this process, on its own context."""

    def __init__(self, domain_id: int, namespace: str = "") -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("litepose_test_client", context=self.context)
        self.namespace = namespace.rstrip("/")
        self._lock = threading.Condition()
        self.poses: List[Tuple[float, PoseArray]] = []
        self.diagnostics: List[DiagnosticArray] = []
        self.node.create_subscription(PoseArray, self.namespace + "/poses", self._on_pose, qos(True, 1000))
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, qos(True, 100))
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: B902 - context shut down under it at close()
            pass

    def _on_pose(self, msg: PoseArray) -> None:
        with self._lock:
            self.poses.append((time.time(), msg))
            self._lock.notify_all()

    def _on_diag(self, msg: DiagnosticArray) -> None:
        with self._lock:
            self.diagnostics.append(msg)
            self._lock.notify_all()

    def camera(self, topic: str = "image_raw", compressed: bool = False, reliable: bool = False,
               depth: int = 1) -> Any:
        kind = CompressedImage if compressed else Image
        name = self.namespace + "/" + topic + ("/compressed" if compressed else "")
        return self.node.create_publisher(kind, name, qos(reliable, depth))

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out after {} s waiting for {}".format(timeout, what))
                self._lock.wait(min(left, 0.05))

    def wait_matched(self, publisher: Any, node: NodeProcess, timeout: float = 30.0) -> None:
        """Until the node subscribes to ``publisher`` and we to its poses (or it died)."""
        def ready() -> bool:
            if node.proc.poll() is not None:
                raise AssertionError("pose_node exited with {}:\n{}".format(node.proc.returncode, node.output()))
            return (publisher.get_subscription_count() > 0
                    and self.node.count_publishers(self.namespace + "/poses") > 0)
        self.wait_until(ready, timeout, "discovery of pose_node")

    def handshake(self, publisher: Any, node: NodeProcess, prime: Any, timeout: float = 30.0) -> None:
        """Match, then publish ``prime`` until its poses come back, and forget them.

        A subscription count > 0 on one side does not mean the other side has matched too
        (best effort frames or the first poses could still be lost), so the first frames of
        a test would be lost at random without this round trip.
        """
        self.wait_matched(publisher, node, timeout)
        prime.header.frame_id = "handshake"
        deadline = time.monotonic() + timeout
        while not any(m.header.frame_id == "handshake" for _, m in self.poses):
            if time.monotonic() > deadline or node.proc.poll() is not None:
                raise AssertionError("no poses for the handshake frame:\n" + node.output())
            publisher.publish(prime)
            with self._lock:
                self._lock.wait(0.3)
        time.sleep(0.3)  # poses of handshake frames still in flight
        with self._lock:
            self.poses = []

    def send_until_posed(self, publisher: Any, msg: Any, timeout: float = 20.0, retry_s: float = 1.0) -> Any:
        """Publish ``msg`` (again every ``retry_s``: best effort may lose it) until its poses arrive.

        Returns (poses message, number of publishes).
        """
        stamp = stamp_ns(msg.header)
        deadline = time.monotonic() + timeout
        tries = 0
        while True:
            publisher.publish(msg)
            tries += 1
            retry_at = min(deadline, time.monotonic() + retry_s)
            with self._lock:
                while time.monotonic() < retry_at:
                    for _, pose in self.poses:
                        if stamp_ns(pose.header) == stamp and pose.header.frame_id == msg.header.frame_id:
                            return pose, tries
                    self._lock.wait(0.02)
            if time.monotonic() >= deadline:
                raise AssertionError("no poses for the frame stamped {} after {} tries".format(stamp, tries))

    def pose_count(self) -> int:
        with self._lock:
            return len(self.poses)

    def latest_diagnostic_values(self) -> Dict[str, str]:
        with self._lock:
            for msg in reversed(self.diagnostics):
                for status in msg.status:
                    if "pose_node" in status.name:
                        return {kv.key: kv.value for kv in status.values}
        return {}

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def call_service(client: RosClient, srv_type: Any, name: str, request: Any, timeout: float = 10.0) -> Any:
    """Call a service of the node from the client's (already spinning) executor."""
    service = client.node.create_client(srv_type, name)
    if not service.wait_for_service(timeout_sec=timeout):
        raise AssertionError("service {} not available".format(name))
    future = service.call_async(request)
    deadline = time.monotonic() + timeout
    while not future.done():
        if time.monotonic() > deadline:
            raise AssertionError("no reply from {}".format(name))
        time.sleep(0.01)
    client.node.destroy_client(service)
    return future.result()


def set_parameter(client: RosClient, node_name: str, name: str, value: float) -> Any:
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    request = SetParameters.Request(parameters=[Parameter(
        name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=float(value)))])
    return call_service(client, SetParameters, node_name + "/set_parameters", request).results[0]


def get_parameters(client: RosClient, node_name: str, names: Sequence[str]) -> Dict[str, Any]:
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    reply = call_service(client, GetParameters, node_name + "/get_parameters", GetParameters.Request(names=names))
    return {name: parameter_value_to_python(value) for name, value in zip(names, reply.values)}
