"""The IR -> Lava backend against Intel's ground truth for PilotNet LIF (shipped in lava-dl):
every layer's spikes must be identical, step for step, once aligned by the layer's depth."""
from __future__ import annotations

import numpy as np

from neuromap.netx.load import load_netx
from neuromap.sim.lava import simulate_lava

from conftest import lava_dl_net

GT = ["input-s"] + [f"conv-{i}" for i in range(5)] + [f"fc-{i}" for i in range(3)]


def test_pilotnet_lif_spike_exact_against_ground_truth():
    net = lava_dl_net("gts/pilotnet_lif/network.net")
    gts = net.parent
    graph = load_netx(net)
    image = np.load(gts / "image.npy")
    steps = 10
    act = simulate_lava(graph, image[None], steps=steps)
    for depth, (layer, gt_name) in enumerate(zip(graph.layers, GT)):
        gt = np.load(gts / f"{gt_name}.npy").astype(int).reshape(layer.size, -1)
        ours = act.events[layer.name][0].T                 # (neurons, steps), window of sample 0
        assert ours.shape == (layer.size, steps)
        np.testing.assert_array_equal(ours, gt[:, depth:depth + steps], err_msg=layer.name)
    assert act.events["dense9"].sum() > 0 or act.events["dense8"].sum() > 0
