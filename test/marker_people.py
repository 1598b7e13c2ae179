"""A marker model where every red blob is one person, and moving-marker images for it
(used by test_ros_tracking over DDS and test_bag_tracking through `litepose bag analyze`).

ros_harness's marker model is changed so that joint 0's heatmap covers the whole input and
the tags come from the green channel: blobs drawn on green discs of different brightness get
different tags, and the decoder starts one person per distinct tag.
"""
import numpy as np
import ros_harness as h

from litepose_ros.common.metadata import IMAGENET_MEAN, IMAGENET_STD

WIDTH, HEIGHT = 320, 240
PERIOD_NS = 100_000_000  # 10 Hz camera stamps
START_NS = 1_700_000_000_000_000_000  # stamp of frame 0
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


def nearest(x, y, frame, names):
    """The marker a published person at (x, y) belongs to (the nearest one, within 3 px)."""
    distances = {n: np.hypot(x - position(n, frame)[0], y - position(n, frame)[1]) for n in names}
    name = min(distances, key=distances.get)
    assert distances[name] < 3.0, (distances, x, y)
    return name
