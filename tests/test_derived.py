import torch

from skhypernas.derived import DerivedNetwork, recalibrate_batch_norm
from skhypernas.search_space import PRIMITIVES, Genotype, NetworkConfig
from skhypernas.supernet import SearchNetwork


def one_hot(choices):
    return torch.nn.functional.one_hot(torch.tensor(choices), len(PRIMITIVES)).float()


def test_inherited_network_computes_the_supernet_under_one_hot_weights():
    torch.manual_seed(0)
    config = NetworkConfig(in_channels=2, n_classes=3, channels=4)
    supernet = SearchNetwork(config)
    normal = torch.randint(0, len(PRIMITIVES), (config.n_edges,)).tolist()
    reduce = torch.randint(0, len(PRIMITIVES), (config.n_edges,)).tolist()
    normal[:3] = [0, 0, 0]  # node 0 keeps no edge: it must be zeros in both networks
    genotype = Genotype.from_choices(normal, reduce)
    derived = DerivedNetwork.from_supernet(supernet, genotype)
    x = torch.randn(5, 2, 9, 9)
    supernet.train(), derived.train()  # batch statistics: no running stats involved
    expected = supernet(x, torch.stack([one_hot(normal), one_hot(reduce)]))
    torch.testing.assert_close(derived(x), expected)
    assert derived.n_parameters() == genotype.n_parameters(config)


def test_recalibration_replaces_inherited_statistics():
    torch.manual_seed(0)
    config = NetworkConfig(channels=4)
    genotype = Genotype.from_choices([4] * 14, [5] * 14)
    net = DerivedNetwork(genotype, config)
    data = [torch.randn(16, 1, 8, 8) * 3 + 1 for _ in range(4)]
    recalibrate_batch_norm(net, data)
    stem_bn = net.stem[1]
    conv_out = torch.cat([net.stem[0](x) for x in data])
    torch.testing.assert_close(stem_bn.running_mean, conv_out.mean((0, 2, 3)), atol=1e-5, rtol=1e-4)
    assert not net.training and stem_bn.momentum == 0.1


def test_drop_path_zeroes_whole_examples_only_in_training():
    torch.manual_seed(0)
    config = NetworkConfig(channels=4, n_nodes=2)
    genotype = Genotype.from_choices([4, 3, 5, 0, 0], [6, 0, 0, 7, 0])
    net = DerivedNetwork(genotype, config).train()
    x = torch.randn(64, 1, 8, 8)
    cell = net.cells[0]
    s = net.stem(x)
    plain = cell(s, s)
    # Off by default: the same output as with no argument, and no random numbers drawn.
    state = torch.get_rng_state()
    torch.testing.assert_close(cell(s, s, 0.0), plain)
    assert torch.equal(state, torch.get_rng_state())
    dropped = cell(s, s, 0.5)
    # Node 1's only edge is a convolution: dropped examples are exactly zero there.
    node1 = dropped[:, 4:]
    zero = node1.flatten(1).abs().sum(1) == 0
    assert 10 < zero.sum() < 54
    torch.testing.assert_close(node1[~zero], 2 * plain[:, 4:][~zero])
    net.eval()
    net.drop_path_prob = 0.5
    torch.testing.assert_close(net(x), net(x))


def test_a_node_without_edges_keeps_the_network_channels_last():
    # Node 1 of both cells keeps no edge: its zeros must not turn the cells after it
    # into NCHW. (Even sizes: at odd ones the factorized reduce still returns NCHW.)
    genotype = Genotype(((("sep_conv_3x3", 0),), ()), ((("max_pool_3x3", 0),), ()))
    network = DerivedNetwork(genotype, NetworkConfig(channels=4, n_nodes=2)).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        s0 = s1 = network.stem(x).contiguous(memory_format=torch.channels_last)
        for cell in network.cells:
            s0, s1 = s1, cell(s0, s1)
            assert s1.is_contiguous(memory_format=torch.channels_last) and not s1.is_contiguous()
            assert (s1[:, -4:] == 0).all()  # the empty node's channels
