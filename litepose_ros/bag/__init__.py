"""Offline analysis of rosbag2 recordings (sqlite3 and MCAP) without a ROS install.

``litepose bag analyze`` runs the pose pipeline on a camera topic and writes a poses bag,
a per-frame table, a summary and plots; ``litepose bag summary`` computes the same summary
from a poses bag (e.g. one recorded from the live node). Needs ``rosbags`` (and matplotlib
for plots); see requirements/bags.txt.
"""


class BagError(Exception):
    """A problem with a bag the user should read as one line, never as a traceback."""
