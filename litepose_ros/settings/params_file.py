"""ROS 2 parameters files (YAML, already parsed) -> the values that apply to one node, as the
node resolves them: `litepose bag analyze --params` and the launch logic read the same file."""
from typing import Any, Dict, List, Optional


def parameters_from_file(document: Dict[str, Any], node_names: List[str]) -> Optional[Dict[str, Any]]:
    """The ros__parameters that apply to the node from a parsed ROS 2 parameters file:
    wildcard and other sections first, the node's own sections last so they win."""
    sections = {key: value.get("ros__parameters") for key, value in document.items() if isinstance(value, dict)}
    found = [s for name, s in sections.items() if name not in node_names and isinstance(s, dict)]
    found += [sections[name] for name in node_names if isinstance(sections.get(name), dict)]
    if not found:
        return None
    params: Dict[str, Any] = {}
    for section in found:
        params.update(section)
    return params
