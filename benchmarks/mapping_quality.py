"""Mapping quality, layerwise vs graph, measured in one run (uniform activity: every neuron spikes
once). For each network: cores, inter-core messages and hop-weighted traffic per strategy, plus
``layerwise+place`` (layer-wise tiles with the graph strategy's traffic-aware placement) to
separate the partitioning gain from the placement gain, the graph/layerwise ratios, and a lower
bound on the messages that any mapping within the per-core budgets needs
(``metrics.message_lower_bound``) with each strategy's distance to it (messages / bound).

    .venv/bin/python benchmarks/mapping_quality.py [--profile loihi2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import conv_stack  # noqa: E402

from neuromap.hw.profile import load_profile  # noqa: E402
from neuromap.mapper import map_network  # noqa: E402
from neuromap.mapper.metrics import hop_traffic, message_lower_bound  # noqa: E402
from neuromap.mapper.placement import place_traffic  # noqa: E402
from neuromap.netx.load import load_netx  # noqa: E402

SHIPPED = Path(sysconfig.get_paths()["purelib"]) / "tests" / "lava" / "lib" / "dl" / "netx"
NETS = ["gts/pilotnet_lif/network.net", "gts/pilotnet_sdnn/network.net",
        "gts/pilotnet_sdnn/square_network.net", "gts/ntidigits/ntidigits.net", "mnist.net", "tiny.net"]


def zoo_networks():
    """The model zoo's SNNs (CIFAR-sized input, untrained weights: mapping needs only shapes),
    exported to NetX (graph format for the non-sequential ones) and loaded back."""
    import tempfile
    from neuromap.errors import NeuromapError
    from neuromap.models import create_model, list_models
    from neuromap.netx.export import export_netx
    folder = Path(tempfile.mkdtemp(prefix="zoo_"))
    for name in list_models():
        if name == "digitnet":
            continue
        try:
            model = create_model(name, kind="snn", num_classes=10, input_shape=(3, 32, 32))
            path = export_netx(model, folder / f"{name}.net", {})
        except NeuromapError as exc:
            print(f"zoo {name}: skipped ({str(exc).split(';')[0]})")
            continue
        yield f"zoo {name} (3x32x32)", load_netx(path)


def networks():
    for rel in NETS:
        yield rel, load_netx(SHIPPED / rel)
    yield from zoo_networks()
    for n in (1e5, 1e6):
        g = conv_stack(n)
        yield f"synthetic {g.name} ({g.num_neurons:,} neurons)", g


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="loihi2")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", default="", help="map only networks whose name contains this text")
    args = ap.parse_args()
    prof = load_profile(args.profile)
    rows = []
    head = (f"{'network':<46} {'strategy':<16} {'cores':>6} {'messages':>11} {'hop-weighted':>13} "
            f"{'seconds':>8}")
    print(head)
    print("-" * len(head))
    for name, g in networks():
        if args.only not in name:
            continue
        lw = map_network(g, prof, "layerwise", validate=False, materialize=False)
        gr = map_network(g, prof, "graph", validate=False, materialize=False)
        chip, tx, ty = place_traffic(lw.traffic.pairs, prof, order=np.arange(lw.n_cores))
        lwp = hop_traffic(lw.traffic.pairs, chip, tx, ty, prof.mesh_tiles[0])
        bound = message_lower_bound(g, prof)
        row = {"network": name, "neurons": int(g.num_neurons), "lower_bound": bound,
               "layerwise": {"cores": lw.n_cores, "messages": lw.traffic.messages, "hops": lw.hops.total,
                             "seconds": lw.seconds},
               "layerwise+place": {"cores": lw.n_cores, "messages": lw.traffic.messages, "hops": lwp.total},
               "graph": {"cores": gr.n_cores, "messages": gr.traffic.messages, "hops": gr.hops.total,
                         "seconds": gr.seconds}}
        rows.append(row)
        for key in ("layerwise", "layerwise+place", "graph"):
            r = row[key]
            sec = f"{r['seconds']:8.2f}" if "seconds" in r else " " * 8
            print(f"{name[:46]:<46} {key:<16} {r['cores']:>6} {r['messages']:>11,.0f} {r['hops']:>13,.0f} {sec}")
        ratio = lambda k: row["graph"][k] / row["layerwise"][k] if row["layerwise"][k] else float("nan")  # noqa: E731
        print(f"{'':<46} {'graph/layerwise':<16} {ratio('cores'):>6.2f} {ratio('messages'):>11.2f} "
              f"{ratio('hops'):>13.2f}")
        over = lambda k: row[k]["messages"] / bound if bound else float("nan")  # noqa: E731
        print(f"{'':<46} {'lower bound':<16} {'':>6} {bound:>11,.0f}   layerwise/bound {over('layerwise'):.2f}, "
              f"graph/bound {over('graph'):.2f}")
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps({"profile": prof.name, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
