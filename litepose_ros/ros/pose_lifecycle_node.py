"""`pose_lifecycle_node`: pose_node as a managed (lifecycle) node, for nav2-style bring-up.

Same parameters, topics and behaviour as ``pose_node`` (the steps are ``PoseNodeLogic``'s):

- configure: read the parameters, load the model, create the publishers (a model that cannot
  be loaded fails the transition with one error line; the node stays unconfigured);
- activate: subscribe to the camera (and depth), start the inference worker and /diagnostics;
- deactivate: unsubscribe, finish the frame in hand, stop /diagnostics;
- cleanup: release the model and the publishers (configure may then load another model).

``ros2 launch litepose_ros pose.launch.py lifecycle:=true`` starts it (and with
``autostart:=true``, the default, configures and activates it); ``ros2 lifecycle set`` or a
lifecycle manager drives it otherwise. rclpy has a lifecycle API from ROS 2 Humble on; on
older distributions this says so and the plain ``pose_node`` is the one to use.
"""
# ruff: noqa: E402  (the stop-signal handlers go in before the slow imports)
import sys

if __name__ == "__main__":  # Ctrl-C while rclpy, OpenCV and the runtimes import: exit quietly
    from litepose_ros.ros.stop_signals import exit_quietly_on_stop_signals

    exit_quietly_on_stop_signals()

from typing import List, Optional

from ..settings.parameters import NODE_NAME
from .pose_node import FatalError, PoseNodeLogic, _fatal, main, one_line

try:  # rclpy's lifecycle API: ROS 2 Humble and newer
    from rclpy.lifecycle import Node as LifecycleNode
    from rclpy.lifecycle import State, TransitionCallbackReturn
except ImportError:  # pragma: no cover - Foxy/Galactic-era rclpy (JetPack 4/5 builds)
    LifecycleNode = None

NO_LIFECYCLE = ("this ROS 2 distribution's rclpy has no lifecycle API (Humble and newer have it): "
                "launch with lifecycle:=false (the plain pose_node)")


if LifecycleNode is not None:
    class PoseLifecycleNode(PoseNodeLogic, LifecycleNode):
        """pose_node's steps as lifecycle transitions; parameters exist from creation on, so they
        can be set (``ros2 param set``) before configure."""

        def __init__(self) -> None:
            LifecycleNode.__init__(self, NODE_NAME, automatically_declare_parameters_from_overrides=True)
            self._declare_parameters()
            self._warn_unknown_parameters()
            self.add_on_set_parameters_callback(self._on_set_parameters)
            self._active = False

        def on_configure(self, state: "State") -> "TransitionCallbackReturn":
            try:
                self._configure()
            except Exception as error:  # noqa: B902 - FatalError, or a backend failing to load
                message = str(error) if isinstance(error, FatalError) else "{}: {}".format(
                    type(error).__name__, error)
                self.get_logger().error("configure failed: {}".format(one_line(message)))
                self.estimator = None
                return TransitionCallbackReturn.FAILURE
            self.get_logger().info("configured: model {} loaded".format(self.settings["model_path"]))
            return TransitionCallbackReturn.SUCCESS

        def on_activate(self, state: "State") -> "TransitionCallbackReturn":
            self._activate()
            self._active = True
            return LifecycleNode.on_activate(self, state)

        def on_deactivate(self, state: "State") -> "TransitionCallbackReturn":
            self._deactivate()
            self._active = False
            self.get_logger().info("deactivated: unsubscribed from {}".format(self.input_topic))
            return LifecycleNode.on_deactivate(self, state)

        def on_cleanup(self, state: "State") -> "TransitionCallbackReturn":
            self._cleanup()
            self.get_logger().info("cleaned up: model released")
            return TransitionCallbackReturn.SUCCESS

        def on_shutdown(self, state: "State") -> "TransitionCallbackReturn":
            self.stop()
            return TransitionCallbackReturn.SUCCESS

        def stop(self) -> None:
            """Whatever state it is in: stop the worker and release the model."""
            if self._active:
                self._deactivate()
                self._active = False
            if self.estimator is not None:
                self._cleanup()


def lifecycle_main(args: Optional[List[str]] = None) -> int:
    if LifecycleNode is None:
        return _fatal(NO_LIFECYCLE)
    return main(args, node_class=PoseLifecycleNode)


if __name__ == "__main__":
    sys.exit(lifecycle_main())
