"""Properties of the training loss."""
import pytest

torch = pytest.importorskip("torch")

from litepose_ros.training.loss import ae_loss, heatmap_loss, total_loss  # noqa: E402


def _joints(people):
    """[1, P, J, 2] joint lists from [[(flat index or None) per joint] per person]."""
    out = torch.zeros(1, len(people), len(people[0]), 2, dtype=torch.long)
    for p, person in enumerate(people):
        for j, index in enumerate(person):
            if index is not None:
                out[0, p, j] = torch.tensor([index, 1])
    return out


def test_heatmap_loss_zero_on_perfect_targets_and_respects_mask():
    target = torch.rand(2, 14, 16, 16)
    mask = torch.ones(2, 16, 16)
    assert heatmap_loss(target.clone(), target, mask).abs().max() == 0
    wrong = target.clone()
    wrong[:, :, :8] += 1.0  # errors only in the top half
    assert heatmap_loss(wrong, target, mask).min() > 0.4
    mask[:, :8] = 0
    assert heatmap_loss(wrong, target, mask).abs().max() == 0


def test_total_loss_is_zero_for_perfect_outputs_and_equal_tags():
    j, h, w = 3, 8, 8
    heat1, heat2 = torch.rand(1, j, h, w), torch.rand(1, j, 2 * h, 2 * w)
    tags = torch.zeros(1, j, h, w)
    tags[0, :, :4] = 5.0  # person 0 stands in the top half, person 1 (tag 0) in the bottom half
    joints = _joints([[0 * 64 + 9, 1 * 64 + 10, None], [0 * 64 + 50, None, 2 * 64 + 60]])
    masks = [torch.ones(1, h, w), torch.ones(1, 2 * h, 2 * w)]
    loss, parts = total_loss((torch.cat([heat1, tags], 1), heat2), [heat1, heat2], masks, joints)
    assert parts["heatmap1"] == parts["heatmap2"] == parts["pull"] == 0.0
    assert parts["push"] == pytest.approx(1e-3 * 0.5 * float(torch.exp(torch.tensor(-25.0))), rel=1e-4)


def test_pull_is_zero_for_equal_tags_and_grows_with_spread():
    tags = torch.zeros(1, 2, 4, 4)
    tags[0, 0, 0, 0] = tags[0, 1, 0, 1] = 3.0
    joints = _joints([[0, 16 + 1], [5, None]])
    pull, _ = ae_loss(tags, joints)
    assert pull.item() == 0.0
    tags[0, 1, 0, 1] = 5.0  # person 0's tags 3 and 5: variance 1; person 1 has one joint: 0
    pull, _ = ae_loss(tags, joints)
    assert pull.item() == pytest.approx(0.5)


def test_push_falls_as_people_separate():
    joints = _joints([[0, None], [1, None], [2, None]])
    pushes = []
    for gap in (0.0, 0.5, 1.0, 2.0, 4.0):
        tags = torch.zeros(1, 2, 1, 4)
        tags[0, 0, 0, :3] = torch.tensor([0.0, gap, 2 * gap])
        pushes.append(ae_loss(tags, joints)[1].item())
    assert pushes[0] == pytest.approx(0.5)  # all people share one tag: exp(0) averaged, halved
    assert all(a > b for a, b in zip(pushes, pushes[1:]))
    assert pushes[-1] < 1e-6


def test_single_person_or_nobody_gives_no_push_and_finite_gradients():
    tags = torch.randn(2, 2, 4, 4, requires_grad=True)
    joints = torch.zeros(2, 3, 2, 2, dtype=torch.long)
    joints[0, 0] = torch.tensor([[1, 1], [17, 1]])
    pull, push = ae_loss(tags, joints)
    assert push.abs().max() == 0 and pull[1] == 0
    (pull.sum() + push.sum()).backward()
    assert torch.isfinite(tags.grad).all()
