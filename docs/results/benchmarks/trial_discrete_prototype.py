"""The prototype of ``discrete_fraction`` (docs/benchmarks.md, "A discrete share"), kept as run.

It patches BilevelSearch at run time: the last ``fraction`` of a budgeted search trains
only argmax architectures. Ran at commit e6f2159; the preset's own discrete share is
switched off below so that it reruns the same way after 0b84bca.
"""

import json
import sys
import time

import torch
import torch.nn.functional as F

from skhypernas import HyperDARTSClassifier
from skhypernas import search as S
from skhypernas.datasets import load_fashion_mnist
from skhypernas.derived import DerivedNetwork, recalibrate_batch_norm
from skhypernas.path import architecture_at
from skhypernas.presets import PRESETS
from skhypernas.stopping import set_cosine_lr

CFG = {}
orig_progress = S.BilevelSearch.progress


def mix_progress(self, total=None):
    p = orig_progress(self, total)
    f = CFG.get("fraction", 0.0)
    return min(1.0, p / (1 - f)) if f else p


def phase(self):
    f = CFG.get("fraction", 0.0)
    return f and orig_progress(self) >= 1 - f


def train_step(self, x, y, x_val, y_val):
    if CFG.get("lr") == "global":
        st = self.settings
        set_cosine_lr(self.weight_optimizer, st.lr, st.lr_min, orig_progress(self))
    if not phase(self):
        return orig_train_step(self, x, y, x_val, y_val)
    f = CFG["fraction"]
    p = (orig_progress(self) - (1 - f)) / f
    lr0 = CFG.get("lr", 0.05)
    if lr0 != "global":
        set_cosine_lr(self.weight_optimizer, lr0, 0.0, min(1.0, p))
    lo, hi = self.hypernet.log_range
    lam = self.sample_lambda()
    lams = [10.0**lo, 10.0**hi, lam] if CFG.get("sandwich") else [lam]
    self.weight_optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for value in lams:
        with torch.no_grad():
            alpha = self.hypernet(value)
        choice = alpha.argmax(-1)
        w = F.one_hot(choice, alpha.shape[-1]).to(alpha.dtype)
        logits = self.supernet(x, (w[0], w[1]), (choice[0], choice[1]))
        loss = F.cross_entropy(logits, y)
        (loss / len(lams)).backward()
        total += loss.item() / len(lams)
    torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.settings.grad_clip)
    self.weight_optimizer.step()
    self.discrete_steps = getattr(self, "discrete_steps", 0) + 1
    return {
        "lambda": lam,
        "temperature": self.temperature(),
        "arch_loss": None,
        "correct": 0,
        "seen": 0,
        "train_loss": total,
    }


orig_train_step = S.BilevelSearch.train_step
S.BilevelSearch.train_step = train_step
S.BilevelSearch.progress = mix_progress
# set_cosine_lr in run_epoch uses progress() (mixture progress): override in discrete phase by our own call order?
orig_run_epoch = S.BilevelSearch.run_epoch


def accuracy(net, x, y):
    with torch.inference_mode():
        out = [net(b) for b in x.split(500)]
    return float((torch.cat(out).argmax(1) == y).float().mean())


def main():
    budget = float(sys.argv[1])
    trials = [json.loads(a) for a in sys.argv[2:]]
    X, y = load_fashion_mnist("train")
    X = X / 255.0
    Xt, yt = load_fashion_mnist("test")
    xt = torch.as_tensor(Xt.reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
    ytt = torch.as_tensor(yt)
    for t in trials:
        CFG.clear()
        CFG.update(t.pop("_discrete", {}))
        params = dict(
            PRESETS["cpu"], discrete_fraction=0.0, max_epochs=1000, max_time=budget, path_samples=256, device="cpu", **t
        )
        start = time.perf_counter()
        clf = HyperDARTSClassifier(random_state=0, **params).fit(X, y)
        seconds = time.perf_counter() - start
        steps = sum(h["steps"] for h in clf.history_)
        arch = sum(h["arch_steps"] for h in clf.history_)
        cal = torch.as_tensor(X[-2048:].reshape(-1, 1, 28, 28), dtype=torch.float32)
        res = {}
        for s in (0.0, 0.25, 0.5, 0.75, 1.0):
            g = architecture_at(clf.search_space_, clf.hypernet_.knot_anchors(), s)
            d = DerivedNetwork.from_supernet(clf.supernet_, g)
            recalibrate_batch_norm(d, cal.split(256))
            res[f"s={s}"] = (round(accuracy(d, xt, ytt), 4), d.n_parameters())
        print(
            json.dumps(
                dict(
                    discrete=CFG,
                    params=t,
                    seconds=round(seconds),
                    steps=steps,
                    arch_steps=arch,
                    test=res,
                    path=[
                        (int(n), round(float(a), 3))
                        for n, a in zip(
                            clf.complexity_path_["n_parameters"][::8], clf.complexity_path_["accuracy"][::8]
                        )
                    ],
                )
            ),
            flush=True,
        )


main()
