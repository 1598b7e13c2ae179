"""`litepose bag summary`: the analyze statistics and plots from a bag of PoseArray messages
(written by `bag analyze`, or recorded from the live node with `ros2 bag record`); no model."""
import collections
import sys
from typing import Any, Counter, Dict, List, Sequence, Tuple

import numpy as np

from ..common.files import progress
from ..messages.pose_array import people_from_message
from . import BagError
from .outputs import OutputError, check_output_paths
from .reader import open_bag, read_messages, stamp_to_ns, topic_connections
from .stats import FrameRecord, FrameTable, summarize
from .types import POSE_ARRAY, typestore_for


class _ReadStatus(object):
    """Where read_messages() reports a bag that breaks off mid-way."""

    read_error = None


def read_poses(
    path: str, topic: str, show_progress: bool = False
) -> Tuple[List[FrameRecord], List[str], Dict[str, Any], Dict[str, Any]]:
    """(records, keypoint names, frame counts, model info) of every PoseArray on topic."""
    reader = open_bag(path)
    try:
        connections = topic_connections(reader, topic, (POSE_ARRAY,))
        records: List[FrameRecord] = []
        skipped: Counter[str] = collections.Counter()
        names: Sequence[str] = ()
        info: Dict[str, Any] = {}
        status = _ReadStatus()
        status.read_error = getattr(reader, "truncation", None)  # a cut MCAP file, read up to the cut
        messages = progress(read_messages(reader, connections, status, None, None),
                            sum(c.msgcount for c in connections), "summary", enabled=show_progress, unit="msg")
        for index, (connection, _, raw) in enumerate(messages):
            try:
                message = typestore_for(connection).deserialize_cdr(raw, connection.msgtype)
                people = people_from_message(message)
            except Exception:  # malformed CDR, or people whose keypoint count disagrees
                skipped["undecodable message"] += 1
                continue
            if not names:
                names = list(message.keypoint_names)
                info = {"model": message.model, "model_arch": message.model_arch, "dataset": message.dataset,
                        "backend": message.backend}
            track_ids = np.array([p.track_id for p in message.people], np.int64)
            records.append(FrameRecord(index, stamp_to_ns(message.header.stamp), people,
                                       float(message.processing_ms), None, track_ids))
        read = len(records) + sum(skipped.values())
        counts = {"read": read, "selected": read, "decoded": len(records), "skipped": dict(skipped),
                  "read_error": status.read_error}
        return records, list(names), counts, info
    finally:
        reader.close()


def summarize_poses_bag(
    path: str, topic: str, visibility_threshold: float, show_progress: bool = False
) -> Tuple[Dict[str, Any], List[FrameRecord]]:
    records, names, counts, info = read_poses(path, topic, show_progress)
    summary = summarize(records, names, counts, [r.stamp_ns for r in records], visibility_threshold)
    summary["run"] = dict(info, input=path, topic=topic)
    return summary, records


def run(args: Any) -> int:
    from .analyze import finish

    try:
        check_output_paths(args)
        summary, records = summarize_poses_bag(args.input, args.topic, args.visibility_threshold,
                                               not args.no_progress)
        if args.csv and records:
            write_table(args.csv, summary, records)
    except BagError as error:
        print("error: {}".format(error), file=sys.stderr)
        return 1
    problem = finish(summary, records, args, title="{} ({})".format(args.input, args.topic))
    if problem:
        print("error: {}".format(problem), file=sys.stderr)
    return 1 if summary["frames"]["read_error"] or problem else 0


def write_table(path: str, summary: Dict[str, Any], records: List[FrameRecord]) -> None:
    try:
        table = FrameTable(path, list(summary["keypoint_visibility"]["fraction"]))
        try:
            for record in records:
                table.add(record)
        finally:
            table.close()
    except OSError as error:
        raise OutputError("cannot write --csv {}: {}".format(path, error.strerror or error)) from None
