"""The launch files as users run them: real `ros2 launch` processes and `ros2` CLI calls against
the package built by colcon (scripts/build_launch.sh, from ../shared/ros2-launch).

Each test has its own ROS_DOMAIN_ID, discovery on localhost and no ros2 daemon (--no-daemon),
so tests see neither each other nor the LAN. `ros2 launch` starts in its own session with the
default SIGINT handler (a child of a non-interactive shell or CI runner may inherit SIGINT
ignored, and then Ctrl-C would do nothing).
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import pytest
import ros_harness as h
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LITEPOSE_SHARED_ROS2_LAUNCH", REPO.parent / "shared" / "ros2-launch"))
WORKSPACE = REPO / os.environ.get("LITEPOSE_COLCON_BASE", "build/colcon")
NODE_STARTED = re.compile(r"\[INFO\] \[(pose(?:_lifecycle)?_node)-(\d+)\]: process started with pid \[(\d+)\]")


@pytest.fixture(scope="module")
def colcon_env() -> Dict[str, str]:
    """The environment of a shell that sourced the colcon install (built now if out of date)."""
    if not (SHARED / "wheels").is_dir():
        pytest.skip("{} not found: no real ros2 launch here (the upstream launch/ros2cli wheels; set "
                    "LITEPOSE_SHARED_ROS2_LAUNCH)".format(SHARED))
    venv = Path(sys.executable).parent.parent
    build = subprocess.run(["bash", str(REPO / "scripts" / "build_launch.sh")], cwd=str(REPO),
                           env=dict(os.environ, VENV=str(venv), LITEPOSE_SHARED_ROS2_LAUNCH=str(SHARED)),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    assert build.returncode == 0, build.stdout[-4000:]
    dump = subprocess.run(["bash", "-c", 'source "$1" >/dev/null && env -0', "bash",
                           str(WORKSPACE / "install" / "setup.bash")],
                          stdout=subprocess.PIPE, check=True, timeout=60)
    env = dict(item.split("=", 1) for item in dump.stdout.decode().split("\0") if "=" in item)
    env["PATH"] = "{}{}{}".format(venv / "bin", os.pathsep, env.get("PATH", ""))  # ros2, python3 of the venv
    return env


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return h.make_marker_model(tmp_path_factory.mktemp("launch_model") / "marker.onnx")


def _restore_sigint() -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Launch(object):
    """``ros2 launch litepose_ros FILE ARGS...``, its output in a file (not a terminal)."""

    def __init__(self, env: Dict[str, str], tmp_path: Path, launch_file: str, *arguments: str,
                 cwd: Optional[Path] = None, unset: Sequence[str] = ()) -> None:
        self.domain = h.next_domain_id()
        self.env = dict(env, **h.ros_env(tmp_path, self.domain))
        self.env["PATH"], self.env["PYTHONPATH"] = env["PATH"], env.get("PYTHONPATH", "")
        for name in unset:
            self.env.pop(name, None)
        self.log_path = tmp_path / "launch_{}.log".format(self.domain)
        self._log = open(str(self.log_path), "w")
        target = [launch_file] if os.path.isabs(launch_file) else ["litepose_ros", launch_file]
        self.proc = subprocess.Popen(["ros2", "launch"] + target + list(arguments), cwd=str(cwd or tmp_path),
                                     env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_restore_sigint)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def wait_for(self, pattern: str, timeout: float = 60.0) -> "re.Match":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("no {!r} in the launch output (rc {}):\n{}".format(
            pattern, self.proc.poll(), self.output()[-4000:]))

    def node_pids(self) -> List[int]:
        return [int(m.group(3)) for m in NODE_STARTED.finditer(self.output())]

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("ros2 launch still running after {} s:\n{}".format(
                timeout, self.output()[-4000:])) from None

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def kill(self) -> None:
        """Clean-up after a failed test: the whole session (launch and node)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid in self.node_pids():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._log.close()

    def ros2(self, *args: str, timeout: float = 60.0) -> str:
        """``ros2 VERB SUBVERB ARGS...`` on this launch's domain, without a daemon (discovery in the
        call itself, retried while it has not seen the node yet); its output, or AssertionError."""
        command = ["ros2"] + list(args[:2]) + ["--no-daemon", "--spin-time", "2"] + list(args[2:])
        deadline = time.monotonic() + timeout
        while True:
            result = subprocess.run(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    universal_newlines=True, timeout=timeout)
            if result.returncode == 0 or "Node not found" not in result.stdout or time.monotonic() > deadline:
                break
        assert result.returncode == 0, "{} failed ({}):\n{}".format(" ".join(command), result.returncode,
                                                                     result.stdout)
        return result.stdout


@pytest.fixture
def launches(colcon_env, tmp_path):
    started = []  # type: List[Launch]

    def start(launch_file: str, *arguments: str, **kwargs) -> Launch:
        launch = Launch(colcon_env, tmp_path, launch_file, *arguments, **kwargs)
        started.append(launch)
        return launch

    yield start
    for launch in started:
        launch.kill()


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/{}/stat".format(pid)) as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids: List[int], timeout: float = 20.0) -> List[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


READY = r"pose_node\]: LitePose marker"  # the node's start-up summary (logger [ns.pose_node]): running


def _param(launch: Launch, name: str, node: str = "/pose_node") -> str:
    return launch.ros2("param", "get", node, name).strip()


def test_arguments_reach_the_node_and_turn_on_depth_and_markers(launches, model, tmp_path):
    """Every kind of argument (table parameters, params_file, use_sim_time, log_level) reaches the
    node; params_file overrides the config and arguments override params_file."""
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"/**/pose_node": {"ros__parameters": {
        "max_people": 7, "image_topic": "/from_file", "track_coast_s": 2.5}}}))
    launch = launches("pose.launch.py", "model:=" + str(model), "params_file:=mine.yaml", "image_topic:=/cam/image",
                      "depth_topic:=/cam/depth", "camera_info_topic:=/cam/info", "publish_debug_image:=true",
                      "tracking:=false", "detection_threshold:=0.3", "threads:=1", "use_sim_time:=true",
                      "log_level:=debug", "namespace:=robot1")
    launch.wait_for(READY)
    assert _param(launch, "model_path", "/robot1/pose_node") == "String value is: {}".format(model)
    dump = yaml.safe_load(launch.ros2("param", "dump", "/robot1/pose_node"))
    values = dump["/robot1/pose_node"]["ros__parameters"]
    assert {k: values[k] for k in ("image_topic", "depth_topic", "camera_info_topic", "publish_debug_image",
                                   "tracking", "detection_threshold", "threads", "max_people", "track_coast_s",
                                   "use_sim_time", "backend")} == {
        "image_topic": "/cam/image", "depth_topic": "/cam/depth", "camera_info_topic": "/cam/info",
        "publish_debug_image": True, "tracking": False, "detection_threshold": 0.3, "threads": 1, "max_people": 7,
        "track_coast_s": 2.5, "use_sim_time": True, "backend": "onnxruntime"}
    expected = ["{} [{}]".format(topic, kind) for topic, kind in (
        ("/robot1/markers", "visualization_msgs/msg/MarkerArray"), ("/robot1/debug_image", "sensor_msgs/msg/Image"),
        ("/robot1/poses", "litepose_ros/msg/PoseArray"), ("/cam/depth", "sensor_msgs/msg/Image"),
        ("/cam/info", "sensor_msgs/msg/CameraInfo"))]
    deadline = time.monotonic() + 30.0
    while True:  # discovery inside one `ros2 topic list` call may see only part of the graph on a busy machine
        topics = launch.ros2("topic", "list", "-t")
        missing = [entry for entry in expected if entry not in topics]
        if not missing or time.monotonic() > deadline:
            break
    assert not missing, topics
    assert "[DEBUG]" in launch.output()  # log_level:=debug
    assert launch.stop() == 0


def test_a_parent_launch_set_parameter_is_not_overridden(launches, model, tmp_path):
    """A robot's launch file sets depth_topic with SetParameter and includes ours, passing its
    own arguments on the command line too: the config's empty depth_topic must not win, and
    the parent's argument is not 'unknown'."""
    parent = tmp_path / "robot.launch.py"
    parent.write_text(
        "from launch import LaunchDescription\n"
        "from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription\n"
        "from launch.launch_description_sources import PythonLaunchDescriptionSource\n"
        "from launch_ros.actions import SetParameter\n"
        "from ament_index_python.packages import get_package_share_directory\n\n\n"
        "def generate_launch_description():\n"
        "    share = get_package_share_directory('litepose_ros')\n"
        "    return LaunchDescription([\n"
        "        DeclareLaunchArgument('robot_name', default_value='r1'),\n"
        "        SetParameter(name='depth_topic', value='/parent/depth'),\n"
        "        IncludeLaunchDescription(PythonLaunchDescriptionSource(share + '/launch/rpi.launch.py'),\n"
        "                                 launch_arguments={{'model': '{}', 'backend': 'onnxruntime'}}.items()),\n"
        "    ])\n".format(model))
    launch = launches(str(parent), "robot_name:=r2")
    launch.wait_for(READY)
    assert _param(launch, "depth_topic") == "String value is: /parent/depth"
    assert _param(launch, "image_transport") == "String value is: compressed"  # rpi config still applies
    assert launch.stop() == 0


def test_unknown_argument_is_a_one_line_error(launches):
    launch = launches("jetson.launch.py", "model:=/m.engine", "modle:=/m.engine")
    assert launch.wait() != 0
    errors = [line for line in launch.output().splitlines() if "ERROR" in line]
    assert errors == ["[ERROR] [launch]: Caught exception in launch (see debug for traceback): unknown launch "
                      "argument 'modle' (did you mean 'model'?); `ros2 launch litepose_ros jetson.launch.py "
                      "--show-args` lists them"]
    assert not launch.node_pids()


def _shown(env: Dict[str, str], launch_file: str) -> List[str]:
    out = subprocess.run(["ros2", "launch", "litepose_ros", launch_file, "--show-args"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    assert out.returncode == 0, out.stdout
    return re.findall(r"^    '([^']+)':", out.stdout, re.M)


def test_show_args_lists_exactly_what_works(colcon_env):
    from litepose_ros.settings import launch_config
    from litepose_ros.settings.parameters import PARAMETERS

    expected = [o.name for o in launch_config.OPTIONS] + [p.short for p in PARAMETERS]
    assert _shown(colcon_env, "pose.launch.py") == expected
    for shortcut in ("jetson.launch.py", "rpi.launch.py"):
        assert _shown(colcon_env, shortcut) == [name for name in expected if name != "platform"]


def test_fatal_node_fails_the_launch_with_one_error_line(launches, tmp_path):
    """A model the backend cannot load (multi-line runtime error): one fatal line, launch rc != 0."""
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07 not a model")
    launch = launches("jetson.launch.py", "model:=" + str(broken), "backend:=onnxruntime")
    assert launch.wait() != 0
    out = launch.output()
    fatal = [line for line in out.splitlines() if "fatal:" in line.lower() or "[FATAL]" in line]
    assert len(fatal) == 1 and fatal[0].startswith("[pose_node-1] pose_node: fatal: cannot load model "), out
    assert "[FATAL]" not in out
    assert "pose_node exited with code 2" in out


def test_respawn_restarts_the_node_and_sigint_stops_it(launches, tmp_path):
    launch = launches("pose.launch.py", "model:=" + str(tmp_path / "missing.onnx"), "respawn:=true",
                      "respawn_delay:=0.2")
    deadline = time.monotonic() + 60
    while len(launch.node_pids()) < 3 and time.monotonic() < deadline:
        assert launch.proc.poll() is None, launch.output()
        time.sleep(0.2)
    assert len(launch.node_pids()) >= 3, launch.output()
    assert launch.output().count("pose_node: fatal: model file not found") >= 2
    assert launch.stop(signal.SIGINT) == 0
    assert _wait_gone(launch.node_pids()) == []


@pytest.mark.parametrize("lifecycle", [False, True], ids=["plain", "lifecycle"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_stop_signal_leaves_no_node_behind(launches, model, sig, lifecycle):
    launch = launches("pose.launch.py", "model:=" + str(model), "lifecycle:={}".format(str(lifecycle).lower()))
    launch.wait_for(READY)
    pids = launch.node_pids()
    assert len(pids) == 1 and _alive(pids[0])
    launch.stop(sig)
    assert _wait_gone(pids) == [], "node left running after {}:\n{}".format(sig, launch.output()[-3000:])


def _environment(pid: int) -> Dict[str, str]:
    with open("/proc/{}/environ".format(pid), "rb") as environ:
        pairs = [entry.split(b"=", 1) for entry in environ.read().split(b"\0") if b"=" in entry]
    return {key.decode(): value.decode() for key, value in pairs}


def test_dds_profile_argument_gives_the_node_the_shipped_profile(launches, model, colcon_env):
    launch = launches("pose.launch.py", "model:=" + str(model), "dds_profile:=large_frames")
    launch.wait_for(READY)
    environment = _environment(launch.node_pids()[0])
    profile = environment.get("FASTDDS_DEFAULT_PROFILES_FILE", "")
    assert profile.endswith("share/litepose_ros/config/dds/fastdds_large_frames.xml"), environment
    assert os.path.isfile(profile)
    assert launch.stop() == 0


def test_output_to_a_file_has_no_terminal_escapes(launches, model):
    """As under systemd: rcutils' colour left on automatic (the tests' default turns it off)."""
    launch = launches("pose.launch.py", "model:=" + str(model), "log_level:=debug", unset=["RCUTILS_COLORIZED_OUTPUT"])
    launch.wait_for(READY)
    launch.stop()
    out = launch.output()
    assert "[pose_node-1] [INFO]" in out
    assert "\x1b[" not in out and "\r" not in out


def test_lifecycle_transitions(launches, model, tmp_path):
    """lifecycle:=true autostart:=true comes up active and processes frames; `ros2 lifecycle set`
    deactivates (unsubscribed), cleans up (model released) and brings it back."""
    launch = launches("pose.launch.py", "model:=" + str(model), "lifecycle:=true")
    launch.wait_for(READY)

    def state() -> str:
        return launch.ros2("lifecycle", "get", "/pose_node").split()[0]

    assert state() == "active"
    client = h.RosClient(launch.domain)
    try:
        camera = client.camera()
        pose, _ = client.send_until_posed(camera, h.image_msg(np.zeros((48, 64, 3), np.uint8), 11), timeout=30)
        assert pose.header.stamp.nanosec == 11
        for transition, expected in (("deactivate", "inactive"), ("cleanup", "unconfigured"),
                                     ("configure", "inactive"), ("activate", "active")):
            assert "Transitioning successful" in launch.ros2("lifecycle", "set", "/pose_node",
                                                             transition)
            assert state() == expected
            if expected == "inactive":
                deadline = time.monotonic() + 10
                while camera.get_subscription_count() and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert camera.get_subscription_count() == 0  # no subscription unless active
        out = launch.output()
        assert "deactivated: unsubscribed from /image_raw" in out and "cleaned up: model released" in out
        pose, _ = client.send_until_posed(camera, h.image_msg(np.zeros((48, 64, 3), np.uint8), 12), timeout=30)
        assert pose.header.stamp.nanosec == 12
    finally:
        client.close()
    assert launch.stop() == 0


def test_lifecycle_without_autostart_waits_unconfigured(launches, model):
    launch = launches("pose.launch.py", "model:=" + str(model), "lifecycle:=true", "autostart:=false")
    launch.wait_for(r"process started with pid")
    got = launch.ros2("lifecycle", "get", "/pose_node").split()[0]
    assert got == "unconfigured"
    assert launch.stop() == 0


def test_diagnostics_keep_coming_with_sim_time_and_no_clock(launches, model):
    launch = launches("pose.launch.py", "model:=" + str(model), "use_sim_time:=true", "diagnostics_period:=0.2")
    launch.wait_for(READY)
    client = h.RosClient(launch.domain)
    try:
        client.wait_until(lambda: len(client.diagnostics) >= 1, 30, "first /diagnostics")
        first = len(client.diagnostics)
        client.wait_until(lambda: len(client.diagnostics) >= first + 5, 10, "5 more /diagnostics without /clock")
    finally:
        client.close()
    assert launch.stop() == 0


def test_colcon_test_runs_the_package_tests(colcon_env):
    """`colcon test --packages-select litepose_ros` in the workspace runs (and passes) tests."""
    shutil.rmtree(str(WORKSPACE / "build" / "litepose_ros" / "test_results"), ignore_errors=True)  # earlier runs'
    run = subprocess.run(["colcon", "--log-base", "log", "test", "--packages-select", "litepose_ros",
                          "--build-base", "build", "--install-base", "install", "--event-handlers",
                          "console_direct-"], cwd=str(WORKSPACE), env=colcon_env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]
    result = subprocess.run(["colcon", "test-result", "--test-result-base", "build/litepose_ros"],
                            cwd=str(WORKSPACE), env=colcon_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=60)
    summary = re.search(r"Summary: (\d+) tests, (\d+) errors, (\d+) failures, (\d+) skipped", result.stdout)
    assert summary, result.stdout
    assert int(summary.group(1)) >= 50 and summary.group(2) == summary.group(3) == "0", result.stdout


def test_bag_commands_without_rosbags_give_a_one_line_hint(tmp_path):
    """As on a colcon install without rosbags (it has no rosdep key): one line saying what to install."""
    code = ("import sys; sys.modules['rosbags'] = None\n"  # import rosbags -> ModuleNotFoundError
            "from litepose_ros.cli import main\n"
            "sys.exit(main(['bag', 'summary', sys.argv[1]]))\n")
    bag = tmp_path / "bag"
    bag.mkdir()
    result = subprocess.run([sys.executable, "-c", code, str(bag)], cwd=str(REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if "compiled core" not in line]
    assert lines == ["litepose bag summary: needs the rosbags package, which is not installed: pip3 install rosbags"]


def test_a_multi_line_start_up_error_is_printed_as_one_line(capsys):
    """Backends quote their runtime's messages, which may span lines (TensorRT, LiteRT)."""
    from litepose_ros.ros.pose_node import EXIT_FATAL, _fatal

    assert _fatal("cannot load model /m.engine: [TRT] deserialize failed:\n  version mismatch\n\n  (8.6 != 10.3)\n") \
        == EXIT_FATAL
    assert capsys.readouterr().err == ("pose_node: fatal: cannot load model /m.engine: [TRT] deserialize failed: "
                                       "version mismatch (8.6 != 10.3)\n")


def test_lifecycle_configure_failure_is_one_error_line_and_leaves_it_unconfigured(launches, tmp_path):
    launch = launches("pose.launch.py", "model:=" + str(tmp_path / "missing.onnx"), "lifecycle:=true")
    found = launch.wait_for(r"configure failed: (.*)")
    assert found.group(1).startswith("model file not found: {}".format(tmp_path / "missing.onnx"))
    assert launch.ros2("lifecycle", "get", "/pose_node").split()[0] == "unconfigured"
    assert launch.proc.poll() is None  # the managed node stays up for another configure
    assert launch.stop() == 0
