"""The 45 nm energy model the SNN literature uses to compare a spiking net with its CNN twin.

    E_SNN = E_MAC x MACs(layers with real-valued input) + E_AC x ACs (synaptic operations)
    E_CNN = E_MAC x MACs(all layers)

Per-operation energies are Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm
(`../shared/reference/hardware.md`). With the fp32 preset this formula reproduces 16 of the 18
energy rows of Kabir et al. 2026 (arXiv 2602.09717) from their own AC and MAC counts.
"""
from __future__ import annotations

from dataclasses import dataclass

from neuromap.errors import NeuromapError

PJ_PER_MJ = 1e9


@dataclass(frozen=True)
class EnergyPreset:
    """Energy per multiply-accumulate and per accumulate, in picojoules, with its source."""

    name: str
    mac_pj: float
    ac_pj: float
    source: str


PRESETS: dict[str, EnergyPreset] = {
    "fp32": EnergyPreset("fp32", 4.6, 0.9,
                         "Horowitz ISSCC 2014, 45 nm: fp32 mult 3.7 + add 0.9 = MAC 4.6 pJ; AC = fp32 add 0.9 pJ"),
    "int8": EnergyPreset("int8", 0.23, 0.03,
                         "Horowitz ISSCC 2014, 45 nm: int8 mult 0.2 + add 0.03 = MAC 0.23 pJ; AC = int8 add 0.03 pJ"),
}


def get_preset(preset: str | EnergyPreset) -> EnergyPreset:
    """The preset called `preset` ("fp32" or "int8"), or `preset` itself."""
    if isinstance(preset, EnergyPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise NeuromapError(f"unknown energy preset {preset!r}; use one of: {', '.join(PRESETS)}") from None


def energy_mj(macs: float, acs: float = 0.0, preset: str | EnergyPreset = "fp32") -> float:
    """Energy in millijoules of `macs` multiply-accumulates and `acs` accumulates.

    For a CNN pass all its MACs and acs=0; for an SNN pass the MACs of its real-valued-input
    layers and its synaptic operations (see `measure_snn`).
    """
    if macs < 0 or acs < 0:
        raise ValueError(f"operation counts must be non-negative, got macs={macs}, acs={acs}")
    p = get_preset(preset)
    return (p.mac_pj * float(macs) + p.ac_pj * float(acs)) / PJ_PER_MJ
