"""Camera frames out of a rosbag2 (sqlite3 or MCAP), as validated BGR images.

A frame that cannot be decoded is skipped and counted with its reason; a bag or topic that
cannot be used at all raises BagError with a message meant for the user.
"""
import collections
import math
from pathlib import Path
from typing import Any, Counter, Dict, Iterator, List, NamedTuple, Optional

import numpy as np

from ..image.messages import BadImage, compressed_to_bgr, image_to_bgr
from . import BagError
from .types import COMPRESSED_IMAGE, IMAGE_TYPES, typestore_for


class Frame(NamedTuple):
    index: int  # position of the message on the topic within the selected time window
    log_time_ns: int  # when the recorder received it (the bag's own timestamp)
    header: Any  # the source std_msgs/Header, copied into what we publish about it
    image: np.ndarray  # HxWx3 uint8 BGR

    @property
    def stamp_ns(self) -> int:
        return stamp_to_ns(self.header.stamp)


def stamp_to_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1000000000 + int(stamp.nanosec)


def decode_image(message: Any, msgtype: str) -> np.ndarray:
    """BGR pixels of an Image or CompressedImage message (the node's decoder); BadImage if unusable."""
    return compressed_to_bgr(message) if msgtype == COMPRESSED_IMAGE else image_to_bgr(message)


class FrameSource(object):
    """Frames of one image topic, with counts of everything read and skipped.

    start_s / end_s are seconds from the first message in the bag (any topic), compared with
    the bag's receive timestamps; every=N keeps frames 0, N, 2N, ... of the window.
    """

    def __init__(
        self, path: str, topic: str, start_s: float = 0.0, end_s: Optional[float] = None, every: int = 1
    ) -> None:
        if every < 1:
            raise BagError("--every must be at least 1")
        for option, value in (("--start", start_s), ("--end", end_s)):
            if value is not None and not math.isfinite(value):
                raise BagError("{} must be a finite number of seconds, got {}".format(option, value))
        if start_s < 0:
            raise BagError("--start must not be negative (seconds after the bag's first message)")
        if end_s is not None and end_s <= start_s:
            raise BagError("--end {:g} is not after --start {:g}: the window holds no frames".format(end_s, start_s))
        self.path, self.topic, self.every = path, topic, every
        self.start_s, self.end_s = start_s, end_s
        self.read = 0  # messages on the topic inside the window
        self.selected = 0  # of those, kept by --every
        self.decoded = 0
        self.skipped: Counter[str] = collections.Counter()
        self.read_stamps_ns: List[int] = []  # header stamps of every message read (for gaps)
        self.read_error: Optional[str] = None  # set when the bag breaks off mid-way (or was cut off)
        self.model_errors = 0  # decoded frames the model failed on (counted in skipped by reason)
        self._reader = open_bag(path)
        self.read_error = getattr(self._reader, "truncation", None)  # a cut MCAP file read up to the cut
        self.connections = topic_connections(self._reader, topic, IMAGE_TYPES)
        self.msgtype = self.connections[0].msgtype
        self.total = sum(c.msgcount for c in self.connections)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def counts(self) -> Dict[str, Any]:
        return {
            "read": self.read,
            "selected": self.selected,
            "decoded": self.decoded,
            "skipped": dict(sorted(self.skipped.items())),
            "read_error": self.read_error,
        }

    def _window_ns(self) -> Dict[str, Optional[int]]:
        begin = self._reader.start_time
        return {
            "start": begin + int(round(self.start_s * 1e9)) if self.start_s else None,
            "stop": begin + int(round(self.end_s * 1e9)) if self.end_s is not None else None,
        }

    def __iter__(self) -> Iterator[Frame]:
        for connection, log_time, raw in read_messages(self._reader, self.connections, self, **self._window_ns()):
            index = self.read
            self.read += 1
            try:
                message = typestore_for(connection).deserialize_cdr(raw, connection.msgtype)
            except Exception:  # rosbags raises assorted errors on malformed CDR
                self.skipped["undecodable message (bad CDR)"] += 1
                continue
            self.read_stamps_ns.append(stamp_to_ns(message.header.stamp))
            if index % self.every:
                continue
            self.selected += 1
            try:
                image = decode_image(message, connection.msgtype)
            except BadImage as error:
                self.skipped[str(error)] += 1
                continue
            self.decoded += 1
            yield Frame(index, log_time, message.header, image)


def open_bag(path: str):  # -> rosbags.rosbag2.Reader, open
    """Open a rosbag2 directory (or a bare .db3/.mcap file); BagError if it is not readable."""
    from rosbags.rosbag2 import Reader

    if not Path(path).exists():
        raise BagError("{}: no such bag".format(path))
    try:
        reader = Reader(path)
        reader.open()
    except Exception as error:  # sqlite3, mcap, yaml and rosbags errors all mean "unreadable"
        from .salvage import SalvageError, salvage

        try:
            salvaged = salvage(Path(path))  # a cut MCAP file: its intact chunks (truncation says where it ends)
        except SalvageError as why:
            raise BagError("{}: cannot read bag: {}".format(path, why)) from None
        if salvaged is None:
            raise BagError("{}: cannot read bag ({}: {})".format(path, type(error).__name__, _first_line(error))) \
                from None
        return salvaged
    return reader


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""


def topic_connections(reader: Any, topic: str, msgtypes: Any = None) -> list:
    """The bag's connections on topic; BagError listing the bag's topics if there are none,
    or if their type is not one of msgtypes."""
    connections = [c for c in reader.connections if c.topic == topic]
    if not connections:
        raise BagError("topic {} not in bag; it has: {}".format(topic, describe_topics(reader) or "no topics"))
    types = sorted({c.msgtype for c in connections})
    if msgtypes and any(t not in msgtypes for t in types):
        raise BagError(
            "topic {} has type {}, expected {}".format(topic, ", ".join(types), " or ".join(msgtypes))
        )
    return connections


def describe_topics(reader: Any) -> str:
    return ", ".join(
        "{} ({}, {})".format(c.topic, c.msgtype, c.msgcount) for c in sorted(reader.connections, key=lambda c: c.topic)
    )


def read_messages(reader: Any, connections: list, owner: Any, start: Optional[int], stop: Optional[int]) -> Iterator:
    """reader.messages(), but a bag that breaks off mid-way (truncated file, corrupt page) ends
    the stream with owner.read_error set instead of raising."""
    try:
        for item in reader.messages(connections, start=start, stop=stop):
            yield item
    except Exception as error:  # storage plugins raise sqlite3/mcap/lz4/zstd errors
        owner.read_error = "{}: {}".format(type(error).__name__, error)


