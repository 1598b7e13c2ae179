"""Launch logic, configs, messages and the CMake install, checked without `launch`/colcon
(test/test_launch_real.py runs the launch files for real with `ros2 launch`).

The launch files are checked on their syntax tree: they only call
litepose_ros.ros.launch_description.generate. The platform -> parameters logic itself is
litepose_ros.settings.launch_config, tested directly here.
"""
import ast
import os
import re
from pathlib import Path

import pytest
import yaml

from litepose_ros.settings import launch_config
from litepose_ros.settings.launch_config import OVERRIDABLE, PLATFORMS, resolve

REPO = Path(__file__).resolve().parent.parent


def _node_parameters():
    """The node's parameters and their defaults (the table the node declares from)."""
    from litepose_ros.settings.parameters import defaults

    return defaults()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_config_files_set_every_node_parameter_with_the_right_type(platform):
    data = yaml.safe_load((REPO / "config" / (platform + ".yaml")).read_text())
    params = data["/**"]["ros__parameters"]
    declared = _node_parameters()
    assert set(params) == set(declared), "config and node parameters differ"
    for name, value in params.items():
        assert type(value) is type(declared[name]), "{}: {!r} is not a {}".format(
            name, value, type(declared[name]).__name__)
    assert params["backend"] == {"cpu": "onnxruntime", "jetson": "tensorrt", "rpi": "tflite"}[platform]
    assert params["model_path"] == ""  # no default that depends on the node's current directory
    suffix = {"cpu": ".onnx", "jetson": ".engine", "rpi": ".tflite"}[platform]
    assert launch_config.EXAMPLE_MODELS[platform].endswith(suffix)


def test_launch_without_a_model_says_what_to_pass():
    with pytest.raises(ValueError, match=r"no model for platform jetson: pass "
                                         r"model:=~/litepose/litepose_xs_coco_256_fp16\.engine"):
        resolve("jetson", str(REPO))


def _share_with_model(tmp_path, model_path):
    """A package share dir whose cpu.yaml names model_path (as a user may edit it)."""
    config = tmp_path / "share" / "config"
    config.mkdir(parents=True)
    text = (REPO / "config" / "cpu.yaml").read_text().replace('model_path: ""', "model_path: " + model_path)
    (config / "cpu.yaml").write_text(text)
    return tmp_path / "share"


def test_a_relative_model_in_a_config_is_refused_at_launch(tmp_path):
    share = _share_with_model(tmp_path, "engines/m.onnx")
    with pytest.raises(ValueError, match="'engines/m.onnx' in .*cpu.yaml is relative"):
        resolve("cpu", str(share))
    share = _share_with_model(tmp_path / "ok", "/opt/models/m.onnx")
    assert resolve("cpu", str(share)).parameters == [str(share / "config" / "cpu.yaml")]
    with pytest.raises(ValueError, match="'models/m.onnx' in .*mine.yaml is relative"):
        resolve("cpu", str(REPO), params_file=_params_file(tmp_path, {"model_path": "models/m.onnx"}))


def test_a_relative_model_argument_is_fixed_at_launch_not_in_the_node(tmp_path):
    """The node gets an absolute path, whatever directory it later runs in."""
    plan = resolve("cpu", str(REPO), {"model": "m.onnx"}, base_dir=str(tmp_path))
    assert plan.overrides["model_path"] == str(tmp_path / "m.onnx")
    plan = resolve("cpu", str(REPO), {"model": "~/litepose/m.onnx"}, base_dir=str(tmp_path))
    assert plan.overrides["model_path"] == os.path.expanduser("~/litepose/m.onnx")


def test_resolve_platform_and_overrides(tmp_path):
    plan = resolve("jetson", str(REPO), {"model": "engines/x.engine", "threads": "3", "image_topic": "",
                                         "publish_debug_image": "true", "qos_reliability": "reliable"},
                   namespace="robot1", base_dir=str(tmp_path))
    assert plan.config_file == str(REPO / "config" / "jetson.yaml")
    assert plan.overrides == {"model_path": str(tmp_path / "engines" / "x.engine"), "threads": 3,
                              "publish_debug_image": True, "qos_reliability": "reliable"}
    assert plan.parameters == [plan.config_file, plan.overrides]
    assert (plan.package, plan.executable, plan.node_name, plan.namespace) == (
        "litepose_ros", "pose_node", "pose_node", "robot1")
    assert resolve("cpu", str(REPO), {"model": "/m.onnx"}).parameters == [
        str(REPO / "config" / "cpu.yaml"), {"model_path": "/m.onnx"}]


def _params_file(tmp_path, values, section="/**"):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({section: {"ros__parameters": values}}))
    return str(path)


def test_params_file_is_overlaid_and_arguments_win(tmp_path):
    """config < params_file < arguments; the model may come from the params file."""
    mine = _params_file(tmp_path, {"model_path": "/models/m.onnx", "depth_topic": "/d"}, section="pose_node")
    plan = resolve("cpu", str(REPO), {"tracking": "false"}, params_file="mine.yaml", base_dir=str(tmp_path))
    assert plan.parameters == [str(REPO / "config" / "cpu.yaml"), mine, {"tracking": False}]
    with pytest.raises(ValueError, match="params_file not found: .*nothere.yaml"):
        resolve("cpu", str(REPO), {"model": "/m.onnx"}, params_file=str(tmp_path / "nothere.yaml"))


def test_a_parents_set_parameter_is_not_overridden_by_the_config():
    """SetParameter(depth_topic) in a parent launch: the config's empty depth_topic is left out."""
    plan = resolve("cpu", str(REPO), {"image_topic": "/cam"}, parent_parameters=["depth_topic", "model_path",
                                                                               "not_ours"])
    config = yaml.safe_load((REPO / "config" / "cpu.yaml").read_text())["/**"]["ros__parameters"]
    assert plan.config_left_out == ("depth_topic", "model_path")
    assert plan.parameters == [{k: v for k, v in config.items() if k not in ("depth_topic", "model_path")},
                               {"image_topic": "/cam"}]


def test_unknown_argument_names_the_closest():
    with pytest.raises(ValueError, match=r"^unknown launch argument 'modle' \(did you mean 'model'\?\); "
                                         r"`ros2 launch litepose_ros jetson.launch.py --show-args` lists them$"):
        launch_config.check_argument_names(["model", "modle"], launch_config.argument_names(False),
                                           "jetson.launch.py")
    with pytest.raises(ValueError, match="'platform'"):  # the shortcuts fix it
        launch_config.check_argument_names(["platform"], launch_config.argument_names(False))
    launch_config.check_argument_names(["launch-prefix", "platform"], launch_config.argument_names())


@pytest.mark.parametrize("values,message", [
    ({"respawn": "maybe"}, "respawn:=maybe is not a boolean"),
    ({"respawn_delay": "-1"}, "must be >= 0"),
    ({"respawn_delay": "soon"}, "not a number"),
    ({"log_level": "loud"}, "log_level:=loud is not one of debug, info"),
    ({"use_sim_time": "2"}, "use_sim_time:=2 is not a boolean"),
])
def test_launch_options_are_checked(values, message):
    with pytest.raises(ValueError, match=message):
        launch_config.parse_options(values)


def test_launch_options_defaults_and_values():
    options = launch_config.parse_options({})
    assert (options.use_sim_time, options.log_level, options.respawn, options.lifecycle, options.autostart) == (
        None, "", False, False, True)
    assert options.executable == "pose_node" and options.ros_arguments == []
    options = launch_config.parse_options({"use_sim_time": "true", "log_level": "DEBUG", "respawn": "true",
                                           "respawn_delay": "0.5", "lifecycle": "true"})
    assert (options.use_sim_time, options.respawn, options.respawn_delay) == (True, True, 0.5)
    assert options.executable == "pose_lifecycle_node" and options.ros_arguments == ["--log-level", "debug"]


@pytest.mark.parametrize("platform,arguments,message", [
    ("gpu", {}, "unknown platform"),
    ("cpu", {"modle": "x"}, "unknown launch argument 'modle' .did you mean 'model'"),
    ("cpu", {"threads": "many"}, "not a valid int"),
    ("cpu", {"threads": "-3"}, "threads must be within .0, 64., got -3"),
    ("cpu", {"detection_threshold": "1.5"}, r"within \[0.0, 1.0\]"),
    ("cpu", {"image_transport": "theora"}, "must be one of raw, compressed"),
    ("cpu", {"backend": "cuda"}, "must be one of"),
    ("cpu", {"publish_debug_image": "maybe"}, "not a boolean"),
])
def test_resolve_rejects_bad_arguments(platform, arguments, message):
    with pytest.raises(ValueError, match=message):
        resolve(platform, str(REPO), arguments)


def test_resolve_needs_the_installed_config(tmp_path):
    with pytest.raises(ValueError, match="config file for platform cpu not found"):
        resolve("cpu", str(tmp_path))


def _tree(name):
    return ast.parse((REPO / "launch" / name).read_text(), filename=name)


@pytest.mark.parametrize("name", ["pose.launch.py", "jetson.launch.py", "rpi.launch.py"])
def test_launch_files_are_thin_and_consistent(name):
    """Each file only calls launch_description.generate, the shortcuts with their platform."""
    tree = _tree(name)
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert functions == {"generate_launch_description"}
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert [(node.module, [a.name for a in node.names]) for node in imports] == [
        ("litepose_ros.ros.launch_description", ["generate"])]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "generate"]
    assert len(calls) == 1
    if name == "pose.launch.py":
        assert not calls[0].args
    else:
        assert name.split(".")[0] in PLATFORMS and calls[0].args[0].id == "PLATFORM"
        assert {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)} >= {name.split(".")[0]}
    assert name in launch_config.LAUNCH_FILES


def test_every_argument_has_help():
    assert set(launch_config.ARGUMENT_HELP) == set(launch_config.argument_names())
    assert set(OVERRIDABLE) <= set(launch_config.argument_names(with_platform=False))
    assert "platform" not in launch_config.argument_names(with_platform=False)


def test_cmake_installs_what_launch_and_ros2_run_need():
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert re.search(r"install\(PROGRAMS scripts/pose_node scripts/pose_lifecycle_node scripts/litepose "
                     r"DESTINATION lib/\$\{PROJECT_NAME\}\)", cmake)
    assert re.search(r"install\(DIRECTORY launch config DESTINATION share/\$\{PROJECT_NAME\}\)", cmake)
    assert launch_config.EXECUTABLE == "pose_node" and (REPO / "scripts" / "pose_node").stat().st_mode & 0o111
    script = (REPO / "scripts" / "pose_node").read_text()
    assert script.startswith("#!/usr/bin/env python3") and "litepose_ros.ros.pose_node import main" in script
    msgs = sorted(p.name for p in (REPO / "msg").glob("*.msg"))
    for msg in msgs:
        assert '"msg/{}"'.format(msg) in cmake
    package = (REPO / "package.xml").read_text()
    assert '<package format="3">' in package and "<name>litepose_ros</name>" in package
    for dep in ("rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "rosidl_default_runtime"):
        assert "<exec_depend>{}</exec_depend>".format(dep) in package or "<depend>{}</depend>".format(dep) in package
    assert "<member_of_group>rosidl_interface_packages</member_of_group>" in package


@pytest.mark.parametrize("msg", ["Keypoint.msg", "Limb.msg", "Person.msg", "PoseArray.msg"])
def test_every_message_field_is_documented(msg):
    lines = (REPO / "msg" / msg).read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() and not line.startswith("#"):
            comment_above = i > 0 and lines[i - 1].startswith("#")
            same_block = any(lines[k].startswith("#") for k in range(max(0, i - 4), i))
            assert comment_above or same_block or "#" in line, "undocumented field in {}: {}".format(msg, line)


def _models(text: str, pattern: str) -> set:
    return {m.replace("$HOME", "~") for m in re.findall(pattern, text)}


def test_quick_start_paths_agree_everywhere():
    """README, engines/README.md, the config comments and the launch error all name one file."""
    readme = (REPO / "README.md").read_text()
    robot = readme[readme.index("## On a robot"):readme.index("### Inference runtimes per platform")]
    engines = (REPO / "engines" / "README.md").read_text()
    for platform, launch in (("jetson", "jetson.launch.py"), ("rpi", "rpi.launch.py"), ("cpu", "platform:=cpu")):
        expected = launch_config.EXAMPLE_MODELS[platform]
        assert expected.startswith("~/")  # absolute once expanded: no current-directory lookups
        lines = [line for line in robot.splitlines() if line.startswith("ros2 launch") and launch in line]
        assert lines and all(_models(line, r"model:=([^\s`]+)") == {expected} for line in lines), platform
        config = (REPO / "config" / (platform + ".yaml")).read_text()
        assert _models(config, r"model:=([^\s`]+)") == {expected}, platform
    for name in ("jetson.launch.py", "rpi.launch.py", "pose.launch.py"):
        platform = "rpi" if name.startswith("rpi") else "jetson"
        assert _models((REPO / "launch" / name).read_text(), r"model:=([^\s`]+)") == {
            launch_config.EXAMPLE_MODELS[platform]}, name
    jetson = launch_config.EXAMPLE_MODELS["jetson"]
    assert _models(engines, r"build-engine --onnx \S+ --output (\S+)") == {jetson}
    assert _models(engines, r"model:=([^\s`]+)") == {jetson}
    onnx = _models(engines, r"build-engine --onnx (\S+)")
    assert onnx == _models(engines, r"litepose export .*--output (\S+)") == {launch_config.EXAMPLE_MODELS["cpu"]}


def _share_with_profiles(tmp_path: Path) -> str:
    dds = tmp_path / "config" / "dds"
    dds.mkdir(parents=True)
    for name in launch_config.SHIPPED_DDS_PROFILES.values():
        (dds / name).write_text("<profiles/>")
    return str(tmp_path)


def test_dds_profile_points_the_running_rmw_at_the_shipped_profile(tmp_path):
    share = _share_with_profiles(tmp_path)
    assert launch_config.dds_environment("", share) == {}
    fast = launch_config.dds_environment("large_frames", share, "rmw_fastrtps_cpp")
    shipped = os.path.join(share, "config", "dds", "fastdds_large_frames.xml")
    assert fast == {"FASTDDS_DEFAULT_PROFILES_FILE": shipped, "FASTRTPS_DEFAULT_PROFILES_FILE": shipped}
    assert launch_config.dds_environment("large_frames", share, "") == fast  # Fast DDS is the default RMW
    cyclone = launch_config.dds_environment("large_frames", share, "rmw_cyclonedds_cpp")
    cyclone_file = os.path.join(share, "config", "dds", "cyclonedds_large_frames.xml")
    assert cyclone == {"CYCLONEDDS_URI": "file://" + cyclone_file}
    mine = tmp_path / "mine.xml"
    mine.write_text("<profiles/>")
    assert launch_config.dds_environment(str(mine), share)["FASTDDS_DEFAULT_PROFILES_FILE"] == str(mine)
    with pytest.raises(ValueError, match=r"dds_profile:=nothere.xml: no such file"):
        launch_config.dds_environment("nothere.xml", share)


def test_shipped_dds_profiles_exist_for_every_rmw():
    for name in launch_config.SHIPPED_DDS_PROFILES.values():
        assert (REPO / "config" / "dds" / name).is_file(), name
