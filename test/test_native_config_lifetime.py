"""The ctypes config struct that lp_decode reads points at two numpy index arrays
(joint_order, flip_index): they must live as long as the struct, even when the config cache
is cleared (more than its size of distinct configs, e.g. thresholds changed at run time) by
another thread while a decode is under way."""
import subprocess
import sys
from pathlib import Path

import numpy as np

from litepose_ros.common.keypoints import COCO
from litepose_ros.decoding import DecoderConfig

REPO_ROOT = Path(__file__).resolve().parents[1]

# Thread A decodes with one config and compares every frame with the reference's people; thread
# B cycles through more configs than the cache keeps (evicting A's) and fills freshly allocated
# index arrays with out-of-range joints, which is what a freed and reused array would show the C
# code. Run in a subprocess: reading freed memory may crash the interpreter.
RACE = r"""
import sys, threading
import numpy as np
from litepose_ros.decoding import DecoderConfig, compiled
from litepose_ros.decoding.reference import decode_reference
from litepose_testing.synthetic import synthesize_outputs
from litepose_ros.common.keypoints import COCO
rng = np.random.RandomState(5)
people = np.concatenate([rng.uniform(8, 248, (8, 17, 2)), np.ones((8, 17, 1))], axis=2)
outputs = synthesize_outputs(people, (256, 256), tags=np.arange(8) * 2.0, rng=rng, heat_noise=0.05)
config = DecoderConfig.from_keypoint_set(COCO)
expected = decode_reference(outputs, config).keypoints
others = [DecoderConfig.from_keypoint_set(COCO, detection_threshold=0.2 + i * 1e-3) for i in range(200)]
stop, failures, garbage = [], [], []
def churn():
    while not stop:
        for other in others:
            compiled._native_config(other)
            garbage.extend(np.full(17, 1 << 20, np.int32) for _ in range(4))  # reuses freed arrays' memory
            del garbage[:-64]
def decode():
    try:
        for _ in range(300):
            found = compiled.decode(outputs, config).keypoints
            if not np.array_equal(found, expected):
                failures.append("different people")
    except Exception as error:
        failures.append(repr(error))
    finally:
        stop.append(True)
threads = [threading.Thread(target=churn), threading.Thread(target=decode)]
for thread in threads: thread.start()
for thread in threads: thread.join()
print("failures", len(failures), failures[:3])
sys.exit(1 if failures else 0)
"""


def test_a_cached_struct_keeps_its_index_arrays_after_eviction() -> None:
    """Deterministic: take the struct, evict it (65+ other configs), reuse freed memory, then
    let the C side read the struct's arrays: they still hold the config's joints."""
    from litepose_ros.decoding import compiled

    config = DecoderConfig.from_keypoint_set(COCO, detection_threshold=0.123)
    struct = compiled._native_config(config)
    for i in range(70):
        compiled._native_config(DecoderConfig.from_keypoint_set(COCO, detection_threshold=0.3 + i * 1e-3))
    reused = [np.full(config.num_joints, 1 << 20, np.int32) for _ in range(64)]
    assert reused  # kept alive while the struct is read
    order = [struct.joint_order[j] for j in range(config.num_joints)]
    flip = [struct.flip_index[j] for j in range(config.num_joints)]
    assert order == list(config.joint_order) and flip == list(config.flip_index)
    lib = compiled._library()
    assert lib.lp_max_people(struct) == config.num_joints * config.max_num_people


def test_two_threads_and_many_configs_decode_correctly() -> None:
    result = subprocess.run([sys.executable, "-c", RACE], cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
    assert result.returncode == 0, "rc {}: {} {}".format(result.returncode, result.stdout[-2000:],
                                                          result.stderr[-2000:])
