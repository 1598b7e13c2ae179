"""pip-installable form of the litepose_ros Python package, for machines without ROS
(training hosts, laptops, CI). On a robot, colcon builds the same package with CMake."""
from setuptools import find_packages, setup

setup(
    name="litepose_ros",
    version="0.1.0",
    description="Real-time multi-person 2D pose estimation (LitePose) for ROS 2 edge robots",
    license="MIT",
    packages=find_packages(include=["litepose_ros", "litepose_ros.*"]),
    python_requires=">=3.6",
    install_requires=["numpy", "opencv-python-headless", "scipy"],
    extras_require={
        "onnx": ["onnxruntime"],
        "export": ["torch", "onnx", "onnxruntime"],
        "eval": ["pycocotools", "xtcocotools", "tqdm"],
    },
    entry_points={
        "console_scripts": [
            "litepose = litepose_ros.cli:main",
        ],
    },
)
