"""litepose_ros: real-time multi-person 2D pose estimation (LitePose) for ROS 2 edge robots.

The package root and its core modules import no ROS; the rclpy layer lives in ``litepose_ros.ros``.
"""
__version__ = "0.1.0"
