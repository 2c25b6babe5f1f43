import itertools

import numpy as np
import pytest
import torch

from skhypernas.derived import DerivedNetwork
from skhypernas.inference import fold_batch_norms
from skhypernas.ops import make_op
from skhypernas.search_space import PRIMITIVES, Genotype, NetworkConfig, edge_inputs, op_flop_count, op_param_count
from skhypernas.supernet import SearchNetwork


def numel(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("op,channels,stride,affine", itertools.product(PRIMITIVES, [4, 7, 16], [1, 2], [False, True]))
def test_op_param_count_equals_module_numel(op, channels, stride, affine):
    assert op_param_count(op, channels, stride, affine) == numel(make_op(op, channels, stride, affine))


@pytest.mark.parametrize("op", PRIMITIVES)
@pytest.mark.parametrize("size", [1, 7, 8, 28])
def test_ops_keep_width_and_halve_size(op, size):
    x = torch.randn(2, 6, size, size)
    assert make_op(op, 6, 1, False)(x).shape == x.shape
    assert make_op(op, 6, 2, False)(x).shape == (2, 6, (size + 1) // 2, (size + 1) // 2)


def test_authors_layout_is_normal_reduce_reduce():
    cells = NetworkConfig().cells()
    assert [c.reduction for c in cells] == [False, True, True]
    assert [c.channels for c in cells] == [16, 32, 64]
    assert NetworkConfig().n_edges == 14 == len(edge_inputs(4))


def test_authors_fixed_part_is_about_20k_parameters():
    # The seed's figure: ~20.5K parameters for stem, preprocessing and classifier.
    empty = Genotype(((),) * 4, ((),) * 4)
    assert 19_000 < empty.n_parameters(NetworkConfig()) < 21_000


@pytest.mark.parametrize(
    "config", [NetworkConfig(), NetworkConfig(in_channels=3, n_classes=4, channels=5, n_cells=5, n_nodes=2)]
)
def test_supernet_parameters_are_fixed_part_plus_every_op(config):
    table = config.op_param_table()
    expected = config.fixed_param_count() + sum(sum(map(sum, cell)) for cell in table)
    assert numel(SearchNetwork(config)) == expected


def test_genotype_parameter_count_equals_derived_network_numel():
    config = NetworkConfig(channels=6)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        normal, reduce = (
            torch.randint(0, len(PRIMITIVES), (config.n_edges,), generator=gen).tolist() for _ in range(2)
        )
        genotype = Genotype.from_choices(normal, reduce)
        assert genotype.n_parameters(config) == numel(DerivedNetwork(genotype, config))
        assert genotype.choices("normal") == normal and genotype.choices("reduce") == reduce


def test_genotype_is_a_hashable_json_value():
    g = Genotype.from_choices([4, 0, 3, 1, 0] + [0] * 9, [7] * 14)
    assert Genotype.from_json(g.to_json()) == g
    assert hash(Genotype.from_json(g.to_json())) == hash(g)
    assert g.normal[0] == (("sep_conv_3x3", 0),)
    assert g.normal[1] == (("skip_connect", 0), ("max_pool_3x3", 1))
    with pytest.raises(AttributeError):
        g.normal = ()


@pytest.mark.parametrize(
    "normal",
    [((("sep_conv_3x3", 2),),), ((("none", 0),),), ((("conv_9x9", 0),),)],
    ids=["bad-input", "none", "unknown"],
)
def test_genotype_rejects_invalid_edges(normal):
    with pytest.raises(ValueError):
        Genotype(normal, ((),))


def test_genotype_equality_is_by_value_and_counts_depend_on_the_config():
    from_lists = Genotype([[["sep_conv_3x3", 0]], [["skip_connect", 2]]], [[["max_pool_3x3", 1]], []])
    from_tuples = Genotype(((("sep_conv_3x3", 0),), (("skip_connect", 2),)), ((("max_pool_3x3", 1),), ()))
    assert from_lists == from_tuples and len({from_lists, from_tuples}) == 1
    other = Genotype(((("sep_conv_5x5", 0),), (("skip_connect", 2),)), ((("max_pool_3x3", 1),), ()))
    assert other != from_lists and {from_lists: 1}.get(other) is None
    small, wide = NetworkConfig(channels=4, n_nodes=2), NetworkConfig(channels=16, n_nodes=2, n_classes=3)
    for config in (small, wide):
        assert from_lists.n_parameters(config) == numel(DerivedNetwork(from_lists, config))
    assert from_lists.n_parameters(wide) > from_lists.n_parameters(small)
    with pytest.raises(ValueError, match="nodes"):
        DerivedNetwork(from_lists, NetworkConfig(n_nodes=4))


def counted_macs(module, x):
    """What torch's FlopCounterMode counts, halved: it counts a multiply-accumulate as two."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module.eval()(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("op", PRIMITIVES)
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [(7, 7), (9, 6), (1, 5), (8, 8)])
def test_op_flop_count_equals_what_torch_counts(op, stride, size):
    x = torch.randn(1, 6, *size)
    assert op_flop_count(op, 6, size, stride) == counted_macs(make_op(op, 6, stride, False), x)


@pytest.mark.parametrize("n_cells", [1, 2, 3, 5])
@pytest.mark.parametrize("size", [(28, 28), (7, 9), (1, 13)])
def test_genotype_flop_count_equals_what_torch_counts_of_the_derived_network(n_cells, size):
    config = NetworkConfig(in_channels=2, n_classes=5, channels=4, n_cells=n_cells, n_nodes=3)
    rng = np.random.RandomState(n_cells)
    for genotype in (Genotype.random(3, rng, p) for p in (0.0, 0.5, 1.0)):
        network = DerivedNetwork(genotype, config)
        # Per image, and the same in the inference form (folded batch norms add biases only).
        assert genotype.n_flops(config, size) == counted_macs(network, torch.randn(3, 2, *size)) // 3
        assert genotype.n_flops(config, size) == counted_macs(fold_batch_norms(network), torch.randn(1, 2, *size))


def test_cell_sizes_follow_the_reductions():
    config = NetworkConfig(n_cells=5)
    assert [cell.reduction for cell in config.cells()] == [False, True, False, True, False]
    assert config.cell_sizes((28, 27)) == [(28, 27), (28, 27), (14, 14), (14, 14), (7, 7)]
    strides = {(stride, size) for stride, size in config.edge_sizes((28, 27))[1]}
    assert strides == {(2, (28, 27)), (1, (14, 14))}  # the inputs stride, the nodes read the halved size
