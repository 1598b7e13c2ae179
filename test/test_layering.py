"""Imports go down the layers only (read from the source, so lazy imports inside functions count).

Layers, bottom up: the pure-Python runtime (common/, what every stage shares; the stages in the
order a frame meets them, image/ -> backends/ -> decoding/ -> tracking -> depth/ -> messages/, each
importing only those before it; pipeline/, which chains them; settings/, the node's
configuration); tooling built on it (model/, engines/, export/, training/, bag/, evaluation/); the
rclpy layer (ros/); the command line (commands/, cli.py). Test and bench data (litepose_testing/)
sit beside the package, outside it.
"""
import ast
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "litepose_ros"
ROS_ROOTS = {"rclpy", "sensor_msgs", "std_msgs", "diagnostic_msgs", "builtin_interfaces", "cv_bridge",
             "launch", "launch_ros", "ament_index_python"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> List[str]:
    """Absolute names of every module the file imports, anywhere in it."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from . import x` may name submodules: count them too
            found += [module] + [module + "." + alias.name for alias in node.names]
    return found


def all_imports() -> Dict[str, List[str]]:
    return {_module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _inside(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def violations(imports: Dict[str, List[str]], importer: Tuple[str, ...], forbidden: Tuple[str, ...],
               exempt: Tuple[str, ...] = ()) -> List[str]:
    return sorted(
        "{} imports {}".format(module, target)
        for module, targets in imports.items()
        if _inside(module, *importer) and not _inside(module, *exempt)
        for target in targets if _inside(target, *forbidden)
    )


CORE = ("litepose_ros",)
UPPER = ("litepose_ros.ros", "litepose_ros.commands", "litepose_ros.cli")
TOOLING = ("litepose_ros.engines", "litepose_ros.export", "litepose_ros.training", "litepose_ros.bag",
           "litepose_ros.model", "litepose_ros.evaluation")
# The frame's path through the runtime, in order (common/ below them all, pipeline/ above).
STAGES = ("litepose_ros.image", "litepose_ros.backends", "litepose_ros.decoding", "litepose_ros.tracking",
          "litepose_ros.depth", "litepose_ros.messages")
RUNTIME = ("litepose_ros.common", "litepose_ros.native") + STAGES + ("litepose_ros.pipeline", "litepose_ros.settings")

RULES = {
    "backends never import engines, tooling, ros or commands": (
        ("litepose_ros.backends",), TOOLING + UPPER, ()),
    "the runtime never imports tooling (the robot has no torch)": (RUNTIME, TOOLING, ()),
    "common/ imports no stage, the pipeline or the settings": (
        ("litepose_ros.common",), STAGES + ("litepose_ros.pipeline", "litepose_ros.settings"), ()),
    "the stages never import the pipeline that chains them": (STAGES, ("litepose_ros.pipeline",), ()),
    "core and tooling never import the ROS layer or the command line": (CORE, UPPER, UPPER),
    "nothing below ros/ imports ROS": (CORE, tuple(ROS_ROOTS), ("litepose_ros.ros",)),
    "only the command line imports commands": (CORE, ("litepose_ros.commands", "litepose_ros.cli"),
                                               ("litepose_ros.commands", "litepose_ros.cli")),
    # test and bench data live beside the package and are not installed with it
    "the runtime package never imports the testing package": (CORE, ("litepose_testing",), ()),
}
for _index, _stage in enumerate(STAGES[:-1]):  # each stage imports only the stages before it
    RULES["{} imports no later stage".format(_stage)] = ((_stage,), STAGES[_index + 1:], ())


@pytest.mark.parametrize("rule", sorted(RULES))
def test_imports_go_down_the_layers(rule):
    importer, forbidden, exempt = RULES[rule]
    assert violations(all_imports(), importer, forbidden, exempt) == []


def test_the_scan_sees_relative_and_lazy_imports(tmp_path):
    """The checker itself: a lazy relative import of engines from backends is caught."""
    imports = {
        "litepose_ros.backends.x": ["litepose_ros.engines.sidecar"],
        "litepose_ros.export.verify": ["litepose_ros.commands.common"],
        "litepose_ros.ros.node": ["litepose_ros.commands"],
        "litepose_ros.decoding.x": ["litepose_testing.synthetic"],
        "litepose_ros.image.preprocess": ["litepose_ros.decoding.reference"],
        "litepose_ros.common.metadata": ["litepose_ros.model.litepose"],
    }
    assert violations(imports, *RULES["backends never import engines, tooling, ros or commands"]) == [
        "litepose_ros.backends.x imports litepose_ros.engines.sidecar"]
    assert violations(imports, *RULES["core and tooling never import the ROS layer or the command line"]) == [
        "litepose_ros.export.verify imports litepose_ros.commands.common"]
    assert violations(imports, *RULES["the runtime package never imports the testing package"]) == [
        "litepose_ros.decoding.x imports litepose_testing.synthetic"]
    assert violations(imports, *RULES["litepose_ros.image imports no later stage"]) == [
        "litepose_ros.image.preprocess imports litepose_ros.decoding.reference"]
    assert violations(imports, *RULES["the runtime never imports tooling (the robot has no torch)"]) == [
        "litepose_ros.backends.x imports litepose_ros.engines.sidecar",
        "litepose_ros.common.metadata imports litepose_ros.model.litepose"]
    source = PACKAGE / "backends" / "tensorrt_backend.py"
    assert "litepose_ros.backends.sidecar" in imports_of(source)
    assert "litepose_ros.common.files" in imports_of(PACKAGE / "export" / "verify.py")  # imported inside a function
