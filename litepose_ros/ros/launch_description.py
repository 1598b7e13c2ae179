"""The launch description behind pose.launch.py and its platform shortcuts (imports `launch`).

``generate(platform)`` declares every launch argument from ``launch_config`` (the options and
one per node parameter) and starts the node with what ``launch_config.resolve`` decides. The
shortcuts pass their platform and so declare no ``platform`` argument (``--show-args`` lists
only what they honour). On top of a plain launch_ros Node it adds:

- a failing node ends the launch with a non-zero exit code (unless respawn:=true), so
  systemd, CI and supervisors see the failure;
- ``lifecycle:=true`` starts the managed node; ``autostart:=true`` configures and then
  activates it;
- the node's output keeps terminal colours only when ``ros2 launch`` writes to a terminal,
  so logs in files and journald get no ANSI escapes or carriage returns.
"""
import os
import sys
from typing import Any, List, Optional

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnProcessExit, OnProcessStart
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration

from launch import LaunchDescription

from ..settings import launch_config
from ..settings.launch_config import NODE_NAME, OVERRIDABLE, PACKAGE
from .stop_signals import EXIT_WITH_PARENT_ENV


class NodeFailed(RuntimeError):
    """The node exited with an error: raised in the launch, whose exit code becomes non-zero."""


def generate(platform: Optional[str] = None) -> LaunchDescription:
    """pose.launch.py (``platform`` None: a ``platform:=`` argument) or a platform's shortcut."""
    names = launch_config.argument_names(with_platform=platform is None)
    defaults = {o.name: o.default for o in launch_config.OPTIONS}
    arguments = [DeclareLaunchArgument(name, default_value=defaults.get(name, ""),
                                       description=launch_config.ARGUMENT_HELP[name]) for name in names]
    return LaunchDescription(arguments + [OpaqueFunction(function=_start_node, kwargs={"platform": platform})])


def _launched_directly() -> bool:
    """True when ``ros2 launch`` was given one of our files (not a user's launch file that
    includes ours, whose own arguments are on the same command line)."""
    return any(os.path.basename(arg) in launch_config.LAUNCH_FILES for arg in sys.argv if ":=" not in arg)


def _parent_parameters(context: Any) -> List[str]:
    """Names set by a parent launch's SetParameter / SetParametersFromFile (launch_ros keeps
    them in the 'global_params' launch configuration: (name, value) pairs or file paths)."""
    names = []  # type: List[str]
    for entry in context.launch_configurations.get("global_params", None) or []:
        if isinstance(entry, tuple):
            names.append(str(entry[0]))
        else:
            names.extend(launch_config.read_parameters(str(entry)))
    return names


def _start_node(context: Any, platform: Optional[str] = None) -> List[Any]:
    launch_file = "{}.launch.py".format(platform) if platform else "pose.launch.py"
    names = launch_config.argument_names(with_platform=platform is None)
    if _launched_directly():
        launch_config.check_argument_names(launch_config.argument_names_given(context.argv), names, launch_file)
    values = {name: LaunchConfiguration(name).perform(context) for name in names}
    options = launch_config.parse_options(values)
    share_dir = get_package_share_directory(PACKAGE)
    plan = launch_config.resolve(
        platform or values["platform"], share_dir,
        {name: values[name] for name in OVERRIDABLE}, namespace=values["namespace"],
        params_file=values["params_file"], parent_parameters=_parent_parameters(context))
    parameters = plan.parameters
    if options.use_sim_time is not None:
        parameters.append({"use_sim_time": options.use_sim_time})
    node_options = dict(
        package=plan.package, executable=options.executable, name=plan.node_name, namespace=plan.namespace,
        parameters=parameters, respawn=options.respawn, respawn_delay=options.respawn_delay,
        output="screen", emulate_tty=sys.stdout.isatty(),
        # the node stops when the launch process dies: `ros2 launch` given SIGTERM (systemd's stop
        # signal) exits without stopping what it started
        additional_env=dict(launch_config.dds_environment(options.dds_profile, share_dir,
                                                          os.environ.get("RMW_IMPLEMENTATION", "")),
                            **{EXIT_WITH_PARENT_ENV: "1"}))
    if options.ros_arguments:
        node_options["arguments"] = ["--ros-args"] + options.ros_arguments
    if options.lifecycle:
        from launch_ros.actions import LifecycleNode

        node = LifecycleNode(**node_options)
    else:
        from launch_ros.actions import Node

        node = Node(**node_options)
    actions = [node, RegisterEventHandler(OnProcessExit(
        target_action=node, on_exit=lambda event, ctx: _on_exit(event, ctx, options.respawn)))]
    if options.lifecycle and options.autostart:
        actions += _autostart(node)
    return actions


def _on_exit(event: Any, context: Any, respawn: bool) -> None:
    if event.returncode == 0 or respawn or context.is_shutdown:
        return  # a requested stop, or launch restarts it
    raise NodeFailed("{} exited with code {} (its error is above); ending the launch".format(
        NODE_NAME, event.returncode))


def _autostart(node: Any) -> List[Any]:
    """Each time the process starts: configure, then activate once configure succeeded (only
    that once: a later configure through ros2 lifecycle or a manager is not followed by an
    activate). A failed configure leaves the node unconfigured with its error logged."""
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    def change(transition: int) -> EmitEvent:
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node), transition_id=transition))

    def on_start(event: Any, context: Any) -> List[Any]:
        activate_once = OnStateTransition(target_lifecycle_node=node, start_state="configuring", goal_state="inactive",
                                          entities=[change(Transition.TRANSITION_ACTIVATE)], handle_once=True)
        return [RegisterEventHandler(activate_once), change(Transition.TRANSITION_CONFIGURE)]

    return [RegisterEventHandler(OnProcessStart(target_action=node, on_start=on_start))]
