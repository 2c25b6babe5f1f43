import copy

import numpy as np
import pytest
import torch

from skhypernas import stopping
from skhypernas.derived import DerivedNetwork
from skhypernas.hypernet import PiecewiseLinearHypernet
from skhypernas.path import architecture_at
from skhypernas.relaxation import hard_one_hot, temperature_at
from skhypernas.search import BilevelSearch, SearchSettings
from skhypernas.search_space import PRIMITIVES, Genotype, NetworkConfig
from skhypernas.spaces import DartsSpace
from skhypernas.supernet import SearchNetwork
from skhypernas.training import TrainSettings, train_network


def tiny_search(dtype=torch.float32, **settings):
    torch.manual_seed(0)
    config = NetworkConfig(in_channels=1, n_classes=3, channels=2, n_cells=3, n_nodes=2)
    supernet = SearchNetwork(config).to(dtype)
    hypernet = PiecewiseLinearHypernet(supernet.space.arch_shape, (1e-10, 1e-6), init_scale=0.5).to(dtype)
    x = torch.randn(6, 1, 6, 6, dtype=dtype)
    search = BilevelSearch(supernet, hypernet, SearchSettings(**settings), np.random.RandomState(0), len(x), len(x))
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    return search, x, y


def test_regularizer_is_expected_parameter_count_over_cells_and_edges():
    config = NetworkConfig(channels=4)
    alpha = torch.randn(2, config.n_edges, len(PRIMITIVES))
    table = config.op_param_table()
    expected = 0.0
    for c, cell in enumerate(config.cells()):
        probs = torch.softmax(alpha[int(cell.reduction)], -1)
        expected += sum(float(probs[e] @ torch.tensor(table[c][e], dtype=torch.float32)) for e in range(config.n_edges))
    assert DartsSpace.from_config(config).expected_parameters(alpha).item() == pytest.approx(expected, rel=1e-5)


def test_larger_lambda_pushes_alpha_towards_parameter_free_ops():
    search, x, y = tiny_search()
    gumbel = search.gumbel(len(x))
    grads = []
    for lam in (1e-10, 1e-6):
        search.hypernet.zero_grad()
        search.arch_objective(x, y, lam * 1e4, gumbel, 1.0)[0].backward()  # reg dominates at the top
        grads.append(search.hypernet.anchors.grad[-1, 0, :, :].clone())
    conv = [PRIMITIVES.index("sep_conv_5x5")]
    free = [PRIMITIVES.index("max_pool_3x3")]
    # Gradient descent lowers the conv logit and raises the pool's at the large lambda.
    assert (grads[1][:, conv] > 0).all() and (grads[1][:, free] < 0).all()


def test_first_order_arch_step_moves_only_the_hypernetwork():
    search, x, y = tiny_search()
    weights = [p.detach().clone() for p in search.supernet.parameters()]
    anchors = search.hypernet.anchors.detach().clone()
    search.arch_step(x, y, 1e-8, 1.0)
    assert not torch.equal(anchors, search.hypernet.anchors)
    assert all(torch.equal(w, p) for w, p in zip(weights, search.supernet.parameters()))
    assert all(p.grad is None for p in search.supernet.parameters())


def test_first_order_arch_step_takes_the_full_gradient_and_leaves_the_weights_trainable():
    # The step records its graph with the supernet's weights as constants.
    search, x, y = tiny_search(torch.float64)
    anchors = search.hypernet.anchors
    torch.manual_seed(1)
    objective = search.arch_objective(x, y, 1e-8, search.gumbel(len(x)), 1.0)[0]
    (expected,) = torch.autograd.grad(objective, [anchors])
    torch.manual_seed(1)
    search.arch_step(x, y, 1e-8, 1.0)
    torch.testing.assert_close(anchors.grad, expected, rtol=1e-12, atol=0)
    assert all(p.requires_grad for p in search.supernet.parameters())

    def interrupted(*args):
        raise KeyboardInterrupt

    search._loss = interrupted
    with pytest.raises(KeyboardInterrupt):
        search.arch_step(x, y, 1e-8, 1.0)
    assert all(p.requires_grad for p in search.supernet.parameters())


def test_weight_step_moves_only_the_weights():
    search, x, y = tiny_search()
    anchors = search.hypernet.anchors.detach().clone()
    before = search.supernet.classifier[2].weight.detach().clone()
    search.weight_step(x, y, 1e-8, 1.0)
    assert torch.equal(anchors, search.hypernet.anchors)
    assert not torch.equal(before, search.supernet.classifier[2].weight)


def test_second_order_hypergradient_matches_finite_differences():
    search, x, y = tiny_search(torch.float64, second_order=True, lr=0.05)
    # A tiny net is full of ReLU and max-pool kinks at DARTS' step (0.01 / |v|); a small
    # step in float64 checks the implementation, not the approximation's own error.
    search.finite_difference_scale = 1e-7
    search.weight_step(x, y, 1e-8, 1.0)  # leaves momentum buffers, which the unrolled step uses
    x_val, y_val = x.flip(0) + 0.1, y.flip(0)
    lam, temperature = 3e-7, 0.7
    g_val, g_train = search.gumbel(len(x_val)), search.gumbel(len(x))
    s, opt = search.settings, search.weight_optimizer
    weights = list(search.supernet.parameters())
    start = [p.detach().clone() for p in weights]

    def unrolled_objective():
        """L_val(w - eta * (grad L_train + wd w + momentum buffer), a), evaluated directly."""
        with torch.no_grad():
            for p, w in zip(weights, start):
                p.copy_(w)
        loss = search._loss(x, y, search.hypernet(lam), g_train, temperature)[0]
        grads = torch.autograd.grad(loss, weights)
        with torch.no_grad():
            for p, g in zip(weights, grads):
                p.sub_(
                    opt.param_groups[0]["lr"] * (g + s.weight_decay * p + s.momentum * opt.state[p]["momentum_buffer"])
                )
            value = search.arch_objective(x_val, y_val, lam, g_val, temperature)[0].item()
            for p, w in zip(weights, start):
                p.copy_(w)
        return value

    hypergrad = search.unrolled_gradient(x_val, y_val, lam, temperature, g_val, x, y, g_train)[0][0]
    assert all(torch.equal(p, w) for p, w in zip(weights, start)), "weights must be restored"
    anchors = search.hypernet.anchors
    rng = np.random.RandomState(0)
    # Lambda 3e-7 lies between knots 3 and 4: only those anchors matter.
    for k in (3, 4):
        for _ in range(4):
            index = (k, rng.randint(2), rng.randint(anchors.shape[2]), rng.randint(anchors.shape[3]))
            h = 1e-6
            with torch.no_grad():
                anchors[index] += h
            up = unrolled_objective()
            with torch.no_grad():
                anchors[index] -= 2 * h
            down = unrolled_objective()
            with torch.no_grad():
                anchors[index] += h
            numeric = (up - down) / (2 * h)
            assert hypergrad[index].item() == pytest.approx(numeric, rel=1e-3, abs=1e-7)
    assert torch.all(hypergrad[:3] == 0)


def test_search_run_reports_history_and_respects_max_time():
    search, x, y = tiny_search(epochs=3, batch_size=3)
    history = search.run(x, y, x, y)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["temperature"] == pytest.approx(0.2)
    assert {"lambda_min", "lambda_median", "lambda_max"} <= set(history[0])
    assert all(1e-10 <= h["lambda_min"] <= h["lambda_median"] <= h["lambda_max"] <= 1e-6 for h in history)
    search, x, y = tiny_search(epochs=50, batch_size=3, max_time=0.0)
    history = search.run(x, y, x, y)
    # Stopped after the very first step, and that step's epoch is recorded whole.
    assert len(history) == 1 and history[0]["steps"] == 1
    assert search.loop.done == 1 and search.scheduler.last_epoch == 1


def _search_with_arch_losses(losses, **settings):
    search, x, y = tiny_search(batch_size=6, **settings)  # one step per epoch
    sequence = iter(losses)
    search.arch_step = lambda *args, **kwargs: (next(sequence), 0)
    return search.run(x, y, x, y)


def test_early_stopping_waits_patience_epochs_without_a_lower_held_out_loss():
    # A loss equal to the best is no improvement; a new best resets the count.
    history = _search_with_arch_losses([1.0, 1.1, 0.9, 0.95, 0.9, 0.5, 0.4], epochs=7, early_stopping_patience=2)
    assert [h["arch_loss"] for h in history] == [1.0, 1.1, 0.9, 0.95, 0.9]
    # Losses that keep falling run every epoch; None never stops early.
    assert len(_search_with_arch_losses([5, 4, 3, 2], epochs=4, early_stopping_patience=1)) == 4
    assert len(_search_with_arch_losses([1, 1, 1, 1], epochs=4)) == 4


def test_early_stopping_ignores_warm_up_epochs():
    # Three weight-only epochs (no held-out loss yet), then the architecture steps begin.
    history = _search_with_arch_losses([2.0, 2.0, 2.0], epochs=6, warmup_fraction=0.5, early_stopping_patience=2)
    assert [h["arch_steps"] for h in history] == [0, 0, 0, 1, 1, 1]


def test_a_diverging_search_stops_with_advice():
    search, x, y = tiny_search(epochs=1, batch_size=3)
    x = x.clone()
    x[0] = float("inf")  # any non-finite loss must stop the search
    with pytest.raises(FloatingPointError, match="Lower lr"):
        search.run(x, y, x, y)


def test_hard_relaxation_runs_exactly_the_sampled_subnetwork():
    search, x, y = tiny_search(relaxation="hard")
    supernet = search.supernet
    alpha = search.hypernet(1e-8).detach()
    weights, choice = hard_one_hot(alpha, search.gumbel(len(x))[0], 0.5)
    genotype = Genotype.from_choices(choice[0].tolist(), choice[1].tolist())
    derived = DerivedNetwork.from_supernet(supernet, genotype)  # train mode: batch statistics, like the search
    torch.testing.assert_close(supernet(x, weights, choice), derived(x))


def test_hard_weight_step_trains_only_sampled_operations_and_arch_step_reaches_alpha():
    search, x, y = tiny_search(relaxation="hard")
    before = {name: p.detach().clone() for name, p in search.supernet.named_parameters()}
    torch.manual_seed(1)
    search.weight_step(x, y, 1e-8, 0.5)
    changed = {name for name, p in search.supernet.named_parameters() if not torch.equal(p, before[name])}
    edge_ops = {name for name in before if ".ops." in name}
    assert changed & edge_ops and edge_ops - changed  # some operations trained, unsampled ones untouched
    anchors = search.hypernet.anchors.detach().clone()
    search.arch_step(x, y, 1e-8, 0.5)
    assert not torch.equal(search.hypernet.anchors, anchors)
    search.settings.second_order = True  # unsampled operations get a zero unrolled gradient
    anchors = search.hypernet.anchors.detach().clone()
    search.arch_step(x, y, 1e-8, 0.5, (x, y))
    assert not torch.equal(search.hypernet.anchors, anchors)


def test_mixed_precision_runs_the_supernet_in_bfloat16_but_not_second_order_steps():
    search, x, y = tiny_search(mixed_precision=True)
    alpha = search.hypernet(1e-8)
    loss, logits = search._loss(x, y, alpha, search.gumbel(len(x)), 0.5)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    assert np.isfinite(search.weight_step(x, y, 1e-8, 0.5))
    assert np.isfinite(search.arch_step(x, y, 1e-8, 0.5)[0])
    search, x, y = tiny_search(mixed_precision=True, second_order=True)
    assert search._loss(x, y, alpha, search.gumbel(len(x)), 0.5)[1].dtype == torch.float32


def test_softmax_relaxation_mixes_by_softmax_alpha_and_draws_no_noise():
    search, x, y = tiny_search(relaxation="softmax")
    assert search.gumbel(len(x)) is None
    alpha = search.hypernet(1e-8)
    torch.manual_seed(5)
    loss, logits = search._loss(x, y, alpha, None, 0.3)
    probs = torch.softmax(alpha, -1)
    torch.testing.assert_close(logits, search.supernet(x, probs))
    # No random numbers drawn: torch's generator is where it was.
    after = torch.rand(1)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(1))
    with pytest.raises(ValueError, match="relaxation"):
        tiny_search(relaxation="uniform")


def test_fixed_lambda_is_used_at_every_step():
    search, x, y = tiny_search(fixed_lambda=0.0, epochs=2, batch_size=3)
    assert {search.sample_lambda() for _ in range(5)} == {0.0}
    history = search.run(x, y, x, y)
    assert [h["lambda_median"] for h in history] == [0.0, 0.0]


def test_early_stopping_count_is_in_the_checkpoint_of_its_epoch(tmp_path):
    from skhypernas.persistence import Checkpoint

    checkpoint = Checkpoint(tmp_path / "search.pt", "fingerprint")
    search, x, y = tiny_search(batch_size=6, epochs=2, early_stopping_patience=5)
    losses = iter([1.0, 1.1])
    search.arch_step = lambda *args, **kwargs: (next(losses), 0)
    search.run(x, y, x, y, checkpoint=checkpoint)
    loop = checkpoint.load()["loop"]
    assert loop["best_arch_loss"] == 1.0 and loop["epochs_without_improvement"] == 1


def test_state_dict_works_before_run_and_restarts_the_same_search():
    search, x, y = tiny_search(epochs=2, batch_size=3)
    state = copy.deepcopy(search.state_dict())
    assert state["loop"]["epoch"] == state["loop"]["done"] == state["scheduler"]["last_epoch"] == 0
    expected = search.run(x, y, x, y)
    again, _, _ = tiny_search(epochs=2, batch_size=3)
    again.run(x, y, x, y)  # moves everything on: weights, optimisers, generators, loop
    again.load_state_dict(state)
    history = again.run(x, y, x, y)
    assert [dict(h, seconds=0) for h in history] == [dict(h, seconds=0) for h in expected]
    assert all(torch.equal(a, b) for a, b in zip(again.supernet.parameters(), search.supernet.parameters()))
    assert torch.equal(again.hypernet.anchors, search.hypernet.anchors)


def test_run_refuses_halves_of_other_sizes_than_it_was_set_up_for():
    search, x, y = tiny_search()
    with pytest.raises(ValueError, match="set up for halves of 6 and 6"):
        search.run(x[:3], y[:3], x, y)


def test_lambdas_are_drawn_log_uniformly_over_the_hypernetworks_range():
    search, _, _ = tiny_search()
    n_edges = search.hypernet.anchors.shape[2]
    search.hypernet = PiecewiseLinearHypernet((2, n_edges, len(PRIMITIVES)), (1e-4, 1e-2))
    logs = np.log10([search.sample_lambda() for _ in range(400)])
    assert -4 <= logs.min() < -3.9 and -2.1 < logs.max() <= -2
    assert abs(np.median(logs) + 3) < 0.2


def _on_a_clock(monkeypatch, search, seconds_per_step):
    """Make every search step take ``seconds_per_step`` on a fake clock; record each
    step's temperature, learning rate and whether it was weight-only."""
    clock = [0.0]
    monkeypatch.setattr(stopping.time, "perf_counter", lambda: clock[0])
    steps, train_step = [], search.train_step

    def timed_step(*args):
        lr = search.weight_optimizer.param_groups[0]["lr"]
        out = train_step(*args)
        steps.append((out["temperature"], lr, out["arch_loss"] is None))
        clock[0] += seconds_per_step
        return out

    search.train_step = timed_step
    return steps


def test_a_time_budget_runs_the_schedules_over_the_time_and_ends_them_annealed(monkeypatch):
    # Ten seconds of one-second steps, against epochs that would last far longer.
    search, x, y = tiny_search(epochs=1000, batch_size=3, max_time=10.0, warmup_fraction=0.3, lr=0.1, lr_min=0.001)
    steps = _on_a_clock(monkeypatch, search, 1.0)
    search.run(x, y, x, y)
    # The step that spends the budget (the eleventh, ending at 11 s) is the last.
    assert len(steps) == 11 and search.loop.seconds == 11.0
    temperatures, lrs, warmup = zip(*steps)
    progress = np.minimum(np.arange(11) / 10, 1.0)
    np.testing.assert_allclose(temperatures, [temperature_at(p, 1.0, 0.2) for p in progress])
    np.testing.assert_allclose(lrs, 0.001 + 0.099 * (1 + np.cos(np.pi * progress)) / 2)
    assert temperatures[-1] == pytest.approx(0.2) and lrs[-1] == pytest.approx(0.001)
    # Weight-only while less than 30% of the time has passed.
    assert warmup == (True,) * 3 + (False,) * 8


def test_epochs_that_run_out_before_the_time_end_the_schedules_as_without_it(monkeypatch):
    timed, x, y = tiny_search(epochs=2, batch_size=3, max_time=1000.0, lr=0.1, lr_min=0.001)
    steps = _on_a_clock(monkeypatch, timed, 1.0)
    timed.run(x, y, x, y)
    plain, _, _ = tiny_search(epochs=2, batch_size=3, lr=0.1, lr_min=0.001)
    plain_steps = _on_a_clock(monkeypatch, plain, 1.0)
    plain.run(x, y, x, y)
    np.testing.assert_allclose(steps, plain_steps)
    assert steps[-1][0] == pytest.approx(0.2)


def test_a_time_budget_anneals_the_training_loop_too(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(stopping.time, "perf_counter", lambda: clock[0])
    net = DerivedNetwork(Genotype.from_choices([4, 1, 3, 0, 6], [5, 2, 0, 1, 3]), NetworkConfig(channels=2, n_nodes=2))
    x, y = torch.randn(12, 1, 6, 6), torch.arange(12) % 10
    forward = net.forward

    def one_second_forward(images):
        clock[0] += 1.0
        return forward(images)

    net.forward = one_second_forward
    settings = TrainSettings(epochs=1000, batch_size=4, lr=0.1, lr_min=0.0, max_time=5.0)
    history = train_network(net, x, y, settings, np.random.RandomState(0))
    assert sum(h["steps"] for h in history) == 6
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_a_discrete_step_trains_exactly_the_network_the_path_hands_out_at_its_lambda():
    search, x, y = tiny_search(discrete_fraction=0.5)
    lam = 1e-8
    s = float(search.hypernet.normalise(torch.tensor(lam)))
    derived = DerivedNetwork.from_supernet(
        search.supernet, architecture_at(search.supernet.space, search.hypernet.knot_anchors(), s)
    )
    expected = torch.nn.functional.cross_entropy(derived(x), y)  # train mode: batch statistics, like the search
    loss = search._argmax_loss(x, y, lam)
    torch.testing.assert_close(loss, expected)
    # The step follows that loss's gradient through the supernet's own weights.
    loss.backward()
    grads = {name: p.grad.clone() for name, p in search.supernet.named_parameters() if p.grad is not None}
    search.supernet.zero_grad(set_to_none=True)
    expected.backward()
    assert all(torch.isfinite(g).all() for g in grads.values())
    for name, p in derived.named_parameters():
        parts = name.split(".")
        if parts[0] == "cells" and parts[2] == "edges":
            cell = "reduce" if derived.cells[int(parts[1])].reduction else "normal"
            parts[4:4] = ["ops", str(derived.genotype.choices(cell)[int(parts[3])])]
        torch.testing.assert_close(grads[".".join(parts)], p.grad)


def test_the_discrete_share_freezes_the_architecture_and_trains_the_weights():
    search, x, y = tiny_search(epochs=4, batch_size=3, discrete_fraction=0.5)
    history = search.run(x, y, x, y)
    # Two steps per epoch: the last four steps are discrete, without architecture steps.
    assert [h["discrete_steps"] for h in history] == [0, 0, 2, 2]
    assert [h["arch_steps"] for h in history] == [2, 2, 0, 0]
    anchors = search.hypernet.anchors.detach().clone()
    weights = [p.detach().clone() for p in search.supernet.parameters()]
    out = search.train_step(x[:3], y[:3], x[3:], y[3:])
    assert out["discrete"] and out["arch_loss"] is None
    assert torch.equal(search.hypernet.anchors, anchors)
    assert any(not torch.equal(a, p) for a, p in zip(weights, search.supernet.parameters()))


def test_the_sandwich_rule_averages_the_losses_at_the_drawn_lambda_and_both_ends():
    search, x, y = tiny_search(sandwich=True, discrete_fraction=0.5)
    lam = 1e-8
    with torch.no_grad():
        losses = [search._argmax_loss(x, y, v).item() for v in (lam, 1e-10, 1e-6)]
    assert search.discrete_step(x, y, lam) == pytest.approx(np.mean(losses), rel=1e-5)


def test_in_place_distillation_teaches_the_smaller_two_with_the_largest_predictions():
    search, x, y = tiny_search(sandwich=True, distill=True, discrete_fraction=0.5)
    lam = 1e-8
    reference = copy.deepcopy(search.supernet)
    with torch.no_grad():
        teacher = search._argmax_logits(x, 1e-10)
        targets = torch.softmax(teacher, 1)
        soft = [-(targets * torch.log_softmax(search._argmax_logits(x, v), 1)).sum(1).mean() for v in (lam, 1e-6)]
        expected = (torch.nn.functional.cross_entropy(teacher, y) + sum(soft)) / 3
    assert search.discrete_step(x, y, lam) == pytest.approx(expected.item(), rel=1e-5)
    # The teacher's predictions are targets, not a path for gradients: its weights move
    # as under its own cross-entropy and the students' pull on shared weights only.
    assert any(not torch.equal(a, b) for a, b in zip(search.supernet.parameters(), reference.parameters()))


def test_under_a_time_budget_temperature_and_warm_up_end_where_the_discrete_share_begins(monkeypatch):
    search, x, y = tiny_search(
        epochs=1000, batch_size=3, max_time=10.0, warmup_fraction=0.5, discrete_fraction=0.4, lr=0.1, lr_min=0.001
    )
    steps = _on_a_clock(monkeypatch, search, 1.0)
    discrete, train_step = [], search.train_step

    def recorded(*args):
        out = train_step(*args)
        discrete.append(out["discrete"])
        return out

    search.train_step = recorded
    search.run(x, y, x, y)
    temperatures, lrs, weight_only = zip(*steps)
    # Mixture share: 6 s, its first half weight-only; then discrete steps to the end.
    assert discrete == [False] * 6 + [True] * 5
    assert weight_only == (True,) * 3 + (False,) * 3 + (True,) * 5
    progress = np.minimum(np.arange(11) / 6, 1.0)
    np.testing.assert_allclose(temperatures, [temperature_at(p, 1.0, 0.2) for p in progress])
    # The learning rate's cosine runs over the whole budget.
    np.testing.assert_allclose(lrs, 0.001 + 0.099 * (1 + np.cos(np.pi * np.minimum(np.arange(11) / 10, 1))) / 2)
