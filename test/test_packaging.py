"""How the package is installed and used: generated messages, package.xml, the colcon install."""
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
