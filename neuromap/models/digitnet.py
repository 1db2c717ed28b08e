"""digitnet: a small conv SNN (SLAYER CUBA) and its ReLU CNN twin, built from one topology."""
from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence, Union

import torch

from neuromap.models.registry import register_model
from neuromap.models.recipe import DIGITNET_RECIPE
from neuromap.passes import eval_pass


def import_slayer() -> Any:
    """Import lava-dl's SLAYER without its import-time stdout chatter (Prophesee warning)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import lava.lib.dl.slayer as slayer
    return slayer


# ---------------------------------------------------------------- topology --


@dataclass(frozen=True)
class ConvSpec:
    """2-D convolution layer: out channels, square kernel, stride, zero padding."""

    out_channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    kind: str = "conv"


@dataclass(frozen=True)
class FlattenSpec:
    """Flatten (C, H, W) to (C*H*W,) in C order (NCHW flatten)."""

    kind: str = "flatten"


@dataclass(frozen=True)
class DenseSpec:
    """Fully connected layer with `out_features` outputs."""

    out_features: int
    kind: str = "dense"


LayerSpec = Union[ConvSpec, FlattenSpec, DenseSpec]


def layer_shapes(topology: Sequence[LayerSpec], input_shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Output shape of each layer ((C, H, W) after convs, (F,) after flatten/dense)."""
    shape: tuple[int, ...] = tuple(int(d) for d in input_shape)
    shapes: list[tuple[int, ...]] = []
    for spec in topology:
        if isinstance(spec, ConvSpec):
            if len(shape) != 3:
                raise ValueError(f"conv layer needs a (C, H, W) input, got {shape}")
            _, h, w = shape
            ho = (h + 2 * spec.padding - spec.kernel) // spec.stride + 1
            wo = (w + 2 * spec.padding - spec.kernel) // spec.stride + 1
            if ho <= 0 or wo <= 0:
                raise ValueError(f"conv {spec} shrinks {shape} to nothing")
            shape = (spec.out_channels, ho, wo)
        elif isinstance(spec, FlattenSpec):
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        elif isinstance(spec, DenseSpec):
            if len(shape) != 1:
                raise ValueError(f"dense layer needs a flat input, got {shape}; add a flatten first")
            shape = (spec.out_features,)
        else:  # pragma: no cover - guarded by the type
            raise TypeError(f"unknown layer spec {spec!r}")
        shapes.append(shape)
    return shapes


def topology_to_dicts(topology: Sequence[LayerSpec]) -> list[dict[str, Any]]:
    """JSON-friendly description of a topology."""
    return [asdict(spec) for spec in topology]


def digitnet_topology(num_classes: int = 10, channels: Sequence[int] = (8, 16), hidden: int = 64) -> list[LayerSpec]:
    """conv 1->c1 k3 s1 p1, conv c1->c2 k3 s2 p1, flatten, dense hidden, dense num_classes."""
    c1, c2 = (int(c) for c in channels)
    return [
        ConvSpec(c1, kernel=3, stride=1, padding=1),
        ConvSpec(c2, kernel=3, stride=2, padding=1),
        FlattenSpec(),
        DenseSpec(int(hidden)),
        DenseSpec(int(num_classes)),
    ]


# ------------------------------------------------------------------- SNN ----

#: CUBA-LIF parameters in SLAYER units (lava-dl tutorial values, fixed decays).
DEFAULT_NEURON_PARAMS: dict[str, Any] = {
    "threshold": 1.25,
    "current_decay": 0.25,
    "voltage_decay": 0.03,
    "tau_grad": 0.03,
    "scale_grad": 3,
    "requires_grad": False,
}


class SpikingNet(torch.nn.Module):
    """A feed-forward SLAYER CUBA network: spikes (N, C, H, W, T) -> output spikes (N, classes, T).

    Every block quantises its weights to 8 bits (SLAYER's default pre_hook) and
    shifts its output by one step (delay_shift=True), like Lava's synapses do.
    """

    def __init__(
        self,
        topology: Sequence[LayerSpec],
        input_shape: Sequence[int],
        num_classes: int,
        neuron_params: Mapping[str, Any] | None = None,
        weight_scale: float = 2.0,
        name: str = "snn",
    ) -> None:
        super().__init__()
        slayer = import_slayer()
        self.name = name
        self.topology = list(topology)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.neuron_params = dict(DEFAULT_NEURON_PARAMS if neuron_params is None else neuron_params)
        shapes = layer_shapes(self.topology, self.input_shape)
        if shapes[-1] != (self.num_classes,):
            raise ValueError(f"topology ends in {shapes[-1]}, expected ({self.num_classes},)")
        blocks: list[torch.nn.Module] = []
        shape = self.input_shape
        for spec, out_shape in zip(self.topology, shapes):
            if isinstance(spec, ConvSpec):
                blocks.append(
                    slayer.block.cuba.Conv(
                        dict(self.neuron_params), shape[0], spec.out_channels, spec.kernel,
                        stride=spec.stride, padding=spec.padding,
                        weight_scale=weight_scale, weight_norm=False, delay_shift=True,
                    )
                )
            elif isinstance(spec, FlattenSpec):
                blocks.append(slayer.block.cuba.Flatten())
            else:
                blocks.append(
                    slayer.block.cuba.Dense(
                        dict(self.neuron_params), shape[0], spec.out_features,
                        weight_scale=weight_scale, weight_norm=False, delay_shift=True,
                    )
                )
            shape = out_shape
        self.blocks = torch.nn.ModuleList(blocks)
        # One dummy step fixes every neuron/flatten shape, which NetX export needs.
        eval_pass(self, torch.zeros(1, *self.input_shape, 1))

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        """Run the blocks on float spikes (N, C, H, W, T); returns spikes (N, num_classes, T)."""
        x = spikes
        for block in self.blocks:
            x = block(x)
        return x.reshape(x.shape[0], -1, x.shape[-1])


# ------------------------------------------------------------------- CNN ----


class ConvNet(torch.nn.Module):
    """The non-spiking twin: same convs/dense as the SNN, ReLU between them, input NCHW floats."""

    def __init__(self, topology: Sequence[LayerSpec], input_shape: Sequence[int], num_classes: int, name: str = "cnn") -> None:
        super().__init__()
        self.name = name
        self.topology = list(topology)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        shapes = layer_shapes(self.topology, self.input_shape)
        if shapes[-1] != (self.num_classes,):
            raise ValueError(f"topology ends in {shapes[-1]}, expected ({self.num_classes},)")
        layers: list[torch.nn.Module] = []
        shape = self.input_shape
        last = len(self.topology) - 1
        for i, (spec, out_shape) in enumerate(zip(self.topology, shapes)):
            if isinstance(spec, ConvSpec):
                layers += [
                    torch.nn.Conv2d(shape[0], spec.out_channels, spec.kernel, spec.stride, spec.padding, bias=False),
                    torch.nn.BatchNorm2d(spec.out_channels),
                    torch.nn.ReLU(),
                ]
            elif isinstance(spec, FlattenSpec):
                layers.append(torch.nn.Flatten())
            else:
                layers.append(torch.nn.Linear(shape[0], spec.out_features))
                if i != last:
                    layers.append(torch.nn.ReLU())
            shape = out_shape
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, num_classes) for inputs (N, C, H, W) scaled to [0, 1]."""
        return self.layers(x)


# -------------------------------------------------------------- registry ----


@register_model("digitnet", recipe=DIGITNET_RECIPE)
def digitnet(
    kind: str = "snn",
    num_classes: int = 10,
    input_shape: tuple[int, ...] = (1, 8, 8),
    channels: Sequence[int] = (8, 16),
    hidden: int = 64,
    neuron_params: Mapping[str, Any] | None = None,
    weight_scale: float = 2.0,
) -> torch.nn.Module:
    """Build digitnet as a SLAYER SNN (kind="snn") or as its ReLU CNN twin (kind="cnn")."""
    topology = digitnet_topology(num_classes, channels, hidden)
    if kind == "snn":
        return SpikingNet(topology, input_shape, num_classes, neuron_params, weight_scale, name="digitnet")
    return ConvNet(topology, input_shape, num_classes, name="digitnet")
