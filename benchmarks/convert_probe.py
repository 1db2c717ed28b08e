"""Probe ANN-to-SNN conversion as the SNN twin's init: train the family's ReLU twin
(neuromap.models.convert.relu_twin), convert it into the SNN twin, report the SNN's test accuracy
before and after SLAYER fine-tuning.

    nice -n 19 .venv/bin/python benchmarks/convert_probe.py MODEL ANN_EPOCHS SNN_EPOCHS [T] [PERCENTILE] [LOSS] [LR]
"""
from __future__ import annotations

import json
import sys
import time

import torch

import neuromap.train as train
from neuromap.data.digits import load_digits_split
from neuromap.models import create_model
from neuromap.models.calibrate import layer_rates
from neuromap.models.convert import convert, relu_twin


def main(argv: list[str]) -> int:
    name, ann_epochs, snn_epochs = argv[0], int(argv[1]), int(argv[2])
    pct = float(argv[4]) if len(argv) > 4 else 99.9
    loss = argv[5] if len(argv) > 5 else "tet"
    lr = float(argv[6]) if len(argv) > 6 else 1e-3
    torch.set_num_threads(1)
    data = load_digits_split(0, train.TEST_FRACTION)
    recipe = train.resolve_recipe(name, {"calibration": None, "surrogate_balance": None, "loss": loss})
    depth = train.network_depth(create_model(name, kind="cnn", num_classes=10, input_shape=(1, 8, 8)))
    T = int(argv[3]) if len(argv) > 3 and int(argv[3]) > 0 else train.window(recipe, depth)
    config = {"model": name, "seed": 0, "num_classes": 10, "input_shape": [1, 8, 8], "model_kwargs": {},
              "recipe": recipe, "timesteps": T, "depth": depth}
    t0 = time.time()
    torch.manual_seed(1)
    ann = relu_twin(create_model(name, kind="cnn", num_classes=10, input_shape=(1, 8, 8)))
    ctwin = train._Twin("cnn", config, data)
    hist, _ = train.fit_twin(ann, ctwin, ann_epochs, 3e-3, 32, 0,
                             evaluate=lambda m: float((ctwin.predict_test(m) == data.y_test).mean()))
    print(f"{name}: depth {depth}, T {T}; relu twin {ann_epochs} epochs: test {hist[-1]['test_accuracy']:.4f} "
          f"({time.time() - t0:.0f} s)", flush=True)
    torch.manual_seed(0)
    from neuromap.models.blocks import ZOO_NEURON_PARAMS
    cd = float(argv[8]) if len(argv) > 8 else 1.0
    snn = create_model(name, kind="snn", num_classes=10, input_shape=(1, 8, 8),
                       neuron_params={**ZOO_NEURON_PARAMS, "current_decay": cd})
    train.prepare_snn(snn, recipe)
    stwin = train._Twin("snn", config, data)
    x = ctwin.x_train[:256]
    bal = len(argv) <= 7 or argv[7] != "nobal"
    rep = convert(snn, ann, x, stwin.batch(torch.arange(64)), pct, balance=bal)
    print("bias clipped", sum(r["bias_clipped"] for r in rep["layers"]))
    for r in rep.get("balance", []):
        print("  ", r)
    rates = layer_rates(snn, stwin.batch(torch.arange(32)))
    print("rates", " ".join(f"{r['rate']:.2f}" for r in rates))
    acc = float((stwin.predict_test(snn) == data.y_test).mean())
    print(f"converted SNN: test {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)
    if snn_epochs:
        hist, _ = train.fit_twin(snn, stwin, snn_epochs, lr, 32, 0,
                                 evaluate=lambda m: float((stwin.predict_test(m) == data.y_test).mean()))
        print(json.dumps(hist), f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
