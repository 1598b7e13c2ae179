"""How the package is installed and used: generated messages, package.xml, the colcon install."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _python(code: str, cwd: Path, env: dict = None, python: str = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=120)


def test_messages_import_first_thing_in_a_script(tmp_path):
    """A downstream script in the development venv, as on a robot: no litepose_ros.ros import first."""
    # where scripts/build_ros.sh installs the generated code in the venv
    if not (Path(sys.prefix) / "lib" / "litepose_ros_msgs" / "litepose_ros" / "msg").is_dir():
        pytest.skip("generated messages not built in this environment; run scripts/build_ros.sh")
    script = (
        "import sys\n"
        "from litepose_ros.msg import Keypoint, PoseArray\n"
        "msg = PoseArray(keypoint_names=['nose'])\n"
        "assert type(msg).__module__ == 'litepose_ros.msg._pose_array', type(msg).__module__\n"
        "print(sorted(m for m in sys.modules if m.startswith('litepose_ros.ros') or m == 'rclpy'))\n"
    )
    result = _python(script, tmp_path)  # outside the checkout: the installed package is what imports
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # nothing from the ROS layer was needed


# What colcon builds from src/litepose_ros, with the Python sources installed (the robot layout).
PACKAGE_FILES = ("CMakeLists.txt", "package.xml", "msg", "scripts", "launch", "config", "litepose_ros")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """cmake configure + build + install into a temp prefix, as colcon does (about 30 s)."""
    venv = Path(sys.prefix)
    if shutil.which("cmake") is None or not (venv / "share" / "rosidl_default_generators").is_dir():
        pytest.skip("cmake or the ROS 2 build tools are missing; run scripts/setup_env.sh")
    root = tmp_path_factory.mktemp("colcon")
    src = root / "src" / "litepose_ros"  # outside the checkout: the venv must not lie in the source tree
    src.mkdir(parents=True)
    for name in PACKAGE_FILES:
        if (REPO / name).is_dir():
            shutil.copytree(str(REPO / name), str(src / name), ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(str(REPO / name), str(src / name))
    env = dict(os.environ, AMENT_PREFIX_PATH=str(venv))
    prefix = root / "install"
    steps = [
        ["cmake", "-S", str(src), "-B", str(root / "build"), "-DCMAKE_PREFIX_PATH=" + str(venv),
         "-DCMAKE_INSTALL_PREFIX=" + str(prefix), "-DBUILD_TESTING=OFF", "-DPython3_EXECUTABLE=" + sys.executable,
         "-DLITEPOSE_INSTALL_PYTHON_SOURCES=ON"],
        ["cmake", "--build", str(root / "build"), "-j2"],
        ["cmake", "--install", str(root / "build")],
    ]
    for step in steps:
        result = subprocess.run(step, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                universal_newlines=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:]
    return prefix


def _installed_env(prefix: Path) -> dict:
    """What sourcing install/setup.bash gives: the prefix's Python path, libraries and bin/ first."""
    site = prefix / "lib" / "python{}.{}".format(*sys.version_info[:2]) / "site-packages"
    path = os.pathsep.join([str(prefix / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    libs = os.pathsep.join([str(prefix / "lib"), os.environ.get("LD_LIBRARY_PATH", "")])
    return dict(os.environ, PYTHONPATH=str(site), PATH=path, LD_LIBRARY_PATH=libs)


@pytest.mark.parametrize("command", [["lib/litepose_ros/litepose"], ["bin/litepose"]])
def test_colcon_install_provides_the_litepose_command(installed, tmp_path, command):
    """`ros2 run litepose_ros litepose build-engine ...` runs lib/litepose_ros/litepose; `litepose` is bin/."""
    env = _installed_env(installed)
    program = str(installed / command[0])
    result = subprocess.run([program, "--help"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "build-engine" in result.stdout and "bag" in result.stdout
    result = subprocess.run([program, "build-engine", "--help"], cwd=str(tmp_path), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--onnx" in result.stdout and "--output" in result.stdout


def test_colcon_install_runs_the_installed_sources_and_messages(installed, tmp_path):
    """The wrappers import what was installed (not the checkout), messages included: the robot layout."""
    script = ("import litepose_ros.cli\nfrom litepose_ros.msg import PoseArray\nPoseArray()\n"
              "print(litepose_ros.cli.__file__)\nprint(__import__('sys').modules['litepose_ros.msg'].__file__)")
    result = _python(script, tmp_path, env=_installed_env(installed))
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        assert line.startswith(str(installed)), line
    for name in ("pose_node", "litepose"):
        wrapper = (installed / "lib" / "litepose_ros" / name).read_text()
        assert os.access(str(installed / "lib" / "litepose_ros" / name), os.X_OK) and wrapper.startswith("#!")
    assert (installed / "share" / "litepose_ros" / "config" / "jetson.yaml").is_file()
