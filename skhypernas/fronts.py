"""Pareto fronts and their hypervolumes: accuracy against parameter count, as numbers.

The experiment scores its families with these and the accuracy-against-parameters
figure draws them, so both import this module and it imports neither.
"""

import numpy as np

#: The hypervolume's reference point: (accuracy, parameters).
REFERENCE = (0.80, 100_000)


def pareto_front(n_parameters, accuracy):
    """Indices of the points no other point dominates, by increasing parameter count.

    A point is dominated when another has at most as many parameters and at least
    the same accuracy, one of them strictly; of equal points the first is kept.

    Parameters
    ----------
    n_parameters, accuracy : array-like of shape (n_points,)

    Returns
    -------
    list of int
        Along the front both parameters and accuracy increase strictly.
    """
    n_parameters, accuracy = np.asarray(n_parameters, dtype=float), np.asarray(accuracy, dtype=float)
    # Fewest parameters first, the most accurate first among equal counts: a point is
    # on the front when it beats every point before it.
    order = np.lexsort((np.arange(len(accuracy)), -accuracy, n_parameters))
    front, best = [], -np.inf
    for i in order:
        if accuracy[i] > best:
            front.append(int(i))
            best = accuracy[i]
    return front


def hypervolume(points, reference=REFERENCE):
    """Area that ``points`` dominate above ``reference``, in accuracy x decades of parameters.

    With ``a(x)`` the best accuracy of the points of at most ``10**x`` parameters, it is
    the integral of ``max(0, a(x) - reference accuracy)`` over ``x`` up to
    ``log10(reference parameters)``: a step function's area on the plot's log axis,
    so a front gains as much for halving its size at 10K parameters as at 50K.
    Points above the reference's parameters or below its accuracy add nothing. One
    point 0.1 above the reference accuracy at a tenth of its parameters scores 0.1.

    Parameters
    ----------
    points : iterable of (n_parameters, accuracy)
    reference : (float, float), default=(0.80, 100_000)
        Accuracy and parameter count of the reference point.

    Returns
    -------
    float
    """
    ref_accuracy, ref_parameters = reference
    inside = sorted((float(p), float(a)) for p, a in points if p <= ref_parameters and a > ref_accuracy)
    if any(p <= 0 for p, _ in inside):
        raise ValueError("parameter counts must be positive (their logarithm is the hypervolume's axis)")
    area, best = 0.0, ref_accuracy
    rights = [np.log10(p) for p, _ in inside[1:]] + [np.log10(ref_parameters)]
    for (p, a), right in zip(inside, rights):
        best = max(best, a)
        area += (right - np.log10(p)) * (best - ref_accuracy)
    return float(area)
