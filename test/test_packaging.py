"""How the package is installed and used: generated messages, package.xml, the colcon install."""
import ast
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
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


def test_pip_installs_the_runtime_package_without_the_testing_one(monkeypatch):
    """setup.py's package list: every litepose_ros package, never litepose_testing (test data)."""
    import runpy

    import setuptools

    found = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kwargs: found.update(kwargs))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "setup.py"))
    packages = set(found["packages"])
    on_disk = {".".join(p.relative_to(REPO).parent.parts) for p in (REPO / "litepose_ros").rglob("__init__.py")}
    assert packages == on_disk
    assert (REPO / "litepose_testing" / "__init__.py").is_file() and not any(
        p.startswith("litepose_testing") for p in packages)
    assert "litepose_testing" not in (REPO / "MANIFEST.in").read_text()


# What colcon builds from src/litepose_ros, with the Python sources installed (the robot layout).
PACKAGE_FILES = ("CMakeLists.txt", "package.xml", "cmake", "msg", "scripts", "launch", "config", "litepose_ros")


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
    for name in ("fastdds_large_frames.xml", "cyclonedds_large_frames.xml", "60-litepose-dds.conf"):
        assert (installed / "share" / "litepose_ros" / "config" / "dds" / name).is_file(), name


# rosdep keys of package.xml that are not ROS packages, each looked up in ros/rosdistro's
# rosdep/python.yaml (2026-11-29); python3-onnxruntime-pip resolves to `pip install onnxruntime`.
VERIFIED_ROSDEP_KEYS = {"python3-numpy", "python3-opencv", "python3-scipy", "python3-yaml",
                        "python3-onnxruntime-pip", "python3-pytest"}
# Third-party imports of the runtime modules -> the rosdep key that provides them.
DECLARED = {"numpy": "python3-numpy", "cv2": "python3-opencv", "scipy": "python3-scipy", "yaml": "python3-yaml",
            "onnxruntime": "python3-onnxruntime-pip"}
ROS_PACKAGES = {"rclpy", "rcl_interfaces", "sensor_msgs", "std_msgs", "diagnostic_msgs", "builtin_interfaces",
                "cv_bridge", "geometry_msgs", "visualization_msgs", "std_srvs", "launch", "launch_ros",
                "ament_index_python", "lifecycle_msgs"}
# No rosdep key: what the README's "Inference runtimes per platform" must tell users to install.
MANUAL = {"tensorrt": "python3-libnvinfer", "pycuda": "pip3 install pycuda",
          "ai_edge_litert": "pip3 install ai-edge-litert", "tflite_runtime": "pip3 install tflite-runtime"}
# Imported with a fallback, or by tooling only: not a runtime requirement.
OPTIONAL = {"tqdm": "progress bar; files.progress works without it",
            "onnx": "tensorrt_build reads metadata with ONNX Runtime without it",
            "munkres": "decoding/reference.py, benchmark solver only"}


def _package_dependencies() -> dict:
    root = ET.parse(str(REPO / "package.xml")).getroot()
    deps = {}
    for tag in ("depend", "exec_depend", "build_depend", "buildtool_depend", "test_depend"):
        for element in root.findall(tag):
            assert element.text not in deps, "{} declared twice".format(element.text)
            deps[element.text] = tag
    return deps


def _runtime_import_roots() -> dict:
    """Third-party import roots of scripts/lint.sh's RUNTIME_MODULES (what runs on the robot)."""
    lint = (REPO / "scripts" / "lint.sh").read_text()
    listed = re.search(r"RUNTIME_MODULES=\(\n(.*?)\n\)", lint, re.S).group(1).split()
    files = []
    for name in listed:
        path = REPO / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    roots = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for name in names:
                root = name.split(".")[0]
                if root not in sys.stdlib_module_names and root != "litepose_ros":
                    roots.setdefault(root, set()).add(path.name)
    return roots


def test_package_xml_declares_the_runtime_dependencies_rosdep_can_resolve():
    deps = _package_dependencies()
    for key in deps:
        if key.startswith("python3-"):
            assert key in VERIFIED_ROSDEP_KEYS, "{}: not a key checked against the rosdistro index".format(key)
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Inference runtimes per platform"):]
    section = section[:section.index("\n## ")]
    for root, users in sorted(_runtime_import_roots().items()):
        if root in DECLARED:
            assert deps.get(DECLARED[root]) in ("exec_depend", "depend"), (root, users)
        elif root in ROS_PACKAGES:
            assert deps.get(root) in ("exec_depend", "depend"), (root, users)
        elif root in MANUAL:
            assert MANUAL[root] in section, "README does not say how to install {}".format(root)
        else:
            assert root in OPTIONAL, "runtime import {} (in {}) is neither declared, documented nor optional".format(
                root, sorted(users))
    assert "python3-onnxruntime-pip" in section and "PIP_BREAK_SYSTEM_PACKAGES" in section
    assert "externally-managed-environment" in section and "numpy>=1.23.2,<2" in section
