"""Track ids from pose_node as a real process over DDS, on a moving-marker image sequence.

The marker model of ros_harness is changed so that every red blob is one person: joint 0's
heatmap covers the whole input, and the tags come from the green channel, so blobs drawn on
green discs of different brightness get different tags (the decoder starts one person per
distinct tag). Stamps are set by the test, so the tracker's clock is known exactly.
"""
import numpy as np
import pytest
import ros_harness as h

from litepose_ros.metadata import IMAGENET_MEAN, IMAGENET_STD
from litepose_ros.tracking import TRACK_ID_NONE

WIDTH, HEIGHT = 320, 240
PERIOD_NS = 100_000_000  # 10 Hz camera stamps
START_NS = 1_700_000_000_000_000_000
TAG_SCALE = 10.0  # green 0..255 -> tag 0..10; discs 80 apart differ by 3 (tag threshold 1)
GREEN = {"a": 40, "b": 120, "c": 200}


def make_people_marker_model(path):
    import onnx
    from onnx import helper, numpy_helper

    h.make_marker_model(path, regions={0: (0, 0, 256, 256)})
    model = onnx.load(str(path))
    graph = model.graph
    graph.initializer.extend([
        numpy_helper.from_array(np.array([2], np.int64), "c2"),
        # undo the ImageNet normalisation of the green channel, times TAG_SCALE
        numpy_helper.from_array(np.array(IMAGENET_STD[1] * TAG_SCALE, np.float32), "std_g"),
        numpy_helper.from_array(np.array(IMAGENET_MEAN[1] * TAG_SCALE, np.float32), "mean_g"),
        numpy_helper.from_array(np.array([1, 17, 1, 1], np.int64), "tag_repeats"),
    ])
    nodes = [
        helper.make_node("Slice", ["image", "c1", "c2", "axis1"], ["green"]),
        helper.make_node("Mul", ["green", "std_g"], ["green_std"]),
        helper.make_node("Add", ["green_std", "mean_g"], ["green_tag"]),
        helper.make_node("MaxPool", ["green_tag"], ["green_tag4"], kernel_shape=[4, 4], strides=[4, 4]),
        helper.make_node("Tile", ["green_tag4", "tag_repeats"], ["tags_from_green"]),
    ]
    for node in graph.node:
        if node.op_type == "Concat" and "tags" in node.input:
            node.input[list(node.input).index("tags")] = "tags_from_green"
    ordered = nodes + list(graph.node)  # the new inputs before the Concat that reads them
    del graph.node[:]
    graph.node.extend(ordered)
    unused = [i for i, init in enumerate(graph.initializer) if init.name == "tags"]
    del graph.initializer[unused[0]]
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def draw(markers):
    """markers: name -> (x, y) in source pixels; a red blob on a green disc per marker."""
    image = h.draw_markers(WIDTH, HEIGHT, list(markers.values()))
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH] + 0.5
    for name, (x, y) in markers.items():
        image[..., 1][(xs - x) ** 2 + (ys - y) ** 2 <= 14 ** 2] = GREEN[name]
    return image


def position(name, frame):
    """Each marker moves 2-3 px per frame on its own straight line; they stay > 35 px apart."""
    start, step = {"a": ((40, 60), (3, 0)), "b": ((280, 120), (-3, 0.5)), "c": ((60, 200), (2, -0.5))}[name]
    return start[0] + step[0] * frame, start[1] + step[1] * frame


@pytest.fixture(scope="module")
def people_model(tmp_path_factory):
    return make_people_marker_model(tmp_path_factory.mktemp("markers") / "people_marker_coco_256.onnx")


def test_marker_ids_over_dds(tmp_path, people_model):
    from std_srvs.srv import Trigger

    domain = h.next_domain_id()
    node = h.NodeProcess(tmp_path, domain, dict(model_path=people_model, qos_reliability="reliable",
                                                diagnostics_period=0.2, track_coast_s=1.0))
    client = h.RosClient(domain)
    try:
        camera = client.camera(reliable=True, depth=10)
        client.handshake(camera, node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))

        def send(frame, names, stamp_frame=None):
            stamp = START_NS + (frame if stamp_frame is None else stamp_frame) * PERIOD_NS
            image = draw({n: position(n, frame) for n in names})
            # frame_id tells the replayed stamp's poses apart from the first ones
            msg, _ = client.send_until_posed(camera, h.image_msg(image, stamp, "cam{}".format(frame)))
            return {_nearest(p, frame, names): p.track_id for p in msg.people}

        # a and b move: confirmed on their third frame (3 hits within 0.5 s), then fixed ids
        seen = [send(f, "ab") for f in range(8)]
        assert all(set(s) == {"a", "b"} for s in seen), seen
        assert seen[0] == {"a": TRACK_ID_NONE, "b": TRACK_ID_NONE}
        ids = seen[2]
        assert ids["a"] != ids["b"] and TRACK_ID_NONE not in ids.values()
        assert all(s == ids for s in seen[2:])

        # c walks in: a new id once confirmed; a and b keep theirs
        seen = [send(f, "abc") for f in range(8, 14)]
        assert seen[0]["c"] == TRACK_ID_NONE
        c_id = seen[-1]["c"]
        assert c_id not in (ids["a"], ids["b"], TRACK_ID_NONE)
        assert all(s["a"] == ids["a"] and s["b"] == ids["b"] for s in seen)
        client.wait_until(lambda: client.latest_diagnostic_values().get("active_tracks") == "3", 5, "3 tracks")

        # b is gone for 1.5 s of stamps (coasting time 1 s), then comes back: a new id
        seen = [send(f, "ac") for f in range(14, 29)]
        assert all(s == {"a": ids["a"], "c": c_id} for s in seen)
        seen = [send(f, "abc") for f in range(29, 33)]
        assert seen[0]["b"] == TRACK_ID_NONE and seen[-1]["b"] > max(ids["a"], ids["b"], c_id)
        assert seen[-1]["a"] == ids["a"] and seen[-1]["c"] == c_id

        # a short gap (0.5 s) is coasted over: b keeps its new id
        b_id = seen[-1]["b"]
        assert send(38, "abc")["b"] == b_id

        # reset_tracks: everyone starts again with new ids
        reply = h.call_service(client, Trigger, "/pose_node/reset_tracks", Trigger.Request())
        assert reply.success
        seen = [send(f, "abc") for f in range(39, 42)]
        assert set(seen[0].values()) == {TRACK_ID_NONE}
        assert min(seen[-1].values()) > b_id

        # the stamps go back (a bag looped): logged, tracks restarted, the node keeps running
        assert set(send(42, "abc", stamp_frame=0).values()) == {TRACK_ID_NONE}
        client.wait_until(lambda: "went back 4.100 s" in node.output(), 5, "the reset log line")
        client.wait_until(lambda: client.latest_diagnostic_values().get("track_resets") == "2", 5, "2 resets")
        assert client.latest_diagnostic_values()["tracks_started"] == "7"  # a, b, c, b again, 3 after the reset
    finally:
        client.close()
        assert node.stop() == 0, node.output()


def _nearest(person, frame, names):
    """The marker a published person belongs to (the one nearest to its keypoint)."""
    x, y = person.keypoints[0].x, person.keypoints[0].y
    distances = {n: np.hypot(x - position(n, frame)[0], y - position(n, frame)[1]) for n in names}
    name = min(distances, key=distances.get)
    assert distances[name] < 3.0, (distances, person.keypoints[0])
    return name
