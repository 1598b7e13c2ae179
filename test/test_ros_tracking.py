"""Track ids from pose_node as a real process over DDS, on a moving-marker image sequence
(test/marker_people.py: every red blob is one person). Stamps are set by the test, so the
tracker's clock is known exactly.
"""
import os

import numpy as np
import pytest
import ros_harness as h
from marker_people import PERIOD_NS, START_NS, draw, make_people_marker_model, nearest, position

from litepose_ros.tracking import TRACK_ID_NONE


@pytest.fixture(scope="module")
def people_model(tmp_path_factory):
    return make_people_marker_model(tmp_path_factory.mktemp("markers") / "people_marker_coco_256.onnx")


def test_marker_ids_over_dds(tmp_path, people_model):
    from std_srvs.srv import Trigger

    domain = h.next_domain_id()
    # a namespace of our own: parallel test runs may share the domain id
    namespace = "/tracking_{}".format(os.getpid())
    node = h.NodeProcess(tmp_path, domain, dict(model_path=people_model, qos_reliability="reliable",
                                                diagnostics_period=0.2, track_coast_s=1.0),
                         extra_args=["-r", "__ns:=" + namespace])
    client = h.RosClient(domain, namespace)

    def diagnostic(key):
        with client._lock:
            statuses = [s for m in client.diagnostics for s in m.status if s.name.startswith(namespace + "/")]
        return {kv.key: kv.value for kv in statuses[-1].values}.get(key) if statuses else None
    try:
        camera = client.camera(reliable=True, depth=10)
        client.handshake(camera, node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))

        def send(frame, names, stamp_frame=None):
            stamp = START_NS + (frame if stamp_frame is None else stamp_frame) * PERIOD_NS
            image = draw({n: position(n, frame) for n in names})
            # frame_id tells the replayed stamp's poses apart from the first ones
            msg, _ = client.send_until_posed(camera, h.image_msg(image, stamp, "cam{}".format(frame)))
            return {nearest(p.keypoints[0].x, p.keypoints[0].y, frame, names): p.track_id for p in msg.people}

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
        client.wait_until(lambda: diagnostic("active_tracks") == "3", 5, "3 tracks")

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
        reply = h.call_service(client, Trigger, namespace + "/pose_node/reset_tracks", Trigger.Request())
        assert reply.success
        seen = [send(f, "abc") for f in range(39, 42)]
        assert set(seen[0].values()) == {TRACK_ID_NONE}
        assert min(seen[-1].values()) > b_id

        # the stamps go back (a bag looped): logged, tracks restarted, the node keeps running
        assert set(send(42, "abc", stamp_frame=0).values()) == {TRACK_ID_NONE}
        client.wait_until(lambda: "went back 4.100 s" in node.output(), 5, "the reset log line")
        client.wait_until(lambda: diagnostic("track_resets") == "2", 5, "2 resets")
        assert diagnostic("tracks_started") == "7"  # a, b, c, b again, 3 after the reset
    finally:
        client.close()
        assert node.stop() == 0, node.output()



@pytest.mark.parametrize("params, expected", [
    ({"track_publish_unconfirmed": False}, [[], [], [0, 1], [0, 1]]),  # new people wait for their id
    ({"tracking": False}, [[-1, -1]] * 4),  # the switch: no ids, no reset service
])
def test_tracking_parameters_over_dds(tmp_path, people_model, params, expected):
    domain = h.next_domain_id()
    namespace = "/tracking_params_{}".format(os.getpid())
    node = h.NodeProcess(tmp_path, domain, dict(model_path=people_model, qos_reliability="reliable", **params),
                         extra_args=["-r", "__ns:=" + namespace])
    client = h.RosClient(domain, namespace)
    try:
        camera = client.camera(reliable=True, depth=10)
        client.handshake(camera, node, h.image_msg(np.zeros((48, 64, 3), np.uint8), 0))
        seen = []
        for frame in range(4):
            image = h.image_msg(draw({n: position(n, frame) for n in "ab"}), START_NS + frame * PERIOD_NS)
            msg, _ = client.send_until_posed(camera, image)
            seen.append(sorted(p.track_id for p in msg.people))
        assert seen == expected
        services = dict(client.node.get_service_names_and_types())
        assert (namespace + "/pose_node/reset_tracks" in services) == params.get("tracking", True)
    finally:
        client.close()
        assert node.stop() == 0, node.output()
