"""Start pose_node with the config of one platform:

    ros2 launch litepose_ros pose.launch.py platform:=jetson \
        model:=$HOME/litepose/litepose_xs_coco_256_fp16.engine image_topic:=/camera/image_raw

Every node parameter is an argument (empty keeps config/<platform>.yaml's value), plus
params_file, use_sim_time, log_level, respawn, lifecycle, ...: `--show-args` lists them. The
launch logic lives in litepose_ros.ros.launch_description / launch_config; this file only names it.
"""
from litepose_ros.ros.launch_description import generate


def generate_launch_description():
    return generate()
