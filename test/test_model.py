"""The PyTorch LitePose module: architecture sizes, wiring, official checkpoint layout, BN folding."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from litepose_ros.common.architectures import ARCHS, get_arch, input_size_problem  # noqa: E402
from litepose_ros.common.files import file_sha256  # noqa: E402
from litepose_ros.model.checkpoint import (  # noqa: E402
    CheckpointError,
    describe_weights,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from litepose_ros.model.fuse import count_batchnorms, fuse_batchnorm  # noqa: E402
from litepose_ros.model.litepose import build_model  # noqa: E402

# Parameter counts of the reference implementation (mit-han-lab/litepose), per dataset.
OFFICIAL_PARAMS = {
    14: {"XS": 1675552, "S": 2731240, "M": 3533808, "L": 5738120},  # CrowdPose
    17: {"XS": 1675912, "S": 2731624, "M": 3534336, "L": 5738672},  # COCO
}


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BN non-trivial statistics: with the defaults (mean 0, var 1) BN is nearly
    the identity and a broken fold would go unnoticed."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(n, generator=gen) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
    return model


@pytest.fixture(scope="module")
def xs_model() -> nn.Module:
    torch.manual_seed(0)
    return randomize_batchnorm(build_model("XS", 14)).eval()


def _state(model: nn.Module):
    return {k: v.clone() for k, v in model.state_dict().items()}


# --- architecture -------------------------------------------------------------------------

@pytest.mark.parametrize("joints", sorted(OFFICIAL_PARAMS))
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_parameter_count_matches_reference(arch: str, joints: int) -> None:
    model = build_model(arch, joints)
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[joints][arch]


def test_official_key_layout() -> None:
    keys = build_model("S", 14).state_dict()
    for key in (
        "first.0.0.weight", "first.0.1.running_var", "first.1.0.weight", "first.2.weight", "first.3.bias",
        "stage.0.0.inv.0.weight", "stage.3.9.depth_conv.0.weight", "stage.2.5.point_conv.1.weight",
        "deconv_refined.0.weight", "deconv_raw.2.weight", "deconv_bnrelu.1.0.running_mean",
        "final_refined.0.conv.3.weight", "final_raw.1.conv.1.bias",
    ):
        assert key in keys, key
    # Stage 3, block 0 sees 48 channels and widens to 120 via 288 = 48 * 6 hidden channels, kernel 7.
    assert tuple(keys["stage.3.0.depth_conv.0.weight"].shape) == (288, 1, 7, 7)
    assert tuple(keys["stage.3.0.point_conv.0.weight"].shape) == (120, 288, 1, 1)
    # ConvTranspose2d weights are (in, out, k, k): refined level 0 upsamples the 120-channel stage 3.
    assert tuple(keys["deconv_refined.0.weight"].shape) == (120, 32, 4, 4)
    assert tuple(keys["deconv_raw.0.weight"].shape) == (48, 32, 4, 4)


@pytest.mark.parametrize("joints", [14, 17])
def test_output_shapes_non_square(joints: int) -> None:
    model = build_model("XS", joints).eval()
    with torch.no_grad():
        stage1, stage2 = model(torch.zeros(1, 3, 96, 160))
    assert tuple(stage1.shape) == (1, 2 * joints, 24, 40)  # stride 4: heatmaps + tags
    assert tuple(stage2.shape) == (1, joints, 48, 80)  # stride 2: heatmaps


def test_input_size_rule() -> None:
    assert input_size_problem(160, 96) == ""
    assert "multiple of 16" in input_size_problem(136, 128)
    assert input_size_problem(0, 128)
    # The rule is real: an input that is not a multiple of 16 cannot be summed in the head.
    with pytest.raises(RuntimeError):
        build_model("XS", 14).eval()(torch.zeros(1, 3, 136, 136))
    assert all(input_size_problem(a.img_size, a.img_size) == "" for a in ARCHS.values())
    assert get_arch("s") is ARCHS["S"]
    with pytest.raises(ValueError, match="unknown LitePose architecture"):
        get_arch("XL")


def _constant_model(arch: str) -> nn.Module:
    """Weights chosen so the outputs can be computed by hand (see test_hand_checked_forward)."""
    model = build_model(arch, 14).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                m.weight.zero_()
            elif isinstance(m, nn.BatchNorm2d):  # gamma 0: every BN outputs its beta, 0.5
                m.weight.zero_()
                m.bias.fill_(0.5)
        for sep in model.final_raw:  # raw output branches pass their input straight through
            depthwise, bn, _, pointwise = sep.conv
            depthwise.weight[:, :, 2, 2] = 1.0
            bn.weight.fill_(1.0)
            bn.bias.zero_()
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
        for sep in list(model.final_raw) + list(model.final_refined):
            sep.conv[3].weight.fill_(1.0)  # 1x1 output conv sums its input channels
    return model


@pytest.mark.parametrize(
    "arch, expected",
    [
        # Stem output is 0.5 (its last BN, 16 channels). Stage 0 (16 channels, 6 blocks): block 0
        # strides (no residual) -> 0.5, the 5 others add 0.5 each -> 3.0. Refined branches: their
        # depthwise weights are 0, so BN gives 0.5 on each of their deconv channels.
        # XS (deconv 16, 24, 24): stage 1 = 16 * 3.0 + 24 * 0.5 = 60; stage 2 = 16 * 0.5 + 24 * 0.5 = 20.
        ("XS", (60.0, 20.0)),
        # S (deconv 32, 24, 32): stage 1 = 16 * 3.0 + 24 * 0.5 = 60; stage 2 = 16 * 0.5 + 32 * 0.5 = 24.
        ("S", (60.0, 24.0)),
        # M (stage 0 has 24 channels; deconv 64, 40, 32): 24 * 3.0 + 40 * 0.5 = 92; 16 * 0.5 + 32 * 0.5 = 24.
        ("M", (92.0, 24.0)),
    ],
)
def test_hand_checked_forward(arch: str, expected) -> None:
    """Checks residual placement in stage 0, and which backbone feature feeds each output."""
    with torch.no_grad():
        stage1, stage2 = _constant_model(arch)(torch.randn(1, 3, 64, 64))
    assert torch.allclose(stage1, torch.full_like(stage1, expected[0]))
    assert torch.allclose(stage2, torch.full_like(stage2, expected[1]))


# --- checkpoints --------------------------------------------------------------------------

def _assert_same_weights(model: nn.Module, state) -> None:
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key


@pytest.mark.parametrize("layout", ["plain", "wrapped", "prefixed", "wrapped+prefixed"])
def test_loads_official_layouts(xs_model: nn.Module, tmp_path, layout: str) -> None:
    state = _state(xs_model)
    content = state
    if "prefixed" in layout:  # as saved from a (Distributed)DataParallel model
        content = {"module." + k: v for k, v in content.items()}
    if "wrapped" in layout:  # as the reference training checkpoint
        content = {"epoch": 140, "model": "pose_mobilenet", "state_dict": content, "perf": 0.5}
    path = tmp_path / "ckpt.pth"
    torch.save(content, str(path))
    fresh = build_model("XS", 14)
    assert load_checkpoint(fresh, str(path)) == {}
    _assert_same_weights(fresh, state)


def test_renamed_key_is_reported(xs_model: nn.Module) -> None:
    state = _state(xs_model)
    state["stage.0.0.inv0.weight"] = state.pop("stage.0.0.inv.0.weight")
    fresh = build_model("XS", 14)
    before = _state(fresh)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(fresh, state)
    message = str(info.value)
    assert "1 missing keys: stage.0.0.inv.0.weight" in message
    assert "1 unexpected keys: stage.0.0.inv0.weight" in message
    _assert_same_weights(fresh, before)  # nothing was half-loaded


def test_shape_mismatch_is_reported(xs_model: nn.Module) -> None:
    state = _state(xs_model)
    state["final_refined.0.conv.3.weight"] = torch.zeros(34, 24, 1, 1)  # a COCO head in a CrowdPose model
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(build_model("XS", 14), state)
    message = str(info.value)
    assert "final_refined.0.conv.3.weight: expected (28, 24, 1, 1) vs found (34, 24, 1, 1)" in message
    assert "missing" not in message and "unexpected" not in message


def test_wrong_architecture_lists_every_mismatch(xs_model: nn.Module) -> None:
    with pytest.raises(CheckpointError, match=r"\d+ shape mismatches: .*stage\.3\.0\.point_conv\.0\.weight"):
        load_checkpoint(build_model("S", 14), _state(xs_model))


def test_missing_num_batches_tracked_is_tolerated(xs_model: nn.Module) -> None:
    state = {k: v for k, v in _state(xs_model).items() if not k.endswith("num_batches_tracked")}
    fresh = build_model("XS", 14)
    load_checkpoint(fresh, state)
    assert torch.equal(fresh.stage[1][2].inv[0].weight, xs_model.stage[1][2].inv[0].weight)


def test_save_checkpoint_round_trip(xs_model: nn.Module, tmp_path) -> None:
    plain, with_meta = tmp_path / "plain.pth", tmp_path / "meta.pth"
    save_checkpoint(xs_model, str(plain))
    meta = {"arch": "XS", "dataset": "crowdpose", "epoch": 3, "input_size": [256, 256]}
    save_checkpoint(xs_model, str(with_meta), metadata=meta)
    # Reference formats: a plain state_dict, and a dict with "state_dict", both weights-only loadable.
    raw_plain = torch.load(str(plain), weights_only=True)
    assert set(raw_plain) == set(xs_model.state_dict())
    assert set(torch.load(str(with_meta), weights_only=True)["state_dict"]) == set(xs_model.state_dict())
    fresh = build_model("XS", 14)
    assert load_checkpoint(fresh, str(with_meta)) == meta
    _assert_same_weights(fresh, xs_model.state_dict())
    assert read_checkpoint(str(plain))[1] == {}
    with pytest.raises(CheckpointError, match="metadata.when"):
        save_checkpoint(xs_model, str(tmp_path / "bad.pth"), metadata={"when": object()})


class _Custom:
    """Stands for any pickled Python object a checkpoint might carry beside its weights."""


def test_unsafe_or_broken_files_are_refused(tmp_path) -> None:
    pickled = tmp_path / "custom.pth"
    torch.save({"state_dict": {}, "extra": _Custom()}, str(pickled))
    with pytest.raises(CheckpointError, match="not a weights-only checkpoint"):
        read_checkpoint(str(pickled))
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(str(tmp_path / "absent.pth"))
    with pytest.raises(CheckpointError, match="not a state_dict"):
        read_checkpoint({"epoch": 3, "perf": 0.5})


def test_describe_weights(tmp_path) -> None:
    path = tmp_path / "w.pth"
    path.write_bytes(b"abc")
    # sha256("abc") is a published test vector.
    assert file_sha256(str(path)).startswith("ba7816bf8f01cfea")
    assert describe_weights(str(path)) == "w.pth sha256:ba7816bf8f01"


# --- batch-norm folding ---------------------------------------------------------------------

def test_fused_model_matches_unfused(xs_model: nn.Module) -> None:
    fused = fuse_batchnorm(xs_model)
    assert count_batchnorms(fused) == 0
    assert count_batchnorms(xs_model) == 112  # the original is untouched
    # The head's shift lives in the refined deconv's bias only.
    assert fused.deconv_refined[0].bias is not None and fused.deconv_raw[0].bias is None
    x = torch.randn(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, found = xs_model(x), fused(x)
    for e, f in zip(expected, found):
        assert e.abs().max() > 0.1  # outputs are not trivially small
        assert (e - f).abs().max().item() <= 1e-5
