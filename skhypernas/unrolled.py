"""DARTS' second-order architecture gradient: the weights unrolled one SGD step.

Kept apart from the loop (as DARTS' own ``architect.py``): it is the one piece of
the search that reads the weight optimiser's state and moves the weights and back.
"""

import contextlib

import torch


@contextlib.contextmanager
def frozen(module):
    """``module``'s parameters as constants while the block records a graph.

    A graph recorded this way holds none of the activations that only the
    parameters' gradients need (the inputs of convolutions, for instance), so a
    pass that wants other gradients keeps less memory and does less work.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


#: DARTS' step for the finite-difference Hessian-vector product: ``e = scale / |v|``.
FINITE_DIFFERENCE_SCALE = 0.01


def unrolled_gradient(search, x_val, y_val, lam, temperature, gumbel_val, x_train, y_train, gumbel_train=None):
    """DARTS' second-order hypergradient of ``search``'s architecture objective.

    With ``w' = w - eta * (grad_w L_train(w, a) + momentum and weight decay)``,
    returns ``d/da L_val(w', a) - eta * H v`` where ``v = grad_w' L_val(w', a)`` and
    the Hessian-vector product ``H v = d^2 L_train / da dw . v`` is the central
    finite difference ``(grad_a L_train(w + e v) - grad_a L_train(w - e v)) / 2e``,
    ``e = search.finite_difference_scale / |v|``. The same Gumbel noise is used in
    every evaluation; the weights are restored before it returns.

    Parameters
    ----------
    search : BilevelSearch
    x_val, y_val : torch.Tensor
        The architecture batch.
    lam, temperature : float
    gumbel_val : torch.Tensor or None
        Noise of the architecture batch.
    x_train, y_train : torch.Tensor
        The weight batch of the unrolled step.
    gumbel_train : torch.Tensor or None
        Its noise; drawn when None.

    Returns
    -------
    (list of torch.Tensor, torch.Tensor, torch.Tensor)
        The hypernetwork's gradients, the architecture batch's loss and logits.
    """
    s, opt = search.settings, search.weight_optimizer
    eta = opt.param_groups[0]["lr"]
    weights = list(search.supernet.parameters())
    hyper = list(search.hypernet.parameters())
    if gumbel_train is None:
        gumbel_train = search.gumbel(len(x_train))

    def train_loss(alpha):
        return search._loss(x_train, y_train, alpha, gumbel_train, temperature)[0]

    backup = [p.detach().clone() for p in weights]
    with torch.no_grad():
        alpha = search.hypernet(lam)
    # Hard sampling leaves unsampled operations out of the graph: zero gradient.
    grads = torch.autograd.grad(train_loss(alpha), weights, allow_unused=True, materialize_grads=True)
    with torch.no_grad():
        for p, g in zip(weights, grads):
            step = g + s.weight_decay * p
            buffer = opt.state.get(p, {}).get("momentum_buffer")
            if buffer is not None:
                step = step + s.momentum * buffer
            p.sub_(eta * step)

    objective, loss, logits = search.arch_objective(x_val, y_val, lam, gumbel_val, temperature)
    direct_and_v = torch.autograd.grad(objective, hyper + weights, allow_unused=True)
    direct = direct_and_v[: len(hyper)]
    v = [torch.zeros_like(p) if g is None else g for p, g in zip(weights, direct_and_v[len(hyper) :])]
    eps = search.finite_difference_scale / torch.sqrt(sum((g * g).sum() for g in v)).clamp_min(1e-12)

    def hyper_grad_at(sign):
        with torch.no_grad():
            for p, b, g in zip(weights, backup, v):
                p.copy_(b + sign * eps * g)
        with frozen(search.supernet):
            loss = train_loss(search.hypernet(lam))
        return torch.autograd.grad(loss, hyper)

    plus, minus = hyper_grad_at(1.0), hyper_grad_at(-1.0)
    with torch.no_grad():
        for p, b in zip(weights, backup):
            p.copy_(b)
    hypergrad = [d - eta * (gp - gm) / (2 * eps) for d, gp, gm in zip(direct, plus, minus)]
    return hypergrad, loss.detach(), logits.detach()
