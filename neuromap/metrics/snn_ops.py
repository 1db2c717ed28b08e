"""Synaptic operations of a SLAYER spiking model, measured from its real spike counts.

Every module of the model that owns a synapse (`.synapse`, and lava-dl's `.input_synapse` /
`.recurrent_synapse`) gets a forward hook that sums the events of the tensor entering the
synapse over samples and time steps, per input neuron. A synapse layer then costs

* ACs  = sum over input neurons of (events x fan-out), fan-out counting only in-bounds taps
  (padding, stride, dilation and groups exact; zero weights count, as neuromorphic cores store
  and process them) -- computed with `neuromap.cost.accounting.fanin_sum`, which the
  per-core accounting uses too;
* MACs = (in-bounds synapses) x time steps, instead of ACs, when the tensor entering the
  synapse is real-valued (any value that is not a non-negative integer, e.g. a directly encoded
  image): such a layer multiplies every step. Non-negative integers are spike counts (a sum of
  spike trains, e.g. a residual add): k spikes on one input neuron are k events.

Because the hooks sit on the synapse modules, any topology works. Concatenation, split, channel
shuffle and delays are routing and cost nothing. Two conventions of `neuromap.models.blocks` are
honoured: a tensor `mask` shaped like a synapse's weight (mixed-kernel convs: Fire expand 1x1 || 3x3,
MixNet) removes the masked taps from the fan-out, and an identity shortcut (a module with a numeric
`skip_weight`, whose input spikes feed the joined neuron layer through one synapse each) adds one
AC per shortcut spike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import torch

from neuromap.geometry import fanin_sum
from neuromap.errors import NeuromapError
from neuromap.graph import Edge
from neuromap.metrics.energy import energy_mj
from neuromap.passes import eval_mode

SYNAPSE_ATTRS = ("synapse", "input_synapse", "recurrent_synapse")


@dataclass(frozen=True)
class LayerOps:
    """Operations of one synapse layer, per inference (averaged over the measured samples)."""

    name: str
    kind: str                       # synapse class: Conv, Dense, Pool
    input_shape: tuple[int, ...]    # (C, H, W) of the tensor entering the synapse
    synapses: int                   # in-bounds structural synapses (one time step)
    real_valued: bool               # input held values other than 0/1 -> MACs, not ACs
    input_events: float             # input spikes per inference (non-zero entries if real-valued)
    acs: float
    macs: float


@dataclass(frozen=True)
class SnnOps:
    """Synaptic operations of a spiking model per inference, per layer and in total."""

    samples: int
    timesteps: int
    layers: tuple[LayerOps, ...] = field(default_factory=tuple)

    @property
    def acs(self) -> float:
        """Accumulates (spikes x fan-out) per inference."""
        return float(sum(lay.acs for lay in self.layers))

    @property
    def macs(self) -> float:
        """Multiply-accumulates of the real-valued-input layers per inference (0 for binary input)."""
        return float(sum(lay.macs for lay in self.layers))

    @property
    def input_events(self) -> float:
        """Spikes entering synapses per inference (a spike feeding two layers counts twice)."""
        return float(sum(lay.input_events for lay in self.layers))

    def energy_mj(self, preset: str = "fp32") -> float:
        """E_MAC x MACs + E_AC x ACs per inference, in mJ (see neuromap.metrics.energy)."""
        return energy_mj(self.macs, self.acs, preset)

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "timesteps": self.timesteps, "acs": self.acs, "macs": self.macs,
                "layers": [{**lay.__dict__, "input_shape": list(lay.input_shape)} for lay in self.layers]}


def _triple(value: Any) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value, value, value)
    return tuple(int(v) for v in value)  # type: ignore[return-value]


class _Running:
    """Per-input event counts summed over samples, and whether any input was real-valued."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: np.ndarray | None = None
        self.samples = 0
        self.steps = 0
        self.real_valued = False


class _Tally(_Running):
    """Running sums for one synapse module."""

    def __init__(self, name: str, module: torch.nn.Module) -> None:
        if not isinstance(module, torch.nn.Conv3d):
            raise NeuromapError(f"synapse {name} is a {type(module).__name__}; operation counting supports "
                                f"SLAYER Dense, Conv and Pool synapses (torch Conv3d) only")
        super().__init__(name)
        self.module = module
        self.mask: np.ndarray | None = None   # structural mask shaped like the weight (0 = no synapse)

    def add(self, x: torch.Tensor) -> None:
        x = x.detach()
        if x.dim() == 3:                      # (N, C, T): a dense layer's flat input
            x = x[:, :, None, None, :]
        if x.dim() != 5:
            raise NeuromapError(f"synapse {self.name} got an input shaped {tuple(x.shape)}; "
                                f"expected (N, C, T) or (N, C, H, W, T)")
        # Spikes are 0/1; a sum of spike trains (a residual add feeding a synapse) holds spike
        # counts 0, 1, 2, ..., each spike one event. Anything else (fractions, negatives) is a
        # real value that has to be multiplied.
        self.real_valued |= bool(((x < 0) | (x != torch.round(x))).any())
        c = x.abs().sum(dim=(0, 4), dtype=torch.float64).numpy() if not self.real_valued \
            else (x != 0).sum(dim=(0, 4), dtype=torch.float64).numpy()
        if self.counts is None:
            self.counts = c
        elif self.counts.shape != c.shape:
            raise NeuromapError(f"synapse {self.name} saw inputs shaped {self.counts.shape} and {c.shape}")
        else:
            self.counts += c
        self.samples += int(x.shape[0])
        self.steps = int(x.shape[-1])

    def _edge(self) -> tuple[Edge, tuple[int, int, int], np.ndarray]:
        """The synapse as a NetX-ordered conv edge, its source shape (x, y, c), and the counts there."""
        m, counts = self.module, self.counts
        assert counts is not None
        k, s, p, d = _triple(m.kernel_size), _triple(m.stride), _triple(m.padding), _triple(m.dilation)
        if k[2] != 1 or s[2] != 1 or p[2] != 0 or d[2] != 1:
            raise NeuromapError(f"synapse {self.name} mixes time steps (kernel {k}, stride {s}, padding {p}); "
                                f"only per-step synapses (time kernel 1) are supported")
        groups = int(m.groups)
        out_ch, in_per_group = int(m.weight.shape[0]), int(m.weight.shape[1])
        if type(m).__name__ == "Pool":
            # SLAYER's Pool pads odd H/W with H % kh (W % kw) zero rows, then pools the
            # (1, C*H, W) image with one kernel; reproduce exactly that structure.
            C, H, W = counts.shape
            ph, pw = (H % k[0] if H % k[0] else 0), (W % k[1] if W % k[1] else 0)
            counts = np.pad(counts, ((0, 0), (0, ph), (0, pw))).reshape(1, C * (H + ph), W + pw)
        src = counts.transpose(2, 1, 0)       # (C, H, W) -> NetX (x, y, c) = (W, H, C)
        if src.shape[2] != in_per_group * groups:
            raise NeuromapError(f"synapse {self.name}: input has {src.shape[2]} channels, weight expects "
                                f"{in_per_group * groups}")
        weight = np.broadcast_to(np.ones(1, dtype=np.int8), (out_ch, k[1], k[0], in_per_group))
        edge = Edge(src=f"{self.name}.in", dst=self.name, kind="conv", weight=weight,
                    stride=(s[1], s[0]), padding=(p[1], p[0]), dilation=(d[1], d[0]), groups=groups)
        return edge, tuple(int(v) for v in src.shape), src  # type: ignore[return-value]

    def _masked_sum(self, counts: np.ndarray) -> float:
        """Sum over output neurons of the input on their *existing* synapses (mask != 0)."""
        m = self.module
        s, p, d = _triple(m.stride), _triple(m.padding), _triple(m.dilation)
        assert self.mask is not None
        w = torch.from_numpy((self.mask != 0).astype(np.float64).reshape(self.mask.shape[:4]))
        x = torch.from_numpy(np.ascontiguousarray(counts, dtype=np.float64))[None]
        y = torch.nn.functional.conv2d(x, w, None, s[:2], p[:2], d[:2], int(m.groups))
        return float(y.sum())

    def result(self) -> LayerOps:
        edge, shape, src = self._edge()
        events = float(src.sum())
        if self.mask is None:
            fired = float(fanin_sum(src, edge, shape, shape).sum())
            synapses = int(round(float(fanin_sum(np.ones(shape), edge, shape, shape).sum())))
        else:  # mixed-kernel conv: only the unmasked taps are synapses
            assert self.counts is not None
            fired = self._masked_sum(self.counts)
            synapses = int(round(self._masked_sum(np.ones(self.counts.shape))))
        n = max(self.samples, 1)
        if self.real_valued:
            acs, macs = 0.0, float(synapses * self.steps)
        else:
            acs, macs = fired / n, 0.0
        assert self.counts is not None
        return LayerOps(self.name, type(self.module).__name__, tuple(int(v) for v in self.counts.shape), synapses,
                        self.real_valued, events / n, acs, macs)


class _IdentityTally(_Running):
    """An identity shortcut (a module with a numeric `skip_weight`, e.g. neuromap.models.blocks.Residual):
    each spike entering it drives exactly one synapse (fan-out 1) into the neuron layer it joins."""

    def add(self, x: torch.Tensor) -> None:
        x = x.detach()
        self.real_valued |= bool(((x < 0) | (x != torch.round(x))).any())
        c = (x.abs() if not self.real_valued else (x != 0)).sum(dim=(0, x.dim() - 1), dtype=torch.float64).numpy()
        self.counts = c if self.counts is None else self.counts + c
        self.samples += int(x.shape[0])
        self.steps = int(x.shape[-1])

    def result(self) -> LayerOps:
        assert self.counts is not None
        n = max(self.samples, 1)
        events = float(self.counts.sum())
        synapses = int(self.counts.size)
        shape = tuple(int(v) for v in self.counts.shape)
        if self.real_valued:
            return LayerOps(self.name, "Identity", shape, synapses, True, events / n, 0.0, float(synapses * self.steps))
        return LayerOps(self.name, "Identity", shape, synapses, False, events / n, events / n, 0.0)


def _structural_masks(model: torch.nn.Module, synapses: list[tuple[str, torch.nn.Module]]) -> dict[int, np.ndarray]:
    """Masks of mixed-kernel convs: a tensor attribute `mask` on a module, shaped like the weight of
    exactly one synapse inside that module (or on the synapse itself), marks the synapses that exist."""
    found: dict[int, np.ndarray] = {}
    for module in model.modules():
        mask = getattr(module, "mask", None)
        if not isinstance(mask, torch.Tensor):
            continue
        inside = {id(m) for m in module.modules()}
        match = [syn for _, syn in synapses if id(syn) in inside and tuple(syn.weight.shape) == tuple(mask.shape)]
        if len(match) == 1:
            found[id(match[0])] = mask.detach().cpu().numpy()
    return found


def shortcut_modules(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    """(name, module) for every identity shortcut (a module with a numeric `skip_weight`)."""
    for name, module in model.named_modules():
        if isinstance(getattr(module, "skip_weight", None), (int, float)) and getattr(module, "kind", "snn") == "snn":
            yield f"{name or 'model'}.shortcut", module


def synapse_modules(model: torch.nn.Module) -> Iterator[tuple[str, torch.nn.Module]]:
    """(name, synapse module) for every block of `model` that owns a synapse."""
    for name, module in model.named_modules():
        for attr in SYNAPSE_ATTRS:
            syn = getattr(module, attr, None)
            if isinstance(syn, torch.nn.Module):
                label = name if attr == "synapse" else f"{name}.{attr}"
                yield (label or attr), syn


class SynapseRecorder:
    """Context manager: while active, every synapse of `model` tallies the events it receives.

        with SynapseRecorder(model) as rec:
            model(spikes)
        ops = rec.result()
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self._tallies: dict[int, _Tally] = {}
        self._order: list[int] = []
        self._handles: list[Any] = []
        self._modules = list(synapse_modules(model))
        if not self._modules:
            raise NeuromapError(f"{type(model).__name__} has no SLAYER synapses (no module with a .synapse); "
                                f"measure_snn needs a spiking model built from SLAYER blocks")

    def _track(self, tally: Any, x: torch.Tensor) -> None:
        key = id(tally)
        if key not in self._tallies:
            self._tallies[key] = tally
            self._order.append(key)
        tally.add(x)

    def __enter__(self) -> "SynapseRecorder":
        masks = _structural_masks(self.model, self._modules)
        for name, syn in self._modules:
            tally = _Tally(name, syn)
            tally.mask = masks.get(id(syn))

            def hook(_m: torch.nn.Module, inp: tuple[Any, ...], _out: Any, tally: Any = tally) -> None:
                self._track(tally, inp[0])

            self._handles.append(syn.register_forward_hook(hook))
        for name, module in shortcut_modules(self.model):
            ident = _IdentityTally(name)

            def pre_hook(_m: torch.nn.Module, inp: tuple[Any, ...], ident: Any = ident) -> None:
                self._track(ident, inp[0])

            self._handles.append(module.register_forward_pre_hook(pre_hook))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def result(self) -> SnnOps:
        """Per-inference operations of the synapses that ran, in the order they first ran."""
        layers = tuple(self._tallies[k].result() for k in self._order)
        samples = max((self._tallies[k].samples for k in self._order), default=0)
        steps = max((self._tallies[k].steps for k in self._order), default=0)
        return SnnOps(samples, steps, layers)


def measure_snn(model: torch.nn.Module, spikes: np.ndarray | torch.Tensor, batch_size: int = 64) -> SnnOps:
    """Run `model` (eval, no grad) on `spikes` (N, C, H, W, T) and return its operations per inference."""
    x = torch.as_tensor(np.asarray(spikes) if not isinstance(spikes, torch.Tensor) else spikes)
    if x.dim() not in (3, 5) or x.shape[0] == 0:
        raise NeuromapError(f"expected spikes shaped (N, C, H, W, T) with N > 0, got {tuple(x.shape)}")
    with eval_mode(model), SynapseRecorder(model) as rec:
        for start in range(0, int(x.shape[0]), max(1, int(batch_size))):
            model(x[start:start + batch_size].float())
    return rec.result()
