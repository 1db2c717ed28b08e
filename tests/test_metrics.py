"""neuromap.metrics: MAC and parameter counts, measured synaptic operations, the energy model."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from neuromap.errors import NeuromapError
from neuromap.metrics import (PRESETS, count_macs, count_params, energy_mj, macro_f1, measure_snn,
                              top1_accuracy)
from neuromap.models.digitnet import DEFAULT_NEURON_PARAMS, import_slayer


# ------------------------------------------------------------------ CNN MACs --


def test_count_macs_conv_stride_padding_groups_depthwise_linear() -> None:
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2, padding=1),        # 9x9 -> 5x5
        torch.nn.ReLU(),
        torch.nn.Conv2d(8, 4, 3, groups=2, bias=False),      # 5x5 -> 3x3, 4 input channels per group
        torch.nn.Conv2d(4, 4, (3, 1), padding=(1, 0), groups=4),  # depthwise 3x1, 3x3 -> 3x3
        torch.nn.Flatten(),
        torch.nn.Linear(36, 10),
    )
    got = count_macs(model, (3, 9, 9))
    expected = {"0": 8 * 5 * 5 * 3 * 3 * 3, "2": 4 * 3 * 3 * 4 * 3 * 3, "3": 4 * 3 * 3 * 1 * 3 * 1, "5": 36 * 10}
    assert got["layers"] == expected == {"0": 5400, "2": 1296, "3": 108, "5": 360}
    assert got["total"] == 5400 + 1296 + 108 + 360
    # weights + biases: 8*3*9 + 8, 4*4*9, 4*1*3 + 4, 36*10 + 10
    assert count_params(model) == 224 + 144 + 16 + 370


class _Branchy(torch.nn.Module):
    """Residual add and a channel concat, like a Fire module with a bypass."""

    def __init__(self) -> None:
        super().__init__()
        self.squeeze = torch.nn.Conv2d(4, 2, 1)
        self.e1 = torch.nn.Conv2d(2, 2, 1)
        self.e3 = torch.nn.Conv2d(2, 2, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return x + self.bn(torch.cat([self.e1(s), self.e3(s)], dim=1))


def test_count_macs_follows_branches_and_counts_bn_affine_as_params() -> None:
    got = count_macs(_Branchy(), (4, 6, 6))
    assert got["layers"] == {"squeeze": 36 * 2 * 4, "e1": 36 * 2 * 2, "e3": 36 * 2 * 2 * 9}
    assert got["total"] == 288 + 144 + 1296
    assert count_params(_Branchy()) == (8 + 2) + (4 + 2) + (36 + 2) + 8
    frozen = _Branchy()
    frozen.bn.weight.requires_grad_(False)
    assert count_params(frozen) == count_params(frozen, trainable_only=False) - 4


def test_count_macs_of_registered_digitnet_cnn() -> None:
    from neuromap.models import create_model

    got = count_macs(create_model("digitnet", kind="cnn"), (1, 8, 8))
    # conv 1->8 k3 p1 on 8x8, conv 8->16 k3 s2 p1 -> 4x4, dense 256->64, dense 64->10
    assert got["total"] == 64 * 8 * 9 + 16 * 16 * 8 * 9 + 256 * 64 + 64 * 10 == 40064


# ------------------------------------------------------------------ SNN ops --


def _brute_force_acs(x: np.ndarray, weight_shape: tuple[int, ...], stride: int, padding: int,
                     groups: int) -> float:
    """Sum over every output neuron and every in-bounds synapse of the spikes on that synapse."""
    n, c_in, h, w, t = x.shape
    c_out, cpg, kh, kw = weight_shape[:4]
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    counts = x.sum(axis=(0, 4))
    total = 0.0
    for co, oy, ox, ci, ky, kx in itertools.product(range(c_out), range(ho), range(wo), range(cpg),
                                                    range(kh), range(kw)):
        iy, ix = oy * stride - padding + ky, ox * stride - padding + kx
        if 0 <= iy < h and 0 <= ix < w:
            total += counts[(co // (c_out // groups)) * cpg + ci, iy, ix]
    return total / n


class _TinySnn(torch.nn.Module):
    """conv 2->4 k3 s2 p1 (groups 2) -> pool 2 -> flatten -> dense 4*2*2 -> 3, with a residual
    branch: a 1x1 conv 2->4 on the input added to the first conv's spikes (non-sequential)."""

    def __init__(self) -> None:
        super().__init__()
        slayer = import_slayer()
        p = dict(DEFAULT_NEURON_PARAMS)
        self.conv = slayer.block.cuba.Conv(dict(p), 2, 4, 3, stride=2, padding=1, groups=2, weight_scale=1)
        self.side = slayer.block.cuba.Conv(dict(p), 2, 4, 1, stride=2, weight_scale=1)
        self.pool = slayer.block.cuba.Pool(dict(p), 2, weight_scale=1)
        self.flat = slayer.block.cuba.Flatten()
        self.dense = slayer.block.cuba.Dense(dict(p), 16, 3, weight_scale=1)
        with torch.no_grad():
            for blk in (self.conv, self.side, self.dense):
                blk.synapse.weight.fill_(2.0)   # positive weights: hidden neurons fire
            self.pool.synapse.weight.fill_(2.0)

    def stages(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tensor entering each synapse, computed block by block (no hooks)."""
        a = self.conv(x) + self.side(x)
        b = self.pool(a)
        return {"conv": x, "side": x, "pool": a, "dense": self.flat(b)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(self.flat(self.pool(self.conv(x) + self.side(x))))


def test_measure_snn_matches_brute_force_on_tiny_net_with_residual() -> None:
    torch.manual_seed(0)
    model = _TinySnn().eval()
    rng = np.random.default_rng(1)
    x = (rng.random((3, 2, 7, 7, 6)) < 0.4).astype(np.float32)   # odd 7x7: padding matters
    ops = measure_snn(model, x, batch_size=2)                       # two batches
    with torch.no_grad():
        inputs = {k: v.numpy() for k, v in model.stages(torch.from_numpy(x)).items()}
    by_name = {lay.name: lay for lay in ops.layers}
    assert set(by_name) == {"conv", "side", "pool", "dense"}
    assert ops.samples == 3 and ops.timesteps == 6
    assert inputs["pool"].sum() > 0 and inputs["dense"].sum() > 0      # hidden layers did spike
    assert by_name["conv"].acs == pytest.approx(_brute_force_acs(inputs["conv"], (4, 1, 3, 3), 2, 1, 2))
    assert by_name["side"].acs == pytest.approx(_brute_force_acs(inputs["side"], (4, 2, 1, 1), 2, 0, 1))
    # The residual sum holds spike counts 0..2 (still events, not real values). SLAYER pools each
    # channel with a 2x2 window, stride 2: on the even 4x4 map every input has fan-out 1.
    assert inputs["pool"].max() == 2 and not by_name["pool"].real_valued
    assert by_name["pool"].acs == pytest.approx(inputs["pool"].sum() / 3)
    # dense: every input spike reaches all 3 outputs
    assert by_name["dense"].acs == pytest.approx(inputs["dense"].sum() / 3 * 3)
    assert by_name["dense"].input_shape == (16, 1, 1)
    assert ops.macs == 0.0 and not any(lay.real_valued for lay in ops.layers)
    assert ops.acs == pytest.approx(sum(lay.acs for lay in ops.layers))
    # in-bounds synapses of one step: 4 outputs per axis (7 + 2 - 3) // 2 + 1 whose 3 taps
    # cover rows -1..1, 1..3, 3..5, 5..7 of 0..6 -> 2 + 3 + 3 + 2; 4 out channels x 1 in per group
    assert by_name["conv"].synapses == 4 * 1 * (2 + 3 + 3 + 2) ** 2
    assert by_name["dense"].synapses == 16 * 3


def test_measure_snn_known_counts_by_hand() -> None:
    """One spike in the corner and one in the centre of a 3x3 image, conv k3 p1 s1, 2 outputs."""
    slayer = import_slayer()
    block = slayer.block.cuba.Conv(dict(DEFAULT_NEURON_PARAMS), 1, 2, 3, padding=1, weight_scale=1)
    x = np.zeros((1, 1, 3, 3, 4), dtype=np.float32)
    x[0, 0, 0, 0, 0] = 1     # corner: reaches 4 output positions x 2 channels
    x[0, 0, 1, 1, 1] = 1     # centre: reaches all 9 positions x 2 channels
    x[0, 0, 1, 1, 3] = 1
    ops = measure_snn(block, x)
    assert ops.acs == 2 * (4 + 9 + 9)
    assert ops.layers[0].input_events == 3
    assert ops.layers[0].synapses == 2 * (2 + 3 + 2) ** 2


def test_measure_snn_counts_real_valued_input_as_macs() -> None:
    slayer = import_slayer()
    block = slayer.block.cuba.Conv(dict(DEFAULT_NEURON_PARAMS), 1, 2, 3, padding=1, weight_scale=1)
    x = np.full((2, 1, 3, 3, 5), 0.5, dtype=np.float32)              # direct (analog) encoding
    ops = measure_snn(block, x)
    assert ops.layers[0].real_valued
    assert ops.acs == 0.0
    assert ops.macs == 2 * 49 * 5     # in-bounds synapses x time steps, every step


class _MaskedConv(torch.nn.Module):
    """A 3x3 SLAYER conv whose output channel 0 is a 1x1 kernel (mask keeps only the centre tap)."""

    def __init__(self) -> None:
        super().__init__()
        slayer = import_slayer()
        self.block = slayer.block.cuba.Conv(dict(DEFAULT_NEURON_PARAMS), 1, 2, 3, padding=1, weight_scale=1)
        mask = torch.ones(2, 1, 3, 3, 1)
        mask[0] = 0
        mask[0, 0, 1, 1, 0] = 1
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


def test_structural_mask_removes_taps_from_fanout_and_params() -> None:
    x = np.zeros((1, 1, 3, 3, 2), dtype=np.float32)
    x[0, 0, 1, 1, 0] = 1          # centre spike: channel 0 (1x1) fan-out 1, channel 1 (3x3) fan-out 9
    x[0, 0, 0, 0, 1] = 1          # corner spike: channel 0 fan-out 1, channel 1 fan-out 4
    model = _MaskedConv()
    ops = measure_snn(model, x)
    assert ops.acs == (1 + 9) + (1 + 4)
    assert ops.layers[0].synapses == 9 * 1 + (2 + 3 + 2) ** 2   # 1x1: one per output; 3x3: in-bounds taps
    assert count_params(model) == 2 * 9 - 8


class _SpikingResidual(torch.nn.Module):
    """neuron(conv current + skip_weight x input spikes): an identity shortcut (models.blocks.Residual)."""

    def __init__(self) -> None:
        super().__init__()
        slayer = import_slayer()
        self.body = slayer.block.cuba.Conv(dict(DEFAULT_NEURON_PARAMS), 2, 2, 1, weight_scale=1)
        self.skip_weight = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body.neuron(self.body.synapse(x) + self.skip_weight * x)


def test_identity_shortcut_adds_one_ac_per_spike() -> None:
    x = (np.random.default_rng(3).random((2, 2, 4, 4, 5)) < 0.3).astype(np.float32)
    ops = measure_snn(_SpikingResidual(), x)
    by_kind = {lay.kind: lay for lay in ops.layers}
    assert set(by_kind) == {"Conv", "Identity"}
    assert by_kind["Identity"].name == "model.shortcut"
    assert by_kind["Identity"].acs == pytest.approx(x.sum() / 2)          # fan-out 1
    assert by_kind["Conv"].acs == pytest.approx(x.sum() / 2 * 2)          # 1x1 conv, 2 outputs
    assert ops.acs == pytest.approx(x.sum() / 2 * 3)


def test_count_macs_mixed_kernel_conv_at_true_kernel_sizes() -> None:
    from neuromap.models.blocks import MultiKernelConv2d

    conv = MultiKernelConv2d(4, [(2, 1), (2, 3)], stride=1)
    # 5x5 output; channels 0-1 see 4 inputs x 1x1, channels 2-3 see 4 inputs x 3x3
    assert count_macs(conv, (4, 5, 5))["total"] == 25 * (2 * 4 * 1 + 2 * 4 * 9)


def test_measure_snn_rejects_non_slayer_models() -> None:
    with pytest.raises(NeuromapError, match="no SLAYER synapses"):
        measure_snn(torch.nn.Linear(3, 2), np.zeros((1, 3, 2), np.float32))


def test_measure_snn_on_digitnet_is_deterministic_and_plausible() -> None:
    from neuromap.data.encode import rate_encode
    from neuromap.models import create_model

    torch.manual_seed(0)
    model = create_model("digitnet", kind="snn")
    levels = np.random.default_rng(0).integers(0, 17, size=(4, 1, 8, 8))
    spikes = rate_encode(levels, 16, 16)
    a, b = measure_snn(model, spikes), measure_snn(model, spikes, batch_size=1)
    assert a == b
    first = a.layers[0]
    assert first.input_events == pytest.approx(spikes.sum() / 4)     # the input spikes themselves
    assert [lay.kind for lay in a.layers] == ["Conv", "Conv", "Dense", "Dense"]


# ------------------------------------------------------------------ energy --

PAPER_CIFAR10 = [  # (model, AC, MAC, energy mJ) from Kabir et al. 2026, Table (CIFAR-10)
    ("SNN-ShuffleNetV2", 93e3, 894e3, 0.0042),
    ("SNN-MnasNet", 3.43e6, 12.13e6, 0.0589),
    ("SNN-MixNet", 523e3, 507e3, 0.0028),
    ("SNN-SqueezeNet", 16.61e6, 4.47e6, 0.0355),
    ("SNN-SqueezeNet-P", 11.20e6, 4.23e6, 0.0295),
]


@pytest.mark.parametrize("name, acs, macs, paper_mj", PAPER_CIFAR10)
def test_energy_formula_reproduces_paper_rows(name: str, acs: float, macs: float, paper_mj: float) -> None:
    assert round(energy_mj(macs, acs, "fp32"), 4) == paper_mj, name


def test_energy_presets_and_cnn_ratio() -> None:
    assert (PRESETS["fp32"].mac_pj, PRESETS["fp32"].ac_pj) == (4.6, 0.9)
    assert (PRESETS["int8"].mac_pj, PRESETS["int8"].ac_pj) == (0.23, 0.03)
    assert energy_mj(1e6, 0, "fp32") == pytest.approx(0.0046)
    assert energy_mj(1e6, 1e6, "int8") == pytest.approx(0.00026)
    # paper: CNN SqueezeNet 0.252 mJ is 54.8 M MACs under the same formula
    assert energy_mj(54.8e6, 0, "fp32") == pytest.approx(0.252, abs=5e-4)
    with pytest.raises(NeuromapError, match="unknown energy preset"):
        energy_mj(1, 1, "fp16")
    with pytest.raises(ValueError):
        energy_mj(-1, 0)


def test_accuracy_and_macro_f1() -> None:
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([0, 1, 1, 1, 0])
    assert top1_accuracy(y, p) == pytest.approx(0.6)
    # per class F1: 0 -> 0.5, 1 -> 0.8, 2 -> 0 (absent prediction), class 3 never seen -> 0
    assert macro_f1(y, p, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert macro_f1(y, p, 4) == pytest.approx((0.5 + 0.8) / 4)
