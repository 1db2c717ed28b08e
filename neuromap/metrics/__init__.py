"""Model metrics: accuracy and macro-F1, parameters, MACs (CNN), measured synaptic operations (SNN)
and the 45 nm energy model that compares the two twins. See docs/metrics.md."""
from neuromap.metrics.classification import macro_f1, top1_accuracy
from neuromap.metrics.energy import PRESETS, EnergyPreset, energy_mj, get_preset
from neuromap.metrics.macs import count_macs, count_params
from neuromap.metrics.snn_ops import (LayerOps, SnnOps, SynapseRecorder, measure_snn, shortcut_modules,
                                       synapse_modules)

__all__ = ["macro_f1", "top1_accuracy", "PRESETS", "EnergyPreset", "energy_mj", "get_preset",
           "count_macs", "count_params", "LayerOps", "SnnOps", "SynapseRecorder", "measure_snn",
           "shortcut_modules", "synapse_modules"]
