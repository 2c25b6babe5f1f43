"""Latency tables: measured from a space's entries, cached, shipped as files, refused
when their shapes are not the network's; the DARTS space prices networks from them."""

import json

import numpy as np
import pytest
import torch

from skhypernas import latency
from skhypernas.latency import LatencyTable, as_latency_table, measure_latency_table
from skhypernas.search_space import Genotype
from skhypernas.spaces import DartsSpace

SPACE = DartsSpace(channels=2, n_nodes=2)
SHAPE = (1, 8, 8)


def fake_table(space, seed=0, scale=1.0):
    """A table of ``space``'s entries with made-up times: no timing."""
    entries = space.latency_entries()
    rng = np.random.RandomState(seed)
    ms = {entry.key: float(rng.uniform(0.01, 1.0)) for entry in entries}
    host = {"space": space.to_dict(), "image_shape": [space.in_channels, *space.image_size]}
    return LatencyTable(ms, {entry.key: entry for entry in entries}, host, scale)


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    cache = tmp_path_factory.mktemp("tables")
    return measure_latency_table(SPACE, SHAPE, n_classes=3, batch_size=16, n_threads=1, cache=cache), cache


def test_a_measured_table_times_every_entry_once_and_says_where(measured):
    table, _ = measured
    bound = SPACE.bind(1, 3, image_size=(8, 8))
    keys = {entry.key for entry in bound.latency_entries()}
    assert set(table.ms) == keys and all(v >= 0 for v in table.ms.values())
    host = table.host
    assert host["batch_size"] == 16 and host["threads"] == 1 and host["torch"] == torch.__version__
    assert host["device"] == "cpu" and host["cpu"] and host["vector_extensions"]
    assert host["image_shape"] == [1, 8, 8] and host["space"]["channels"] == 2
    # A whole network takes longer than its parts alone, and the table is scaled by that.
    assert len(host["calibration"]) == latency.CALIBRATION_NETWORKS and table.scale > 0
    assert table.check(bound) is table


def test_the_cache_returns_the_table_without_timing_again(measured, monkeypatch):
    table, cache = measured
    assert len(list(cache.glob("latency-*.json"))) == 1
    monkeypatch.setattr(latency, "time_entries", lambda *args, **kwargs: pytest.fail("timed again"))
    again = measure_latency_table(SPACE, SHAPE, n_classes=3, batch_size=16, n_threads=1, cache=cache)
    assert again == table


def test_the_cache_is_keyed_by_threads_batch_and_shapes(measured, monkeypatch):
    _, cache = measured
    timed = []

    def fake_time(entries, *args, **kwargs):
        timed.append(len(entries))
        return {entry.key: 1.0 for entry in entries}

    monkeypatch.setattr(latency, "time_entries", fake_time)
    monkeypatch.setattr(latency, "calibrate", lambda *args, **kwargs: (1.0, []))
    for options in (dict(n_threads=2, batch_size=16), dict(n_threads=1, batch_size=8)):
        measure_latency_table(SPACE, SHAPE, n_classes=3, cache=cache, **options)
    measure_latency_table(SPACE, (1, 9, 9), n_classes=3, batch_size=16, n_threads=1, cache=cache)
    assert len(timed) == 3 and len(list(cache.glob("latency-*.json"))) == 4


def test_the_default_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(latency.CACHE_ENV, str(tmp_path / "here"))
    assert latency.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(latency.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert latency.cache_dir() == tmp_path / "skhypernas"


def test_a_table_ships_as_a_file_and_a_dict(measured, tmp_path):
    table, _ = measured
    path = table.save(tmp_path / "target.json")
    assert LatencyTable.load(path) == table
    assert as_latency_table(path) == table and as_latency_table(str(path)) == table
    assert as_latency_table(table.to_dict()) == table
    assert hash(LatencyTable.load(path)) == hash(table)


def test_a_table_of_other_shapes_is_refused_naming_what_it_lacks():
    table = fake_table(SPACE.bind(1, 3, image_size=(8, 8)))
    with pytest.raises(ValueError, match=r"does not match this network: it lacks \d+ of its \d+ entries"):
        table.check(SPACE.bind(1, 3, image_size=(10, 10)))
    with pytest.raises(ValueError, match="measured for .* at image shape \\[1, 8, 8\\]"):
        table.check(DartsSpace(channels=3, n_nodes=2).bind(1, 3, image_size=(8, 8)))
    # Same keys at another layout: refused too.
    other = table.to_dict()
    key = next(iter(other["shapes"]))
    other["shapes"][key] = [other["shapes"][key][0], not other["shapes"][key][1]]
    with pytest.raises(ValueError, match="at other shapes or layouts"):
        LatencyTable.from_dict(other).check(SPACE.bind(1, 3, image_size=(8, 8)))


def test_what_is_not_a_table_is_refused(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not a latency table"):
        as_latency_table(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({"version": 99, "ms": {}}))
    with pytest.raises(ValueError, match="not a latency table .*version 99"):
        as_latency_table(tmp_path / "old.json")
    # Version 1 had the same fields: models saved with such a table still load.
    older = dict(fake_table(SPACE.bind(1, 3, image_size=(8, 8))).to_dict(), version=1)
    (tmp_path / "v1.json").write_text(json.dumps(older))
    assert as_latency_table(tmp_path / "v1.json").ms == older["ms"]
    with pytest.raises(TypeError, match="a latency table is a LatencyTable"):
        as_latency_table(3)
    with pytest.raises(ValueError, match="image_shape must be"):
        measure_latency_table(SPACE, (8, 8))
    with pytest.raises(ValueError, match="no entry 'nothing'"):
        fake_table(SPACE.bind(1, 3, image_size=(8, 8)))["nothing"]


def halved(size):
    return tuple(-(-v // 2) for v in size)


def name(size):
    return f"{size[0]}x{size[1]}"


@pytest.mark.parametrize("size", [(8, 8), (7, 5)])
def test_darts_latency_is_the_sum_of_the_networks_entries_and_its_expectation_at_one_hot(size):
    space = DartsSpace(channels=2, n_nodes=3).bind(1, 3, image_size=size)
    table = fake_table(space, scale=1.5)
    # Node 1 of the normal cell keeps no edge: it costs a zero tensor.
    genotype = Genotype(
        ((("sep_conv_3x3", 0), ("max_pool_3x3", 1)), (), (("skip_connect", 2), ("dil_conv_5x5", 0))),
        ((("skip_connect", 0),), (("avg_pool_3x3", 1), ("sep_conv_5x5", 2)), (("max_pool_3x3", 3),)),
    )
    # Normal, reduce, reduce: each cell's input size, its first input's, its output's.
    half, quarter = halved(size), halved(halved(size))
    sizes = [(size, size, size), (size, size, half), (half, size, quarter)]
    expected = table[f"stem 1>6 {name(size)}"] + table[f"classifier 24>3 {name(quarter)}"]
    for cell, (inner, first, out) in zip(space.config.cells(), sizes):
        c = cell.channels
        pre0 = "factorized_reduce" if cell.reduction_prev else "relu_conv_bn"
        expected += table[f"{pre0} {cell.channels_prev_prev}>{c} {name(first)}"]
        expected += table[f"relu_conv_bn {cell.channels_prev}>{c} {name(inner)}"]
        expected += table[f"cat 3x c{c} {name(out)}"]
        for node in genotype.reduce if cell.reduction else genotype.normal:
            if not node:
                expected += table[f"zeros c{c} {name(out)}"]
            for op, i in node:
                stride, read = (2, inner) if cell.reduction and i < 2 else (1, out)
                expected += table[f"{op} c{c} s{stride} {name(read)}"] + table[f"add c{c} {name(out)}"]
    assert space.cost(genotype, table) == pytest.approx(expected, rel=1e-12)

    # The expectation leaves out what every network pays (the empty network's cost
    # less its own zero tensors), and nothing else.
    def one_hot(genotype):
        return 60.0 * torch.nn.functional.one_hot(torch.as_tensor(space.choices(genotype)), 8).double()

    empty = Genotype.from_choices([0] * 9, [0] * 9)
    fixed = space.cost(empty, table) - space.expected_cost(one_hot(empty), table).item()
    assert space.expected_cost(one_hot(genotype), table).item() + fixed == pytest.approx(expected, rel=1e-6)
