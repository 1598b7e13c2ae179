"""Build the native decoder core (the C sources here) into a shared library, with the standard
library only, so any Python (the host's, when cross-compiling for aarch64) can run it.

    python litepose_ros/native/build.py [--cc aarch64-linux-gnu-gcc] [--output PATH] [--force]

``scripts/setup_env.sh`` runs it for the development checkout; ``pip install`` builds the same
sources through setup.py and ``colcon build`` through CMakeLists.txt (native.cmake). All three
take the sources and flags from ``build_settings.txt`` (why each flag: there).
"""
import argparse
import os
import shlex
import subprocess
import sys
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS_FILE = os.path.join(HERE, "build_settings.txt")


def read_settings(path: str = SETTINGS_FILE) -> Dict[str, List[str]]:
    """``name = values`` lines of build_settings.txt as {name: [value, ...]}."""
    settings = {}
    with open(path) as lines:
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, values = line.partition("=")
                settings[name.strip()] = values.split()
    return settings


_SETTINGS = read_settings()
SOURCES = _SETTINGS["sources"]
CFLAGS = _SETTINGS["cflags"]
LIBRARIES = _SETTINGS["libraries"]
LIBRARY_NAME = "_litepose_native"
DEFAULT_OUTPUT = os.path.join(HERE, LIBRARY_NAME + ".so")


def source_paths() -> List[str]:
    return [os.path.join(HERE, name) for name in SOURCES]


def header_paths() -> List[str]:
    return sorted(os.path.join(HERE, name) for name in os.listdir(HERE) if name.endswith(".h"))


def up_to_date(output: str) -> bool:
    """Whether ``output`` is newer than every source and header, the settings and this script."""
    if not os.path.exists(output):
        return False
    built = os.path.getmtime(output)
    inputs = source_paths() + header_paths() + [SETTINGS_FILE, os.path.abspath(__file__)]
    return all(os.path.getmtime(path) <= built for path in inputs)


def build(output: str = DEFAULT_OUTPUT, cc: str = "", force: bool = False) -> str:
    """Compile the library to ``output`` (skipped while up to date unless ``force``); returns it."""
    if not force and up_to_date(output):
        return output
    compiler = shlex.split(cc or os.environ.get("CC", "") or "cc")
    directory = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    partial = output + ".partial"
    command = compiler + CFLAGS + ["-shared", "-o", partial] + source_paths() + ["-l" + name for name in LIBRARIES]
    subprocess.check_call(command)
    os.replace(partial, output)  # never leave a half-written library where the loader looks
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cc", default="", help="C compiler (default: $CC, else cc)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, help="library path (default: next to the sources)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args()
    try:
        print(build(args.output, args.cc, args.force))
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit("native build failed: {}".format(error))


if __name__ == "__main__":
    main()
