"""Start pose_node with the config of one platform:

    ros2 launch litepose_ros pose.launch.py platform:=jetson \
        model:=$HOME/litepose/litepose_xs_coco_256_fp16.engine image_topic:=/camera/image_raw

Arguments left empty keep the value from config/<platform>.yaml, except model: the configs
name none, so model:= is required (a relative one is made absolute here, against the directory
ros2 launch runs in). The platform -> parameters logic lives in litepose_ros.launch_config
(tested without ROS); this file only wires it up.
"""
from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from litepose_ros.launch_config import ARGUMENT_HELP, OVERRIDABLE, PACKAGE, resolve


def _pose_node(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name in OVERRIDABLE}
    plan = resolve(
        LaunchConfiguration("platform").perform(context),
        get_package_share_directory(PACKAGE),
        values,
        namespace=LaunchConfiguration("namespace").perform(context),
    )
    return [
        Node(
            package=plan.package,
            executable=plan.executable,
            name=plan.node_name,
            namespace=plan.namespace,
            parameters=plan.parameters,
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument("platform", default_value="cpu", description=ARGUMENT_HELP["platform"]),
        DeclareLaunchArgument("namespace", default_value="", description=ARGUMENT_HELP["namespace"]),
    ]
    arguments += [
        DeclareLaunchArgument(name, default_value="", description=ARGUMENT_HELP[name]) for name in OVERRIDABLE
    ]
    return LaunchDescription(arguments + [OpaqueFunction(function=_pose_node)])
