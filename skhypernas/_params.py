"""Declarative checks of estimator hyperparameters, with messages that name the argument."""

import numbers

import numpy as np


class Interval:
    """A number of ``kind`` ("int" or "real") in ``[low, high]``; open ends exclude."""

    def __init__(self, kind, low=None, high=None, *, open_low=False, open_high=False, none_ok=False):
        self.kind, self.low, self.high = kind, low, high
        self.open_low, self.open_high, self.none_ok = open_low, open_high, none_ok

    def check(self, name, value):
        if value is None and self.none_ok:
            return
        integral = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        real = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if not (integral if self.kind == "int" else real):
            expected = "an int" if self.kind == "int" else "a number"
            raise TypeError(f"{name} must be {expected}{' or None' if self.none_ok else ''}; got {value!r}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value!r}")
        too_low = self.low is not None and (value <= self.low if self.open_low else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.open_high else value > self.high)
        if too_low or too_high:
            raise ValueError(f"{name} must be in {self}; got {value!r}")

    def __str__(self):
        left = "(" if self.open_low or self.low is None else "["
        right = ")" if self.open_high or self.high is None else "]"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{left}{low}, {high}{right}"


class Options:
    """One of a fixed set of values."""

    def __init__(self, *values):
        self.values = values

    def check(self, name, value):
        if value not in self.values:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, self.values))}; got {value!r}")


def check_params(estimator, constraints):
    """Check every ``estimator`` attribute named in ``constraints`` ({name: Interval or Options})."""
    for name, constraint in constraints.items():
        constraint.check(name, getattr(estimator, name))
