"""The README's parameter table, generated from the one table (test_node_settings keeps the
README's copy equal to ``markdown_table()``)."""
from typing import Any

from .parameters import BAG_FILE, BAG_OPTION, PARAMETERS, Parameter


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "`{}`".format(str(value).lower())
    return '`""`' if value == "" else "`{}`".format(value)


def _uses(p: Parameter) -> str:
    uses = ["`{}:=`".format(p.short)]  # every parameter is a launch argument
    if p.bag == BAG_OPTION:
        uses.append("`{}`".format("--[no-]" + p.option[2:] if p.kind is bool else p.option))
    elif p.bag == BAG_FILE:
        uses.append("`--params`")
    return ", ".join(uses)


def markdown_table() -> str:
    """The README's parameter table (a test keeps the README equal to this)."""
    lines = ["| parameter | type | default | range | run-time | launch argument, `bag analyze` option | meaning |",
             "|---|---|---|---|---|---|---|"]
    for p in PARAMETERS:
        cells = ["`{}`".format(p.name), p.kind.__name__, _format_value(p.default), p.range_text(),
                 "yes" if p.dynamic else "no", _uses(p), p.help]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
