"""The README's main job, `bash scripts/demo.sh`, runs end to end on the shared sample data
(export, predict + draw, eval with the official protocol, pose_node over DDS)."""
import json
import os
import subprocess

from conftest import REPO_ROOT, shared_path


def test_the_main_job_runs_as_the_readme_says(tmp_path):
    data = shared_path("coco", "person_keypoints_mmpose_test.json").parent.parent
    frames = sorted((data / "video" / "face-demographics-walking_frames").glob("*.jpg"))
    env = dict(os.environ, OUT=str(tmp_path), LITEPOSE_SHARED_DATA=str(data))
    env.pop("LITEPOSE_CHECKPOINT", None)
    done = subprocess.run(["bash", "scripts/demo.sh"], cwd=str(REPO_ROOT), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    metrics = json.loads((tmp_path / "eval_metrics.json").read_text())
    assert metrics["protocol"] == "official" and "AP" in metrics["metrics"]
    assert isinstance(json.loads((tmp_path / "predictions.json").read_text()), list)
    assert len((tmp_path / "ros_demo_poses.jsonl").read_text().splitlines()) == len(frames)
