"""Probe an SNN recipe quickly: fit one zoo SNN twin on the first N digits training samples with
`neuromap.train.fit_twin` (the loop of every CLI) and print its learning curve on the first 200
test samples.

    nice -n 19 .venv/bin/python benchmarks/recipe_probe.py MODEL N_TRAIN EPOCHS 'RECIPE_OVERRIDES_JSON' [T]

e.g. `benchmarks/recipe_probe.py squeezenet_p 256 2 '{"loss": "spike_rate"}'`. Seed 0, one thread.
Prints the window, the firing rate per layer before training (eval mode) and, per epoch, the mean
training loss, the on-the-fly training accuracy and the test accuracy (docs/models.md, "Normalised
SNN twins").
"""
from __future__ import annotations

import json
import sys
import time

import torch

import neuromap.train as train
from neuromap.data.digits import DigitsSplit, load_digits_split
from neuromap.models import create_model
from neuromap.models.calibrate import layer_rates


def main(argv: list[str]) -> int:
    model_name, ntr, epochs, over = argv[0], int(argv[1]), int(argv[2]), json.loads(argv[3])
    torch.set_num_threads(1)
    full = load_digits_split(0, train.TEST_FRACTION)
    data = DigitsSplit(full.x_train[:ntr], full.y_train[:ntr], full.x_test[:200], full.y_test[:200])
    recipe = train.resolve_recipe(model_name, over)
    depth = train.network_depth(create_model(model_name, kind="cnn", num_classes=10, input_shape=(1, 8, 8)))
    T = int(argv[4]) if len(argv) > 4 else train.window(recipe, depth)
    config = {"model": model_name, "seed": 0, "num_classes": 10, "input_shape": [1, 8, 8], "model_kwargs": {},
              "recipe": recipe, "timesteps": T, "depth": depth}
    twin = train._Twin("snn", config, data)
    model, _ = train.initial_model("snn", config, twin)
    rates = layer_rates(model, twin.batch(torch.arange(32)))
    print(f"{model_name}: T {T}, depth {depth}; rates at init", " ".join(f"{r['rate']:.2f}" for r in rates))
    t0 = time.time()
    fold = int(recipe["fold_epochs"]) if recipe["norm"] == "tdbn" else 0
    hist, _ = train.fit_twin(model, twin, epochs, float(recipe["lr"]["snn"]), int(recipe["batch_size"]), 0,
                             fold_epochs=fold, evaluate=lambda m: float((twin.predict_test(m) == data.y_test).mean()))
    print(json.dumps(hist), f"{time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
