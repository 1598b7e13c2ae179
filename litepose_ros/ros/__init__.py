"""The ROS 2 layer: message conversions, image input and the pose node.

``litepose_ros.msg`` (the generated message code) is made importable by the package root,
``litepose_ros/__init__.py``, in the development venv too; ``attach_generated_messages`` is
re-exported here for the modules that call it.
"""
from .. import attach_generated_messages

__all__ = ["attach_generated_messages"]
