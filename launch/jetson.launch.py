"""pose.launch.py with platform:=jetson: pose_node on an NVIDIA Jetson (TensorRT engine, config/jetson.yaml).

    ros2 launch litepose_ros jetson.launch.py model:=$HOME/litepose/litepose_xs_coco_256_fp16.engine \
        image_topic:=/camera/image_raw

Every other pose.launch.py argument (model, namespace, ...) is accepted as well.
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

from launch import LaunchDescription
from litepose_ros.launch_config import PACKAGE

PLATFORM = "jetson"


def generate_launch_description():
    pose_launch = os.path.join(get_package_share_directory(PACKAGE), "launch", "pose.launch.py")
    return LaunchDescription([
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(pose_launch),
            launch_arguments={"platform": PLATFORM}.items(),
        )
    ])
