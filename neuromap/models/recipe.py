"""Training recipes as data: one dict per registered family (as timm keeps `default_cfgs`), checked
before any training starts.

A recipe holds everything `neuromap.train.fit_run` needs to fit both twins of a family besides the
data, the seed and the number of epochs:

* ``window``: the SNN's time steps, ``max(min, per_layer x depth + extra)`` for an SNN of ``depth``
  neuron layers on its longest path;
* ``lr``: Adam's learning rate per twin (cosine-decayed);
* ``batch_size``;
* ``norm``: ``"tdbn"`` (per-channel normalisation of the integrated current, neuromap.models.norm)
  or ``"none"``; ``fold_epochs``: how many of the last epochs train in folded, quantised form;
* ``loss``: ``"tet"`` (per-step cross-entropy on the readout's running spike rate, the first
  ``depth`` steps of pipeline latency masked) or ``"spike_rate"`` (SLAYER's SpikeRate);
  ``loss_gain``: the TET logit scale;
* ``convert``: the SNN's init by conversion (neuromap.models.convert): the family's ReLU twin
  trained for ``ann_epochs``, its activation scales taken at ``percentile`` on ``samples`` training
  samples, each layer's rate matched on ``balance_samples``; or None;
* ``calibration`` / ``surrogate_balance``: the data-driven init and per-layer surrogate scales of
  neuromap.models.calibrate, or None; ``surrogate_width``: SLAYER's ``tau_grad``.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from neuromap.errors import NeuromapError

NORMS = ("tdbn", "none")
LOSSES = ("tet", "spike_rate")

#: The SNN neurons' surrogate width as built (SLAYER's tau_grad of digitnet's and the zoo's CUBA-LIF).
BUILT_SURROGATE_WIDTH = 0.03

#: The zoo's recipe, shared by every family (mnasnet and mixnet take it with a longer window): the
#: SNN starts as the conversion of its trained ReLU twin (neuromap.models.convert; 10 epochs,
#: activation scales at the 99.9th percentile of 256 samples, rates matched on 64) and is then
#: fine-tuned with SLAYER: TET loss, Adam 1e-3. docs/models.md gives the measurements behind each
#: value. The CNN twin trains with Adam 3e-3.
ZOO_RECIPE: dict[str, Any] = {
    "window": {"per_layer": 3, "extra": 3, "min": 16},
    "lr": {"snn": 1e-3, "cnn": 3e-3},
    "batch_size": 32,
    "norm": "none",
    "fold_epochs": 1,
    "loss": "tet",
    "loss_gain": 8.0,
    "convert": {"ann_epochs": 10, "percentile": 99.9, "samples": 256, "balance_samples": 64},
    "calibration": None,
    "surrogate_balance": None,
    "surrogate_width": BUILT_SURROGATE_WIDTH,
}

#: The zoo's recipe with a longer window for the MBConv families (mnasnet, mixnet): at 3 x depth + 3
#: steps their conversions lose 25 and 17 points to the ReLU twin, at 4 x depth + 3 about 15 and 8
#: (benchmarks/window_sweep.py, docs/models.md); ShuffleNetV2 and the SqueezeNets gain little or
#: nothing from the extra steps and keep the shorter window.
DEEP_ZOO_RECIPE: dict[str, Any] = {**ZOO_RECIPE, "window": {**ZOO_RECIPE["window"], "per_layer": 4}}

#: digitnet: 4 layers, no normalisation (its blocks are not zoo units), a fixed 16-step window.
DIGITNET_RECIPE: dict[str, Any] = {
    "window": {"per_layer": 0, "extra": 0, "min": 16},
    "lr": {"snn": 3e-3, "cnn": 3e-3},
    "batch_size": 32,
    "norm": "none",
    "fold_epochs": 0,
    "loss": "spike_rate",
    "loss_gain": 8.0,
    "convert": None,
    "calibration": None,
    "surrogate_balance": None,
    "surrogate_width": BUILT_SURROGATE_WIDTH,
}

_KEYS = tuple(ZOO_RECIPE)


def _number(recipe: Mapping[str, Any], key: str, value: Any, low: float, integer: bool, strict: bool,
            what: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if ok and integer:
        ok = float(value) == int(value)
    if ok:
        ok = value > low if strict else value >= low
    if not ok:
        bound = f"> {low}" if strict else f">= {low}"
        raise NeuromapError(f"recipe key {key!r} must be {'an integer' if integer else 'a number'} {bound} "
                            f"({what}), got {value!r}")


def validate_recipe(recipe: Mapping[str, Any]) -> dict[str, Any]:
    """A checked copy of `recipe`; a missing, unknown or out-of-range key raises NeuromapError naming
    the key and the allowed values."""
    unknown = sorted(set(recipe) - set(_KEYS))
    if unknown:
        raise NeuromapError(f"recipe key {unknown[0]!r} is unknown; allowed keys: {', '.join(_KEYS)}")
    missing = [k for k in _KEYS if k not in recipe]
    if missing:
        raise NeuromapError(f"recipe key {missing[0]!r} is missing; a recipe needs: {', '.join(_KEYS)}")
    r = copy.deepcopy(dict(recipe))
    win = r["window"]
    if not isinstance(win, Mapping) or set(win) != {"per_layer", "extra", "min"}:
        raise NeuromapError(f"recipe key 'window' must be a dict with per_layer, extra and min, got {win!r}")
    _number(r, "window.per_layer", win["per_layer"], 0, True, False, "steps per neuron layer")
    _number(r, "window.extra", win["extra"], 0, True, False, "steps after depth x per_layer")
    _number(r, "window.min", win["min"], 0, True, True, "shortest window in steps")
    lr = r["lr"]
    if not isinstance(lr, Mapping) or set(lr) != {"snn", "cnn"}:
        raise NeuromapError(f"recipe key 'lr' must be a dict with snn and cnn, got {lr!r}")
    for kind in ("snn", "cnn"):
        _number(r, f"lr.{kind}", lr[kind], 0, False, True, "Adam learning rate")
    _number(r, "batch_size", r["batch_size"], 0, True, True, "samples per minibatch")
    if r["norm"] not in NORMS:
        raise NeuromapError(f"recipe key 'norm' must be one of {', '.join(NORMS)}, got {r['norm']!r}")
    _number(r, "fold_epochs", r["fold_epochs"], 0, True, False, "last epochs trained folded")
    if r["loss"] not in LOSSES:
        raise NeuromapError(f"recipe key 'loss' must be one of {', '.join(LOSSES)}, got {r['loss']!r}")
    _number(r, "loss_gain", r["loss_gain"], 0, False, True, "logit scale of the TET loss")
    conv = r["convert"]
    if conv is not None:
        if not isinstance(conv, Mapping) or set(conv) != {"ann_epochs", "percentile", "samples", "balance_samples"}:
            raise NeuromapError(f"recipe key 'convert' must be null or a dict with ann_epochs, percentile, samples "
                                f"and balance_samples, got {conv!r}")
        _number(r, "convert.ann_epochs", conv["ann_epochs"], 0, True, True, "epochs of the ReLU twin")
        _number(r, "convert.percentile", conv["percentile"], 0, False, True, "activation percentile")
        if not conv["percentile"] <= 100:
            raise NeuromapError(f"recipe key 'convert.percentile' must be in (0, 100], got {conv['percentile']!r}")
        _number(r, "convert.samples", conv["samples"], 0, True, True, "training samples")
        _number(r, "convert.balance_samples", conv["balance_samples"], 0, True, False, "training samples, 0: none")
        for other in ("calibration", "surrogate_balance"):
            if r[other] is not None:
                raise NeuromapError(f"recipe key {other!r} must be null with 'convert' (conversion sets every "
                                    f"layer's scale), got {r[other]!r}")
        if r["norm"] != "none":
            raise NeuromapError(f"recipe key 'norm' must be 'none' with 'convert' (conversion folds the ReLU "
                                f"twin's BatchNorm itself), got {r['norm']!r}")
    cal = r["calibration"]
    if cal is not None:
        if not isinstance(cal, Mapping) or set(cal) != {"target_rate", "samples"}:
            raise NeuromapError(f"recipe key 'calibration' must be null or a dict with target_rate and samples, "
                                f"got {cal!r}")
        _number(r, "calibration.target_rate", cal["target_rate"], 0, False, True, "spikes per neuron per step")
        if not cal["target_rate"] < 1:
            raise NeuromapError(f"recipe key 'calibration.target_rate' must be in (0, 1), got {cal['target_rate']!r}")
        _number(r, "calibration.samples", cal["samples"], 0, True, True, "training samples")
    bal = r["surrogate_balance"]
    if bal is not None:
        if not isinstance(bal, Mapping) or set(bal) != {"samples", "iters"}:
            raise NeuromapError(f"recipe key 'surrogate_balance' must be null or a dict with samples and iters, "
                                f"got {bal!r}")
        _number(r, "surrogate_balance.samples", bal["samples"], 0, True, True, "training samples")
        _number(r, "surrogate_balance.iters", bal["iters"], 0, True, True, "rounds")
    _number(r, "surrogate_width", r["surrogate_width"], 0, False, True, "SLAYER's tau_grad")
    if r["norm"] == "tdbn" and r["calibration"] is not None:
        raise NeuromapError("recipe key 'calibration' must be null with norm 'tdbn' (the normalisation sets "
                            "every layer's scale), got " + repr(r["calibration"]))
    return r


def window(recipe: Mapping[str, Any], depth: int) -> int:
    """The SNN time steps the recipe gives an SNN of `depth` neuron layers."""
    w = recipe["window"]
    return max(int(w["min"]), int(w["per_layer"]) * int(depth) + int(w["extra"]))
