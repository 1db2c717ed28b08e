"""The IR loader on lava-dl's shipped networks, on hand-made files, and on bad files."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from neuromap.errors import NeuromapError
from neuromap.netx.load import load_netx

from conftest import SHIPPED, lava_dl_net
from helpers import small_conv_net, write_net


@pytest.mark.parametrize("rel", SHIPPED)
def test_shipped_networks_load(rel):
    g = load_netx(lava_dl_net(rel))
    assert len(g.layers) >= 2
    for e in g.edges:
        g.layer(e.src), g.layer(e.dst)


def test_pilotnet_lif_structure():
    g = load_netx(lava_dl_net("gts/pilotnet_lif/network.net"))
    assert [lay.shape for lay in g.layers] == [
        (200, 66, 3), (99, 32, 24), (49, 15, 36), (24, 7, 48), (22, 4, 64), (20, 2, 64),
        (100,), (50,), (10,), (1,)]
    assert g.input_layer.neuron.type == "LOIHI"
    assert g.input_layer.transform == {"weight": 40.0, "bias": 36.0}
    assert g.num_neurons == 158_509
    conv4 = g.edges[3]
    assert conv4.stride == (1, 2) and conv4.padding == (0, 1)  # file stores (y, x)
    assert g.meta["simulation"] == {"Ts": 1, "tSample": 16}


def test_synapse_counts_by_hand():
    # tiny.net: 16x16x3 -k5 s2-> 6x6x24 -k5 s2-> 1x1x36, every tap in bounds
    assert load_netx(lava_dl_net("tiny.net")).num_synapses == 6 * 6 * 24 * 25 * 3 + 36 * 25 * 24
    assert load_netx(lava_dl_net("mnist.net")).num_synapses == 784 * 512 + 512 * 512 + 512 * 10


def test_padded_conv_counts_only_in_bounds_taps(tmp_path):
    g = load_netx(small_conv_net(tmp_path / "s.net"))
    # 6x6 input, 3x3 kernel, padding 1: per axis 6*3 - 2 edge taps = 16 in-bounds (pos, tap) pairs
    assert g.num_synapses == 16 * 16 * 4 * 2 + 144 * 5


def test_flatten_is_folded_into_dense_weights(tmp_path):
    path = small_conv_net(tmp_path / "s.net")
    g = load_netx(path)
    with h5py.File(path) as f:
        raw = f["layer/3/weight"][()]
    # file columns index the (c, y, x) flatten; IR columns index the conv layer's (x, y, c)
    x, y, c = 4, 1, 3
    assert g.edges[1].weight[2, (x * 6 + y) * 4 + c] == raw[2, (c * 6 + y) * 6 + x]


def test_sdnn_and_average_layers():
    g = load_netx(lava_dl_net("gts/ntidigits/ntidigits.net"))
    assert g.output_layer.kind == "average" and not g.output_layer.on_chip
    assert g.edges[-1].weight.shape == (11, 242)
    assert g.edges[0].delay is not None and g.edges[0].delay.shape == (256, 64)
    sd = load_netx(lava_dl_net("gts/pilotnet_sdnn/network.net"))
    assert {lay.neuron.type for lay in sd.layers} == {"SDNN"}


def _check_bad(path, needle):
    with pytest.raises(NeuromapError) as info:
        load_netx(path)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    _check_bad(tmp_path / "nope.net", "does not exist")


def test_not_hdf5(tmp_path):
    p = tmp_path / "junk.net"
    p.write_bytes(b"\x89HDF\r\n garbage " * 50)
    _check_bad(p, "not an HDF5 file")


def test_truncated_hdf5(tmp_path):
    src = small_conv_net(tmp_path / "s.net").read_bytes()
    p = tmp_path / "cut.net"
    p.write_bytes(src[: len(src) // 2])
    with pytest.raises(NeuromapError):
        load_netx(p)


def test_no_layer_group(tmp_path):
    p = tmp_path / "empty.net"
    with h5py.File(p, "w") as f:
        f.create_group("other")
    _check_bad(p, "no 'layer' group")


def test_unsupported_layer(tmp_path):
    p = write_net(tmp_path / "pool.net", [{"type": "input", "shape": np.array([1, 4, 4])},
                                          {"type": "pool", "shape": np.array([1, 2, 2])}])
    _check_bad(p, "layer 1 (pool) is not supported")


def test_conv_shape_mismatch(tmp_path):
    p = write_net(tmp_path / "bad.net", [
        {"type": "input", "shape": np.array([1, 4, 4])},
        {"type": "conv", "shape": np.array([2, 4, 4]), "weight": np.ones((2, 1, 3, 3)),
         "stride": 1, "padding": 0, "dilation": 1, "groups": 1, "neuron/type": "CUBA"}])
    _check_bad(p, "does not match the convolution")


def test_dense_wrong_fan_in(tmp_path):
    p = write_net(tmp_path / "bad.net", [{"type": "input", "shape": np.array([7])},
                                         {"type": "dense", "shape": np.array([3]),
                                          "weight": np.ones((3, 5)), "neuron/type": "CUBA"}])
    _check_bad(p, "does not connect 7 inputs")


def test_hostile_sizes_and_values(tmp_path):
    p = write_net(tmp_path / "huge.net", [{"type": "input", "shape": np.array([100000, 100000, 100])}])
    _check_bad(p, "too large")
    p = write_net(tmp_path / "nan.net", [{"type": "input", "shape": np.array([3])},
                                         {"type": "dense", "shape": np.array([2]),
                                          "weight": np.array([[1, np.nan, 0], [0, 1, 1]]),
                                          "neuron/type": "CUBA"}])
    _check_bad(p, "finite numbers")


def test_external_link_refused(tmp_path):
    other = small_conv_net(tmp_path / "other.net")
    p = tmp_path / "link.net"
    with h5py.File(p, "w") as f:
        f["layer"] = h5py.ExternalLink(str(other), "layer")
    _check_bad(p, "contains links")
