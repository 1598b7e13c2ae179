"""pose.launch.py with platform:=rpi: pose_node on a Raspberry Pi (TFLite, config/rpi.yaml).

    ros2 launch litepose_ros rpi.launch.py model:=$HOME/litepose/litepose_xs_coco_256.tflite \
        image_topic:=/camera/image_raw

Every other pose.launch.py argument (model, namespace, ...) is accepted as well.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription
from litepose_ros.launch_config import PACKAGE

PLATFORM = "rpi"


def generate_launch_description():
    pose_launch = os.path.join(get_package_share_directory(PACKAGE), "launch", "pose.launch.py")
    return LaunchDescription([
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(pose_launch),
            launch_arguments={"platform": PLATFORM}.items(),
        )
    ])
