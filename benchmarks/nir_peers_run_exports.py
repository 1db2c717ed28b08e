"""neuromap's NIR exports, loaded and run by the peers: step 2 of 2, in the peers' environment
(tests/fixtures/nir/requirements-peers.txt; see nir_exports_for_peers.py for step 1).

    /work/peers-venv/bin/python benchmarks/nir_peers_run_exports.py --dir /tmp/nir_to_peers

Loads every ``<net>_<peer>.nir`` with the peer's own importer (snnTorch ``import_from_nir``,
Norse ``from_nir`` with dt = 1e-3, Sinabs ``from_nir``, Rockpool ``from_nir``), runs it on the
input stored in ``<net>.json`` and prints the peer's spike count per neuron node next to
neuromap's. Sinabs is run twice: with the neurons its importer makes (``MultiSpike``,
``MembraneSubtract``, ``min_v_mem = -threshold``) and with those switched to Loihi's behaviour
(``SingleSpike``, ``MembraneReset``, no lower bound), as ``sinabs-loihi``. A file a peer cannot
load prints the peer's error."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import nir
import numpy as np
import torch


def counting_hooks(module: torch.nn.Module, kinds: tuple[type, ...], counts: dict[str, int]) -> None:
    for name, mod in module.named_modules():
        if isinstance(mod, kinds):
            counts[name] = 0

            def hook(m, i, out, name=name):
                spk = out[0] if isinstance(out, tuple) else out
                counts[name] += int(spk.sum())
            mod.register_forward_hook(hook)


def run_snntorch(path: Path, x: torch.Tensor) -> dict[str, int]:
    import snntorch as snn
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    net = import_from_nir(nir.read(path))
    counts: dict[str, int] = {}
    counting_hooks(net, (snn.Leaky, snn.Synaptic), counts)
    utils.reset(net)
    with torch.no_grad():
        for t in range(x.shape[0]):
            net(x[t][None])
    return counts


def run_norse(path: Path, x: torch.Tensor) -> dict[str, int]:
    from norse.torch import from_nir
    from norse.torch.module.iaf import IAFCell
    from norse.torch.module.lif_box import LIFBoxCell

    net = from_nir(nir.read(path), dt=1e-3)
    counts: dict[str, int] = {}
    counting_hooks(net, (LIFBoxCell, IAFCell), counts)
    state = None
    with torch.no_grad():
        for t in range(x.shape[0]):
            _, state = net(x[t][None], state)
    return counts


def run_sinabs(path: Path, x: torch.Tensor, loihi: bool = False) -> dict[str, int]:
    import sinabs.layers as sl
    from sinabs.activation import MembraneReset, SingleSpike
    from sinabs.nir import from_nir

    net = from_nir(nir.read(path), batch_size=1)
    counts: dict[str, int] = {}
    kinds = (sl.IAF, sl.LIF)
    if loihi:
        for mod in net.modules():
            if isinstance(mod, kinds):
                mod.spike_fn, mod.reset_fn, mod.min_v_mem = SingleSpike, MembraneReset(), None
    counting_hooks(net, kinds, counts)
    with torch.no_grad():
        net(x)  # (T, ...): the squeeze layers take time as the batch axis
    return counts


def run_rockpool(path: Path, x: torch.Tensor) -> dict[str, int]:
    from rockpool.nn.modules import LIFTorch
    from rockpool.nn.modules.torch.nir import from_nir

    net = from_nir(nir.read(path))
    counts: dict[str, int] = {}
    counting_hooks(net, (LIFTorch,), counts)
    with torch.no_grad():
        net(x.reshape(1, x.shape[0], -1))  # (batch, T, n)
    return counts


RUNNERS = {"snntorch": run_snntorch, "norse": run_norse, "sinabs": run_sinabs,
           "sinabs-loihi": lambda path, x: run_sinabs(path, x, loihi=True),
           "rockpool": run_rockpool}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, required=True)
    args = ap.parse_args()
    for meta_path in sorted(args.dir.glob("*.json")):
        net = meta_path.stem
        meta = json.loads(meta_path.read_text())
        x = torch.tensor(np.asarray(meta["input"], dtype=np.float32))
        for peer, runner in RUNNERS.items():
            path = args.dir / f"{net}_{peer.split('-')[0]}.nir"
            try:
                got = runner(path, x)
            except Exception as exc:  # report what the peer says and go on
                print(f"{net} {peer}: failed to load or run: {type(exc).__name__}: {exc}")
                continue
            print(f"{net} {peer}: peer {sorted(got.items())} neuromap {sorted(meta['counts'].items())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
