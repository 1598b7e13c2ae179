"""pose.launch.py for an NVIDIA Jetson (TensorRT engine, config/jetson.yaml):

    ros2 launch litepose_ros jetson.launch.py model:=$HOME/litepose/litepose_xs_coco_256_fp16.engine \
        image_topic:=/camera/image_raw

Takes every pose.launch.py argument except platform (`--show-args` lists them).
"""
from litepose_ros.ros.launch_description import generate

PLATFORM = "jetson"


def generate_launch_description():
    return generate(PLATFORM)
