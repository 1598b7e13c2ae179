"""--init: official-format checkpoints of either dataset, and checkpoints of this tool."""
import pytest

torch = pytest.importorskip("torch")

from litepose_ros.model.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from litepose_ros.model.litepose import build_model  # noqa: E402
from litepose_ros.training.trainer import initialise_from  # noqa: E402


def test_init_from_the_other_dataset_reinitialises_only_the_output_convs(tmp_path):
    torch.manual_seed(0)
    crowdpose = build_model("XS", 14)
    path = tmp_path / "official_crowdpose.pth"
    # The reference layout: a plain state_dict with DataParallel's "module." prefix.
    torch.save({"module." + k: v for k, v in crowdpose.state_dict().items()}, str(path))
    torch.manual_seed(1)
    coco = build_model("XS", 17)
    before = {k: v.clone() for k, v in coco.state_dict().items()}
    fresh = initialise_from(coco, str(path))
    assert fresh == ["final_raw.0.conv.3.weight", "final_raw.1.conv.3.weight",
                     "final_refined.0.conv.3.weight", "final_refined.1.conv.3.weight"]
    source = crowdpose.state_dict()
    for key, value in coco.state_dict().items():
        expected = before[key] if key in fresh else source[key]
        assert torch.equal(value, expected), key


def test_init_from_own_checkpoint_loads_everything_and_rejects_other_archs(tmp_path):
    torch.manual_seed(0)
    trained = build_model("XS", 17)
    path = tmp_path / "last.pth"
    save_checkpoint(trained, str(path), {"arch": "XS", "dataset": "coco"})
    model = build_model("XS", 17)
    assert initialise_from(model, str(path)) == []
    for key, value in model.state_dict().items():
        assert torch.equal(value, trained.state_dict()[key])
    with pytest.raises(CheckpointError, match="not a checkpoint of this architecture"):
        initialise_from(build_model("S", 17), str(path))
