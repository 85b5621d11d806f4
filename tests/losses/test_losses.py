"""Losses: values computed by hand, gradients reach only the student, clear input errors."""
from __future__ import annotations

import math
import warnings

import pytest
import torch

from kdlib.losses import LOSSES, get

# Two queries, a positive and two negatives each.
STUDENT = torch.tensor([[3.0, 1.0, 2.0], [0.5, 1.5, -0.5]])
TEACHER = torch.tensor([[10.0, 6.0, 9.0], [4.0, 4.0, 2.0]])


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def expected_margin_mse() -> float:
    # student margins: [2, 1], [-1, 1]; teacher margins: [4, 1], [0, 2]
    diffs = [2 - 4, 1 - 1, -1 - 0, 1 - 2]
    return sum(d * d for d in diffs) / 4


def expected_ranknet() -> float:
    student_margins = [2.0, 1.0, -1.0, 1.0]
    return sum(softplus(-m) for m in student_margins) / 4


def expected_pointwise_mse() -> float:
    return sum((s - t) ** 2 for s, t in zip(STUDENT.flatten().tolist(), TEACHER.flatten().tolist())) / 6


def expected_weighted_ranknet(temperature: float) -> float:
    student_margins = [2.0, 1.0, -1.0, 1.0]
    teacher_margins = [4.0, 1.0, 0.0, 2.0]
    return sum(sigmoid(t / temperature) * softplus(-s) for s, t in zip(student_margins, teacher_margins)) / 4


def expected_kl(temperature: float) -> float:
    total = 0.0
    for s_row, t_row in zip(STUDENT.tolist(), TEACHER.tolist()):
        s_exp = [math.exp(x / temperature) for x in s_row]
        t_exp = [math.exp(x / temperature) for x in t_row]
        p_s = [x / sum(s_exp) for x in s_exp]
        p_t = [x / sum(t_exp) for x in t_exp]
        total += sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))
    return total / 2


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("margin_mse", {}, expected_margin_mse()),
        ("ranknet", {}, expected_ranknet()),
        ("pointwise_mse", {}, expected_pointwise_mse()),
        ("weighted_ranknet", {}, expected_weighted_ranknet(1.0)),
        ("weighted_ranknet", {"temperature": 2.0}, expected_weighted_ranknet(2.0)),
        ("kl_div", {}, expected_kl(1.0)),
        ("kl_div", {"temperature": 3.0}, expected_kl(3.0)),
    ],
)
def test_hand_computed_values(name, kwargs, expected):
    loss = get(name, **kwargs)(STUDENT, TEACHER)
    assert loss.dim() == 0
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_margin_mse_is_zero_for_shifted_teacher_and_pointwise_is_not():
    shifted = STUDENT + 100.0  # same margins, another score level
    assert get("margin_mse")(STUDENT, shifted).item() == pytest.approx(0.0)
    assert get("kl_div")(STUDENT, shifted).item() == pytest.approx(0.0, abs=1e-6)
    assert get("pointwise_mse")(STUDENT, shifted).item() == pytest.approx(100.0**2)


def test_ranknet_ignores_teacher():
    ranknet = get("ranknet")
    assert not ranknet.requires_teacher
    assert ranknet(STUDENT).item() == pytest.approx(ranknet(STUDENT, TEACHER * 7).item())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_reach_the_student_only(name):
    student = STUDENT.clone().requires_grad_(True)
    teacher = TEACHER.clone().requires_grad_(True)
    loss = get(name)
    value = loss(student, teacher if loss.requires_teacher else None)
    value.backward()
    assert student.grad is not None and torch.count_nonzero(student.grad) > 0
    assert teacher.grad is None


def test_margin_mse_gradient_matches_formula():
    student = STUDENT.clone().requires_grad_(True)
    get("margin_mse")(student, TEACHER).backward()
    # d/ds of mean((m_s - m_t)^2): positive gets sum over its negatives, each negative minus its term.
    diffs = (student[:, :1] - student[:, 1:]) - (TEACHER[:, :1] - TEACHER[:, 1:])
    expected = torch.zeros_like(STUDENT)
    expected[:, 0] = 2 * diffs.detach().sum(1) / diffs.numel()
    expected[:, 1:] = -2 * diffs.detach() / diffs.numel()
    torch.testing.assert_close(student.grad, expected)


@pytest.mark.parametrize("name", [n for n, cls in LOSSES.items() if cls.requires_teacher])
def test_missing_teacher_is_an_error(name):
    with pytest.raises(ValueError, match="teacher scores"):
        get(name)(STUDENT)


@pytest.mark.parametrize("name", [n for n, cls in LOSSES.items() if cls.requires_teacher])
def test_shape_and_dtype_mismatch(name):
    loss = get(name)
    with pytest.raises(ValueError, match="shape"):
        loss(STUDENT, TEACHER[:, :2])
    with pytest.raises(ValueError, match="dtype"):
        loss(STUDENT, TEACHER.double())


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bad_student_scores(name):
    loss = get(name)
    with pytest.raises(ValueError, match="batch, 1 \\+ n_negatives"):
        loss(STUDENT[0], TEACHER[0])
    with pytest.raises(ValueError, match="floating-point"):
        loss(STUDENT.long(), TEACHER.long())
    if loss.min_columns == 2:
        with pytest.raises(ValueError, match="at least 2"):
            loss(STUDENT[:, :1], TEACHER[:, :1])


def test_registry_errors():
    with pytest.raises(ValueError, match="margin_mse"):
        get("nope")
    with pytest.raises(ValueError, match="kl_div"):
        get("kl_div", tau=2.0)
    with pytest.raises(ValueError, match="positive"):
        get("kl_div", temperature=0.0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_losses_run_without_warnings(name):
    # e.g. a softmax without an explicit dim works on 2-D scores but warns on every step.
    loss = get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss(STUDENT, TEACHER if loss.requires_teacher else None)


def test_input_errors_say_what_was_given():
    loss = get("margin_mse")
    with pytest.raises(ValueError, match=r"got \(3,\)"):
        loss(STUDENT[0], TEACHER[0])
    with pytest.raises(ValueError, match="got list"):
        loss(STUDENT.tolist(), TEACHER)
    with pytest.raises(ValueError, match=r"shape \(2, 3\), got \(2, 2\)"):
        loss(STUDENT, TEACHER[:, :2])
    with pytest.raises(ValueError, match="got list"):
        loss(STUDENT, TEACHER.tolist())


def test_unknown_loss_lists_the_registered_names():
    with pytest.raises(ValueError, match="expected one of margin_mse, ranknet, pointwise_mse, weighted_ranknet, kl_div"):
        get("nope")


def test_a_loss_registers_itself_by_name_and_a_second_one_of_that_name_is_refused(monkeypatch):
    from kdlib.losses import base

    monkeypatch.setattr(base, "LOSSES", dict(base.LOSSES))

    class HingeLoss(base.RankingLoss):
        name = "hinge_for_test"
        requires_teacher = False

    assert base.LOSSES["hinge_for_test"] is HingeLoss
    with pytest.raises(ValueError, match="registered twice"):
        class OtherHinge(base.RankingLoss):
            name = "hinge_for_test"
