"""pose.launch.py for a Raspberry Pi (TFLite, config/rpi.yaml):

    ros2 launch litepose_ros rpi.launch.py model:=$HOME/litepose/litepose_xs_coco_256.tflite \
        image_topic:=/camera/image_raw

Takes every pose.launch.py argument except platform (`--show-args` lists them).
"""
from litepose_ros.ros.launch_description import generate

PLATFORM = "rpi"


def generate_launch_description():
    return generate(PLATFORM)
