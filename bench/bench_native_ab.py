"""Two builds of the compiled decoder core against each other, call by call.

For a change to the C code that must not cost speed (or change results): both libraries are
loaded side by side and decode bench_decoder.py's frames alternately, so a shared machine's
drifting load falls on both alike. Prints, per row, each build's median and 10th percentile and
their ratio (B / A; below 1: B is faster), and fails if the two return different people.

    python bench/bench_native_ab.py A.so B.so [--calls N] [--threads T]
"""
import argparse
import ctypes
import os
import sys
import time
from typing import List

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_decoder import make_outputs  # noqa: E402

from litepose_ros.common.keypoints import CROWDPOSE  # noqa: E402
from litepose_ros.decoding import DecoderConfig  # noqa: E402
from litepose_ros.decoding.compiled import _config_struct  # noqa: E402
from litepose_ros.native import abi  # noqa: E402


class Core(object):
    """One build of the core with one decoder state."""

    def __init__(self, path: str, threads: int) -> None:
        self.lib = ctypes.CDLL(path)
        abi.check(self.lib, path)
        abi.declare(self.lib)
        self.handle = self.lib.lp_decoder_create()
        self.lib.lp_decoder_set_threads(self.handle, threads)

    def decode(self, outputs, struct, capacity: int) -> np.ndarray:
        keypoints = np.empty((capacity, struct.num_joints, 3), np.float32)
        scores = np.empty(capacity, np.float32)
        stage1, stage2 = (np.ascontiguousarray(o[0], np.float32) for o in outputs)
        count = self.lib.lp_decode(self.handle, ctypes.byref(struct), stage1.ctypes.data, stage2.ctypes.data, None,
                                   None, stage1.shape[1], stage1.shape[2], keypoints.ctypes.data, scores.ctypes.data,
                                   capacity)
        if count < 0:
            raise SystemExit("lp_decode failed: {}".format(count))
        return keypoints[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="library A (e.g. the build before a change)")
    parser.add_argument("b", help="library B")
    parser.add_argument("--calls", type=int, default=200, help="timed calls of each per row")
    parser.add_argument("--threads", type=int, default=0, help="decoder threads (0: the default)")
    args = parser.parse_args()
    cores = [Core(args.a, args.threads), Core(args.b, args.threads)]
    print("| people | resolution | A median ms | B median ms | A p10 ms | B p10 ms | B / A median | B / A p10 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for project in (False, True):
        config = DecoderConfig.from_keypoint_set(CROWDPOSE, project_to_input=project)
        struct = _config_struct(config)
        capacity = config.num_joints * config.max_num_people
        for count in (0, 1, 5, 20):
            outputs = make_outputs(count)
            results = [core.decode(outputs, struct, capacity) for core in cores]
            if not np.array_equal(results[0], results[1]):
                raise SystemExit("A and B found different people ({} people, project={})".format(count, project))
            times: List[List[float]] = [[], []]
            for i in range(2 * args.calls):
                which = i % 2 if (i // 2) % 2 == 0 else 1 - i % 2  # ABBA: neither always goes first
                start = time.perf_counter()
                cores[which].decode(outputs, struct, capacity)
                times[which].append((time.perf_counter() - start) * 1e3)
            med = [np.median(t) for t in times]
            p10 = [np.percentile(t, 10) for t in times]
            print("| {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |".format(
                count, "input 448x448" if project else "stage-2 224x224", med[0], med[1], p10[0], p10[1],
                med[1] / med[0], p10[1] / p10[0]))


if __name__ == "__main__":
    main()
