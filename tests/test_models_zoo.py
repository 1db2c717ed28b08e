"""Model zoo: parameter counts, Fire-as-one-conv, both twins of every family train a step, export rules."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuromap.errors import NeuromapError
from neuromap.models import create_model, list_models
from neuromap.netx.export import export_netx
from neuromap.models.blocks import ConvUnit, MultiKernelConv2d, conv_macs, count_parameters, kernel_mask

ZOO = ["squeezenet", "squeezenet_p", "shufflenetv2", "mnasnet", "mixnet"]


def test_registry_has_the_zoo() -> None:
    assert set(ZOO) <= set(list_models())


@pytest.mark.parametrize("classes,expected", [(10, 734_986), (100, 781_156), (200, 832_456)])
def test_squeezenet_cnn_parameter_count_matches_reference(classes: int, expected: int) -> None:
    shape = (3, 64, 64) if classes == 200 else (3, 32, 32)
    model = create_model("squeezenet", kind="cnn", num_classes=classes, input_shape=shape)
    n = count_parameters(model)
    assert n == expected  # conv biases + BN everywhere, classifier conv with bias, as the reference
    assert n == sum(p.numel() for p in model.parameters())  # mixed kernels stored at true sizes


def test_reference_squeezenet_macs_with_maxpool() -> None:
    # stem 3*96*9*32*32 = 2,654,208; the rest by hand in docs/models.md; total as the reference (~52.5 M)
    model = create_model("squeezenet", kind="cnn", input_shape=(3, 32, 32), downsample="maxpool")
    assert conv_macs(model, (3, 32, 32)) == 52_543_488


def test_fire_expand_is_one_conv_equal_to_two_branches() -> None:
    torch.manual_seed(0)
    s, e = 6, 5
    conv = MultiKernelConv2d(s, [(e, 1), (e, 3)], bias=True)
    ref1 = torch.nn.Conv2d(s, e, 1, bias=True)
    ref3 = torch.nn.Conv2d(s, e, 3, padding=1, bias=True)
    with torch.no_grad():
        ref1.weight.copy_(conv.weights[0])
        ref3.weight.copy_(conv.weights[1])
        ref1.bias.copy_(conv.bias[:e])
        ref3.bias.copy_(conv.bias[e:])
    x = torch.randn(2, s, 7, 7)
    want = torch.cat([ref1(x), ref3(x)], dim=1)
    assert torch.allclose(conv(x), want, atol=1e-5)
    w = conv.full_weight()
    assert w.shape == (2 * e, s, 3, 3)
    assert torch.count_nonzero(w[:e, :, [0, 0, 2, 2], [0, 2, 0, 2]]) == 0  # 1x1 kernels only at the centre


def test_snn_fire_mask_keeps_1x1_kernels_after_training_steps() -> None:
    torch.manual_seed(0)
    unit = ConvUnit("snn", 4, 6, [(3, 1), (3, 3)])
    opt = torch.optim.Adam(unit.parameters(), lr=0.1)
    for _ in range(2):
        out = unit((torch.rand(2, 4, 5, 5, 6) < 0.5).float())
        out.sum().backward()
        opt.step()
        opt.zero_grad()
    eff = unit.block.synapse.pre_hook_fx(unit.block.synapse.weight)[..., 0]
    mask = kernel_mask(6, 4, [(3, 1), (3, 3)])
    assert torch.count_nonzero(eff * (1 - mask)) == 0
    assert torch.count_nonzero(eff[:3, :, 1, 1]) > 0
    assert count_parameters(unit) == 3 * 4 + 3 * 4 * 9


@pytest.mark.parametrize("name", ZOO)
def test_both_twins_forward_backward_on_digits(name: str) -> None:
    torch.manual_seed(0)
    cnn = create_model(name, kind="cnn", num_classes=10, input_shape=(1, 8, 8))
    logits = cnn(torch.rand(2, 1, 8, 8))
    assert logits.shape == (2, 10)
    F.cross_entropy(logits, torch.tensor([1, 2])).backward()
    assert all(p.grad is not None for p in cnn.parameters())
    snn = create_model(name, kind="snn", num_classes=10, input_shape=(1, 8, 8))
    t = snn.depth + 2
    out = snn((torch.rand(2, 1, 8, 8, t) < 0.5).float())
    assert out.shape == (2, 10, t)
    assert float(out[..., : snn.depth].abs().sum()) == 0.0  # one step per neuron layer, as in Lava
    out.sum().backward()
    grads = [p.grad for p in snn.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)
    assert snn.sequential == (name == "squeezenet_p")
    assert abs(count_parameters(snn) - count_parameters(cnn)) < 0.05 * count_parameters(cnn)


@pytest.mark.parametrize("name", ZOO)
@pytest.mark.parametrize("shape,classes", [((3, 32, 32), 100), ((3, 64, 64), 200)])
def test_cnn_twins_at_cifar_and_tinyimagenet_sizes(name: str, shape: tuple, classes: int) -> None:
    cnn = create_model(name, kind="cnn", num_classes=classes, input_shape=shape)
    assert cnn(torch.rand(1, *shape)).shape == (1, classes)
    if name not in ("squeezenet", "squeezenet_p"):
        assert count_parameters(cnn) < 400_000  # the paper's size class


def test_cnn_twin_refuses_export(tmp_path: Path) -> None:
    cnn = create_model("mnasnet", kind="cnn", input_shape=(1, 8, 8))
    with pytest.raises(NeuromapError, match="not a SLAYER SNN"):
        export_netx(cnn, tmp_path / "m.net")
    assert not (tmp_path / "m.net").exists()


def test_squeezenet_p_exports_and_stock_netx_loads_it(tmp_path: Path) -> None:
    from lava.lib.dl.netx.hdf5 import Network

    torch.manual_seed(0)
    snn = create_model("squeezenet_p", kind="snn", num_classes=10, input_shape=(1, 8, 8))
    path = export_netx(snn, tmp_path / "sqp.net")
    net = Network(net_config=str(path))
    # stem, 4 Fire modules x (squeeze, expand), classifier, flatten folded, readout dense
    assert len(net.layers) == 1 + 8 + 1 + 1
    assert net.inp.shape == (8, 8, 1) and net.out.shape == (10,)
    # quantised weights survive: exported expand weights are integers with 1x1 kernels at the centre
    import h5py

    with h5py.File(path, "r") as fh:
        w = fh["layer/3/weight"][()]  # F4 expand: (out, in, kh, kw)
    assert np.all(w == np.round(w)) and np.abs(w).max() <= 255
    assert np.count_nonzero(w[:128, :, 0, 0]) == 0
