"""pip-installable form of the litepose_ros Python package, for machines without ROS
(training hosts, laptops, CI). On a robot, colcon builds the same package with CMake."""
import os
import runpy

from setuptools import Extension, find_packages, setup

# The compiled decoder core: sources and flags from litepose_ros/native/build_settings.txt (read
# by build.py, here and by CMakeLists.txt alike). A plain C library loaded with ctypes (it
# exports no Python module); optional: without a C compiler the install still succeeds and the
# decoder falls back to the numpy reference.
_native = runpy.run_path(os.path.join("litepose_ros", "native", "build.py"))
native_core = Extension(
    "litepose_ros.native." + _native["LIBRARY_NAME"],
    sources=[os.path.join("litepose_ros", "native", name) for name in _native["SOURCES"]],
    extra_compile_args=[flag for flag in _native["CFLAGS"] if flag != "-fPIC"],  # setuptools adds it
    libraries=_native["LIBRARIES"],
    extra_link_args=["-pthread"],
    optional=True,
)

setup(
    name="litepose_ros",
    version="0.1.0",
    description="Real-time multi-person 2D pose estimation (LitePose) for ROS 2 edge robots",
    license="MIT",
    packages=find_packages(include=["litepose_ros", "litepose_ros.*"]),
    ext_modules=[native_core],
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
