"""Fuzz the CLIs with hostile and broken inputs and print a table of outcomes.

    .venv/bin/python benchmarks/fuzz.py [--fast] [--seed 0] [--only CATEGORY ...] [--jobs 1]
                                        [--work DIR] [--json out.json] [--limit N]

From small valid seed files it makes itself (NetX files written by neuromap.netx.write from tiny
IR graphs, their NIR twins, lava-dl's shipped tiny.net when installed, an input .npy, a copy of the
loihi2 profile) it generates over 1,000 hostile inputs in these categories:

  h5-bitflip, h5-zeros, h5-truncate   damaged NetX / NIR files
  h5-structure                        soft / external links, external raw storage, virtual
                                      datasets, hard-link bombs, deep nesting, many objects
  netx-values, nir-values             hostile values in datasets (NaN, inf, 1e30, fractions,
                                      strings, arrays, wrong shapes, unknown types, missing keys)
  names                               hostile model file names and stored layer names
  npy                                 hostile --input arrays for deploy
  profile                             hostile hardware-profile YAML
  cli-numbers, cli-paths              hostile option values and output paths
  pickle                              crafted CIFAR batches (code that would run if unpickled)

Each case runs one CLI (map, export, deploy, train, prune, bench) in its own folder, in a
forked child (map, export and deploy refusals that happen in main) or a fresh interpreter
(deploy runs that reach Lava, train), with an address-space limit (resource.setrlimit) and a
wall-clock limit, and is classified:

  refused      exit 2 with one 'error: ...' line on stderr (what the project promises)
  ok           exit 0 with usable outputs (strict JSON without NaN, files that load back)
  traceback    a Python traceback on stderr
  hang         killed at the time limit
  crash        any other exit (signal, 1, out of memory)
  multi-line   exit 2 but not a single 'error:' line
  accepted-bad exit 0 on an input that must be refused, or outputs that are unusable
  input-changed, outside-write, left-behind, leaked, code-ran   (checked on every case)

A row of the table per category; the goals are 0 in every column but refused and ok.
``--fast`` runs only what needs no simulator (map, export, and deploy cases refused in main),
the subset tests/test_fuzz.py runs.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SECRET = b"NEUROMAP-FUZZ-SECRET-0123456789"
MEM_LIMIT = 6 << 30
FORK_TIMEOUT = 30.0
EXEC_TIMEOUT = 60.0
OUTCOMES = ("refused", "ok", "traceback", "hang", "crash", "multi-line", "accepted-bad",
            "input-changed", "outside-write", "left-behind", "leaked", "code-ran")
FAST_CLIS = ("map", "export")


@dataclass
class Case:
    category: str
    name: str
    cli: str                       # map | export | deploy | train | prune | bench
    argv: list[str]                # {in} and {out} are replaced by the case's folders
    files: dict[str, Any]          # name in in/ -> bytes, or a callable(path) that writes it
    expect: str = "any"            # "refuse": exit 0 counts as accepted-bad
    exec_: bool = False            # fresh interpreter instead of a fork
    fast: bool = True              # part of the --fast subset
    extra_check: Callable[[Path], str | None] | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------

def _graphs() -> dict[str, Any]:
    from neuromap.graph import Edge, Layer, NetworkGraph, Neuron, conv_output_shape

    rng = np.random.default_rng(0)
    cuba = Neuron("CUBA", {"vThMant": 40, "iDecay": 1024, "vDecay": 256, "refDelay": 1,
                           "gradedSpike": False})
    dense = NetworkGraph("dense", (
        Layer("input0", "input", (8,)),
        Layer("dense1", "dense", (6,), cuba),
        Layer("dense2", "dense", (4,), cuba)), (
        Edge("input0", "dense1", "dense", rng.integers(-20, 60, (6, 8)).astype(float)),
        Edge("dense1", "dense2", "dense", rng.integers(-20, 60, (4, 6)).astype(float))))
    e1 = Edge("input0", "conv1", "conv", rng.integers(-20, 60, (4, 3, 3, 2)).astype(float),
              padding=(1, 1))
    s1 = conv_output_shape((6, 6, 2), e1)
    conv = NetworkGraph("conv", (
        Layer("input0", "input", (6, 6, 2)),
        Layer("conv1", "conv", s1, cuba, bias=rng.integers(-5, 5, s1).astype(float)),
        Layer("dense2", "dense", (5,), cuba)), (
        e1, Edge("conv1", "dense2", "dense", rng.integers(-20, 60, (5, int(np.prod(s1)))).astype(float))))
    e2 = Edge("conv1", "conv2", "conv", rng.integers(-20, 60, (4, 3, 3, 4)).astype(float),
              padding=(1, 1))
    skip = Edge("input0", "conv2", "conv", rng.integers(-20, 60, (4, 1, 1, 2)).astype(float), lag=1)
    residual = NetworkGraph("residual", (
        Layer("input0", "input", (6, 6, 2)),
        Layer("conv1", "conv", s1, cuba),
        Layer("conv2", "conv", s1, cuba),
        Layer("dense3", "dense", (3,), cuba)), (
        e1, e2, skip, Edge("conv2", "dense3", "dense", rng.integers(-9, 9, (3, 144)).astype(float))))
    return {"dense": dense, "conv": conv, "residual": residual}


def make_seeds(folder: Path) -> dict[str, bytes]:
    """Valid seed files (name -> bytes): NetX and NIR twins of tiny graphs, lava-dl's tiny.net,
    an input array for the dense seed, and the loihi2 profile."""
    from neuromap.hw.profile import PROFILE_DIR
    from neuromap.interop.nir import write_nir
    from neuromap.netx.write import write_netx

    folder.mkdir(parents=True, exist_ok=True)
    seeds: dict[str, bytes] = {}
    for name, g in _graphs().items():
        seeds[f"{name}.net"] = write_netx(g, folder / f"{name}.net").read_bytes()
        seeds[f"{name}.nir"] = write_nir(g, folder / f"{name}.nir").read_bytes()
    shipped = Path(sysconfig.get_paths()["purelib"]) / "tests/lava/lib/dl/netx/tiny.net"
    if shipped.is_file():
        seeds["tiny.net"] = shipped.read_bytes()
    x = (np.random.default_rng(1).random((2, 8, 6)) < 0.3).astype(np.int32)
    buf = folder / "x.npy"
    np.save(buf, x)
    seeds["x.npy"] = buf.read_bytes()
    seeds["loihi2.yaml"] = (PROFILE_DIR / "loihi2.yaml").read_bytes()
    return seeds


# ---------------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------------

def _edit_h5(seed: bytes, edit: Callable[[h5py.File], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(seed)
        with h5py.File(path, "r+") as f:
            edit(f)
    return write


def _datasets(seed: bytes) -> list[str]:
    with tempfile.NamedTemporaryFile(suffix=".h5") as tmp:
        tmp.write(seed)
        tmp.flush()
        names: list[str] = []
        with h5py.File(tmp.name, "r") as f:
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _replace(name: str, value: Any) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        parent, _, leaf = name.rpartition("/")
        group = f[parent] if parent else f
        del group[leaf]
        if value is _DELETE:
            return
        if isinstance(value, str):  # fixed-length bytes: NetX's own layout, NULs allowed
            raw = value.encode()
            group.create_dataset(leaf, data=np.array(raw, dtype=f"S{max(1, len(raw))}"))
        else:
            group.create_dataset(leaf, data=value)
    return edit


_DELETE = object()
HOSTILE_VALUES: list[tuple[str, Any, bool]] = [  # label, value, must be refused
    ("nan", np.nan, True), ("inf", np.inf, True), ("-inf", -np.inf, True), ("1e30", 1e30, True),
    ("string", "abc", True), ("neg", -1, False), ("zero", 0, False), ("frac", 80.5, False),
    ("big", 2 ** 40, False), ("array", np.arange(3.0), False), ("empty", np.zeros(0), False),
    ("huge-shape", np.array([4, 100000, 100000]), False), ("delete", _DELETE, False),
    ("int5000", 5000, False),
]
#: Datasets whose hostile values must all be refused (no value above is a valid one for them).
NUMERIC_KEYS = ("vThMant", "iDecay", "vDecay", "weight", "bias", "shape", "stride", "padding",
                "dilation", "groups", "refDelay", "delay", "lag", "source")


def value_cases(seeds: dict[str, bytes], suffix: str, category: str) -> list[Case]:
    cases = []
    for seed_name, seed in seeds.items():
        if not seed_name.endswith(suffix):
            continue
        for ds in _datasets(seed):
            leaf = ds.rsplit("/", 1)[-1]
            for label, value, refuse in HOSTILE_VALUES:
                if label == "huge-shape" and leaf not in ("shape", "input_type", "output_type"):
                    continue
                must = refuse and (leaf in NUMERIC_KEYS or category == "nir-values" and label in
                                   ("nan", "1e30", "inf", "-inf") and leaf in ("weight", "bias"))
                cases.append(_model_case(category, f"{seed_name}:{ds}={label}", seed_name,
                                         _edit_h5(seed, _replace(ds, value)),
                                         "refuse" if must else "any"))
    return cases


def _model_case(category: str, name: str, seed_name: str, writer: Any, expect: str,
                cli: str | None = None) -> Case:
    """map for NetX files (with --summary-json), export for NIR files (to NetX)."""
    model = "model" + Path(seed_name).suffix
    if cli is None:
        cli = "map" if model.endswith(".net") else "export"
    if cli == "map":
        argv = ["--model", f"{{in}}/{model}", "--summary-json", "{out}/s.json", "--out", "{out}/m.json"]
    else:
        to = "netx" if model.endswith(".nir") else "nir"
        argv = ["--model", f"{{in}}/{model}", "--to", to, "--out", f"{{out}}/o.{to}"]
    return Case(category, name, cli, argv, {model: writer}, expect)


def damage_cases(seeds: dict[str, bytes], rng: np.random.Generator, n_flip: int, n_zero: int,
                 n_trunc: int) -> list[Case]:
    cases = []
    models = [k for k in seeds if k.endswith((".net", ".nir"))]
    for i in range(n_flip):
        name = models[i % len(models)]
        raw = bytearray(seeds[name])
        flips = int(rng.integers(1, 64))
        for pos in rng.integers(0, len(raw), flips):
            raw[pos] ^= 1 << int(rng.integers(0, 8))
        cases.append(_model_case("h5-bitflip", f"{name}:{flips} flips #{i}", name, bytes(raw), "any",
                                 cli="map" if i % 2 == 0 and name.endswith(".net") else "export"))
    for i in range(n_zero):
        name = models[i % len(models)]
        raw = bytearray(seeds[name])
        size = int(rng.integers(16, 4096))
        start = int(rng.integers(0, max(1, len(raw) - size)))
        raw[start:start + size] = bytes(min(size, len(raw) - start))
        cases.append(_model_case("h5-zeros", f"{name}:zero {size}@{start}", name, bytes(raw), "any",
                                 cli="map" if i % 2 == 0 and name.endswith(".net") else "export"))
    for i in range(n_trunc):
        name = models[i % len(models)]
        raw = seeds[name]
        cut = int(rng.integers(0, len(raw)))
        cases.append(_model_case("h5-truncate", f"{name}:cut at {cut}", name, raw[:cut], "refuse",
                                 cli="map" if i % 2 == 0 and name.endswith(".net") else "export"))
    return cases


def structure_cases(seeds: dict[str, bytes]) -> list[Case]:
    net, nir_seed = seeds["conv.net"], seeds["conv.nir"]
    cases: list[Case] = []

    def ext_storage(f: h5py.File, ds: str) -> None:
        parent, _, leaf = ds.rpartition("/")
        old = f[ds]
        shape, dtype = old.shape, old.dtype
        del f[parent][leaf]
        f[parent].create_dataset(leaf, shape=shape, dtype=dtype,
                                 external=[(os.environ["FUZZ_SECRET"], 0, h5py.h5f.UNLIMITED)])

    def virtual(f: h5py.File, ds: str) -> None:
        parent, _, leaf = ds.rpartition("/")
        shape, dtype = f[ds].shape, f[ds].dtype
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource(os.environ["FUZZ_SECRET_H5"], "data", shape=shape)
        del f[parent][leaf]
        f[parent].create_virtual_dataset(leaf, layout, fillvalue=0)

    for seed_name, seed in (("conv.net", net), ("conv.nir", nir_seed)):
        for ds in [d for d in _datasets(seed) if d.endswith(("weight", "bias", "shape"))][:6]:
            cases.append(_model_case("h5-structure", f"{seed_name}:{ds} external storage", seed_name,
                                     _edit_h5(seed, lambda f, ds=ds: ext_storage(f, ds)), "refuse"))
            cases.append(_model_case("h5-structure", f"{seed_name}:{ds} virtual", seed_name,
                                     _edit_h5(seed, lambda f, ds=ds: virtual(f, ds)), "refuse"))
            cases.append(_model_case("h5-structure", f"{seed_name}:{ds} soft link", seed_name,
                                     _edit_h5(seed, lambda f, ds=ds: _relink(f, ds, h5py.SoftLink("/x"))),
                                     "refuse"))
            cases.append(_model_case("h5-structure", f"{seed_name}:{ds} external link", seed_name,
                                     _edit_h5(seed, lambda f, ds=ds: _relink(
                                         f, ds, h5py.ExternalLink(os.environ["FUZZ_SECRET_H5"], "data"))),
                                     "refuse"))
            cases.append(_model_case("h5-structure", f"{seed_name}:{ds} hard link", seed_name,
                                     _edit_h5(seed, lambda f, ds=ds: f.__setitem__(ds + "_alias", f[ds])),
                                     "refuse"))

    def bomb(path: Path, n: int = 5000) -> None:
        with h5py.File(path, "w") as f:
            layer, shared = f.create_group("layer"), f.create_group("shared")
            shared.create_dataset("type", data=b"dense")
            for i in range(n):
                layer[str(i)] = shared

    def deep(path: Path, n: int = 20000) -> None:
        with h5py.File(path, "w") as f:
            g = f.create_group("layer")
            for _ in range(n):
                g = g.create_group("0")

    def wide(path: Path, n: int = 120000) -> None:
        with h5py.File(path, "w") as f:
            g = f.create_group("layer")
            for i in range(n):
                g.create_group(str(i))

    def nested_nir(path: Path, n: int = 5000) -> None:
        with h5py.File(path, "w") as f:
            g = f.create_group("node")
            for _ in range(n):
                g = g.create_group("nodes")

    for name, fn, suffix in (("hard-link bomb 5000", bomb, ".net"), ("20000 levels", deep, ".net"),
                             ("120000 groups", wide, ".net"), ("NIR 5000 levels", nested_nir, ".nir")):
        cases.append(_model_case("h5-structure", name, f"x{suffix}", fn, "refuse"))
    return cases


def _relink(f: h5py.File, ds: str, link: Any) -> None:
    parent, _, leaf = ds.rpartition("/")
    del f[parent][leaf]
    f[parent][leaf] = link


def netx_semantic_cases(seeds: dict[str, bytes]) -> list[Case]:
    """Targeted NetX edits: neuron types, missing keys, numbering, metadata, padding, names."""
    seed = seeds["conv.net"]
    cases: list[Case] = []
    for t in ("IZH", "", "RF", "SDNN ", "cuba", "LOIHI\x00", "A" * 300):
        cases.append(_model_case("netx-values", f"neuron type {t[:12]!r}", "conv.net",
                                 _edit_h5(seed, _replace("layer/1/neuron/type", t)),
                                 "refuse" if t not in ("SDNN ", "LOIHI\x00") else "any"))
    for key in ("vThMant", "iDecay", "vDecay"):
        cases.append(_model_case("netx-values", f"missing {key}", "conv.net",
                                 _edit_h5(seed, _replace(f"layer/1/neuron/{key}", _DELETE)), "refuse"))
    for pad in (1500, 10 ** 6):
        def edit(f: h5py.File, pad: int = pad) -> None:
            _replace("layer/1/padding", np.array([pad, pad]))(f)
            side = 6 + 2 * pad - 2
            _replace("layer/1/shape", np.array([4, side, side]))(f)
        cases.append(_model_case("netx-values", f"padding {pad}", "conv.net", _edit_h5(seed, edit),
                                 "refuse"))
    for meta in ('["a", "a", "b"]', '["../x", "y", "z"]', "not json", '[1, 2, 3]',
                 json.dumps(["x" * 5000, "b", "c"]), json.dumps(["in\nput", "c", "d"])):
        def edit(f: h5py.File, meta: str = meta) -> None:
            f["neuromap"].attrs["layer_names"] = meta
        cases.append(_model_case("names", f"stored names {meta[:20]!r}", "conv.net",
                                 _edit_h5(seed, edit), "any"))
    for version in (0, 2, -1, 10 ** 12):
        def edit(f: h5py.File, version: int = version) -> None:
            f.attrs["netx_graph_version"] = version
        cases.append(_model_case("netx-values", f"graph version {version}", "residual.net",
                                 _edit_h5(seeds["residual.net"], edit), "refuse"))
    for src in (5, -1, 2, 3):
        def edit(f: h5py.File, src: int = src) -> None:
            for i in f["layer"]:
                if "inputs" in f["layer"][i]:
                    _replace(f"layer/{i}/inputs/0/source", src)(f)
                    return
        cases.append(_model_case("netx-values", f"graph source {src}", "residual.net",
                                 _edit_h5(seeds["residual.net"], edit), "any"))
    return cases


def name_cases(seeds: dict[str, bytes]) -> list[Case]:
    cases = []
    names = ["..net", ".net", "...net", " .net", "-rf.net", "a b.net", "\u00fc\u00df.net",
             "x" * 200 + ".net", "\t.net", "$(touch pwned).net", "`id`.net", "a;b.net",
             "hw_reports.net", "report.json.net", "\u202eten.net"]
    for i, n in enumerate(names):
        for cli in ("map", "export"):
            argv = (["--model", f"{{in}}/{n}", "--summary-json", "{out}/s.json"] if cli == "map" else
                    ["--model", f"{{in}}/{n}", "--to", "nir", "--out", "{out}/o.nir"])
            cases.append(Case("names", f"{n[:20]!r} ({cli})", cli, argv, {n: seeds["dense.net"]}))
        if i < 6:  # deploy runs Lava on these: a few, with 1 sample
            cases.append(Case("names", f"{n[:20]!r} (deploy)", "deploy",
                              ["--model", f"{{in}}/{n}", "--samples", "1", "--quiet", "--out", "{out}"],
                              {n: seeds["dense.net"]}, exec_=True, fast=False,
                              extra_check=_report_in_subfolder))
    return cases


def _report_in_subfolder(out: Path) -> str | None:
    if (out / "report.json").exists():
        return "outside-write"  # deploy wrote into --out itself
    if not (out / "keep.txt").exists():
        return "outside-write"  # an earlier report in --out was deleted
    return None


def npy_cases(seeds: dict[str, bytes], rng: np.random.Generator) -> list[Case]:
    cases = []
    x = np.load(_bytes_file(seeds["x.npy"]))
    variants: list[tuple[str, Any, str]] = []
    for label, value in (("nan", np.nan), ("inf", np.inf), ("-inf", -np.inf), ("1e30", 1e30)):
        y = x.astype(np.float64)
        y[0, int(rng.integers(0, 8)), int(rng.integers(0, 6))] = value
        variants.append((label, y, "refuse"))
    variants += [("complex", x.astype(np.complex128), "refuse"), ("strings", x.astype(str), "refuse"),
                 ("wrong shape", x[:, :5], "refuse"), ("1-D", x.reshape(-1), "refuse"),
                 ("empty", np.zeros((0, 8, 6)), "refuse"), ("bool", x.astype(bool), "any"),
                 ("object", np.array([x, None], dtype=object), "refuse")]
    for label, arr, expect in variants:
        def write(path: Path, arr: Any = arr) -> None:
            with open(path, "wb") as fh:
                np.save(fh, arr, allow_pickle=True)
        cases.append(_deploy_input_case(label, write, expect, seeds))
    raw = seeds["x.npy"]
    for cut in (0, 10, 60, len(raw) - 5):
        cases.append(_deploy_input_case(f"truncated at {cut}", raw[:cut], "refuse", seeds))
    cases.append(_deploy_input_case("not npy", b"hello", "refuse", seeds))
    cases.append(_deploy_input_case("pickle payload", pickle.dumps({"a": 1}), "refuse", seeds))
    cases.append(_deploy_input_case("valid", raw, "any", seeds))
    return cases


def _deploy_input_case(label: str, data: Any, expect: str, seeds: dict[str, bytes]) -> Case:
    return Case("npy", label, "deploy",
                ["--model", "{in}/dense.net", "--input", "{in}/x.npy", "--samples", "1", "--quiet",
                 "--out", "{out}", "--summary-json", "{out}/s.json"],
                {"dense.net": seeds["dense.net"], "x.npy": data}, expect, exec_=True, fast=False)


def _bytes_file(data: bytes) -> Any:
    import io
    return io.BytesIO(data)


def profile_cases(seeds: dict[str, bytes]) -> list[Case]:
    import yaml

    base = yaml.safe_load(seeds["loihi2.yaml"])
    cases = []
    paths = [("energy_pj", k) for k in base["energy_pj"]] + [("time_ns", k) for k in base["time_ns"]] \
        + [("chip", k) for k in base["chip"]] + [("core", "max_neurons"), ("static_power_w_per_chip",)]
    values: list[tuple[str, Any, bool]] = [("nan", float("nan"), True), ("inf", float("inf"), True),
                                          ("neg", -5, True), ("string", "x", True), ("list", [1, 2], True),
                                          ("null", None, True), ("huge", 1e300, False)]
    for path in paths:
        for label, value, refuse in values:
            raw = json.loads(json.dumps(base))
            node = raw
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            text = yaml.safe_dump(raw).encode()
            cases.append(Case("profile", f"{'.'.join(path)}={label}", "map",
                              ["--model", "{in}/dense.net", "--profile", "{in}/p.yaml",
                               "--summary-json", "{out}/s.json"],
                              {"dense.net": seeds["dense.net"], "p.yaml": text},
                              "refuse" if refuse and path[-1] not in ("max_neurons",) else "any"))
    bomb = b"a: &a [x,x,x,x,x,x,x,x]\n" + b"".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n".encode()
        for p, c in zip("abcdefgh", "bcdefghi"))
    for label, text in (("alias bomb", bomb), ("not yaml", b"{[}"), ("list", b"- 1\n- 2\n"),
                        ("empty", b""), ("binary", bytes(range(256))), ("python tag",
                        b"!!python/object/apply:os.system ['touch pwned']\n"),
                        ("big", b"x: " + b"9" * 300000 + b"\n")):
        cases.append(Case("profile", label, "map", ["--model", "{in}/dense.net", "--profile",
                                                    "{in}/p.yaml"],
                          {"dense.net": seeds["dense.net"], "p.yaml": text}, "refuse"))
    return cases


def cli_number_cases(seeds: dict[str, bytes]) -> list[Case]:
    cases = []
    bad = ["nan", "inf", "-1", "0", "1e99", "abc", "", "99999999999999999999", "1.5", "0x10"]
    model = {"dense.net": seeds["dense.net"]}
    for opt in ("--seed", "--unit-factor", "--max-neurons", "--max-synapses"):
        for v in bad:
            cases.append(Case("cli-numbers", f"map {opt} {v!r}", "map",
                              ["--model", "{in}/dense.net", "--strategy", "graph", opt, v,
                               "--summary-json", "{out}/s.json"], model,
                              "refuse" if v not in ("0",) or opt != "--seed" else "any"))
    for opt in ("--samples", "--steps", "--seed", "--max-neurons"):
        for v in bad:
            if opt in ("--seed",) and v in ("0",):
                continue
            cases.append(Case("cli-numbers", f"deploy {opt} {v!r}", "deploy",
                              ["--model", "{in}/dense.net", opt, v, "--out", "{out}"], model, "refuse"))
    for opt in ("--epochs", "--lr", "--batch-size", "--timesteps", "--seed", "--calibrate-rate",
                "--surrogate-width"):
        for v in ("nan", "inf", "-1", "0", "abc"):
            if opt in ("--seed", "--calibrate-rate") and v == "0":
                continue
            cases.append(Case("cli-numbers", f"train {opt} {v!r}", "train",
                              [opt, v, "--out", "{out}/runs", "--export", "{out}/m.net",
                               "--epochs" if opt != "--epochs" else "--kind",
                               "1" if opt != "--epochs" else "both"], {}, "refuse", exec_=True,
                              fast=False))
    for opt in ("--lr", "--epochs", "--drop", "--seed", "--timesteps"):
        for v in ("nan", "inf", "-1", "abc", "1e9"):
            cases.append(Case("cli-numbers", f"prune {opt} {v!r}", "prune",
                              [opt, v, "--out", "{out}/p"], {}, "refuse", exec_=True, fast=False))
    return cases


def cli_path_cases(seeds: dict[str, bytes]) -> list[Case]:
    model = {"dense.net": seeds["dense.net"], "dense.nir": seeds["dense.nir"]}
    same = "{in}/dense.net"
    cases = [
        Case("cli-paths", "map --out model", "map", ["--model", same, "--out", same], model, "refuse"),
        Case("cli-paths", "map --summary-json model", "map", ["--model", same, "--summary-json", same],
             model, "refuse"),
        Case("cli-paths", "map --out model via ..", "map",
             ["--model", same, "--out", "{in}/../in/dense.net"], model, "refuse"),
        Case("cli-paths", "map --out symlink to model", "map", ["--model", same, "--out", "{in}/link"],
             {**model, "link": "symlink:dense.net"}, "refuse"),
        Case("cli-paths", "map --out hard link to model", "map", ["--model", same, "--out", "{in}/hard"],
             {**model, "hard": "hardlink:dense.net"}, "refuse"),
        Case("cli-paths", "map --out folder", "map", ["--model", same, "--out", "{out}"], model, "refuse"),
        Case("cli-paths", "map --out under a file", "map", ["--model", same, "--out", "{in}/dense.nir/x"],
             model, "refuse"),
        Case("cli-paths", "map --out /proc", "map", ["--model", same, "--out", "/proc/neuromap.json"],
             model, "refuse"),
        Case("cli-paths", "map --out /dev/null", "map", ["--model", same, "--out", "/dev/null"], model,
             "refuse"),
        Case("cli-paths", "map --profile model", "map", ["--model", same, "--profile", same], model,
             "refuse"),
        Case("cli-paths", "map --profile /etc/passwd", "map", ["--model", same, "--profile", "/etc/passwd"],
             model, "refuse"),
        Case("cli-paths", "map --activity model", "map", ["--model", same, "--activity", same], model,
             "refuse"),
        Case("cli-paths", "map --model folder", "map", ["--model", "{in}"], model, "refuse"),
        Case("cli-paths", "map --model missing", "map", ["--model", "{in}/nope.net"], model, "refuse"),
        Case("cli-paths", "map --model /dev/zero", "map", ["--model", "/dev/zero"], model, "refuse"),
        Case("cli-paths", "export --out model", "export", ["--model", same, "--to", "nir", "--out", same],
             model, "refuse"),
        Case("cli-paths", "export --out other input", "export",
             ["--model", "{in}/dense.nir", "--to", "netx", "--out", "{in}/dense.nir"], model, "refuse"),
        Case("cli-paths", "export --out folder", "export", ["--model", same, "--to", "nir", "--out", "{out}"],
             model, "refuse"),
        Case("cli-paths", "export --out empty", "export", ["--model", same, "--to", "nir", "--out", ""],
             model, "refuse"),
        Case("cli-paths", "deploy --summary-json model", "deploy",
             ["--model", same, "--summary-json", same, "--out", "{out}"], model, "refuse"),
        Case("cli-paths", "deploy --out model", "deploy", ["--model", same, "--out", same], model, "refuse"),
        Case("cli-paths", "deploy --out holds model", "deploy",
             ["--model", "{in}/dense/dense.net", "--out", "{in}"], {"dense/dense.net": seeds["dense.net"]},
             "refuse"),
        Case("cli-paths", "deploy --summary-json in report folder", "deploy",
             ["--model", same, "--out", "{out}", "--summary-json", "{out}/dense/s.json"], model, "refuse"),
        Case("cli-paths", "deploy --input model", "deploy",
             ["--model", same, "--input", same, "--out", "{out}", "--samples", "1"], model, "refuse",
             exec_=True, fast=False),
        Case("cli-paths", "deploy --out under a file", "deploy",
             ["--model", same, "--out", "{in}/dense.nir/r"], model, "refuse"),
        Case("cli-paths", "train --export folder", "train",
             ["--epochs", "1", "--out", "{out}/runs", "--export", "{out}"], {}, "refuse", exec_=True,
             fast=False),
        Case("cli-paths", "train --out file", "train",
             ["--epochs", "1", "--out", "{in}/dense.net", "--export", "{out}/m.net"], model, "refuse",
             exec_=True, fast=False),
        Case("cli-paths", "prune --out file", "prune", ["--out", "{in}/dense.net"], model, "refuse",
             exec_=True, fast=False),
        Case("cli-paths", "bench --out file", "bench", ["--out", "{in}/dense.net"], model, "refuse",
             exec_=True, fast=False),
    ]
    return cases


class _Exec:
    """A pickle payload: running it creates the marker file."""

    def __init__(self, marker: str, how: str) -> None:
        self.marker, self.how = marker, how

    def __reduce__(self) -> Any:
        if self.how == "os.system":
            return (os.system, (f"touch {self.marker}",))
        if self.how == "eval":
            return (eval, (f"open({self.marker!r}, 'w').close()",))
        return (subprocess.call, (["touch", self.marker],))


def pickle_cases() -> list[Case]:
    cases = []
    good = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]})
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for how in ("os.system", "eval", "subprocess"):
        for where in ("data_batch_1", "test_batch"):
            files: dict[str, Any] = {f"cifar-10-batches-py/{n}": good for n in names}
            files[f"cifar-10-batches-py/{where}"] = lambda p, how=how: p.write_bytes(pickle.dumps(
                {"data": _Exec(os.environ["FUZZ_MARKER"], how), "labels": [1]}))
            cases.append(Case("pickle", f"{how} in {where}", "train",
                              ["--dataset", "cifar10", "--data-dir", "{in}", "--model", "squeezenet_p",
                               "--epochs", "1", "--out", "{out}/runs", "--export", "{out}/m.net"],
                              files, "refuse", exec_=True, fast=False))
    for label, data in (("truncated", good[:50]), ("not a pickle", b"garbage"),
                        ("wrong dict", pickle.dumps({"x": 1})), ("list", pickle.dumps([1, 2]))):
        files = {f"cifar-10-batches-py/{n}": good for n in names}
        files["cifar-10-batches-py/data_batch_2"] = data
        cases.append(Case("pickle", label, "train",
                          ["--dataset", "cifar10", "--data-dir", "{in}", "--model", "squeezenet_p",
                           "--epochs", "1", "--out", "{out}/runs", "--export", "{out}/m.net"],
                          files, "refuse", exec_=True, fast=False))
    return cases


def build_cases(seeds: dict[str, bytes], seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = damage_cases(seeds, rng, 160, 100, 80)
    cases += structure_cases(seeds)
    cases += value_cases({k: v for k, v in seeds.items() if k.endswith(".net")}, ".net", "netx-values")
    cases += netx_semantic_cases(seeds)
    cases += value_cases({k: v for k, v in seeds.items() if k in ("dense.nir", "conv.nir")}, ".nir",
                         "nir-values")
    cases += name_cases(seeds)
    cases += npy_cases(seeds, rng)
    cases += profile_cases(seeds)
    cases += cli_number_cases(seeds)
    cases += cli_path_cases(seeds)
    cases += pickle_cases()
    for c in cases:
        if c.cli not in FAST_CLIS and not (c.cli == "deploy" and not c.exec_):
            c.fast = False
    return cases


# ---------------------------------------------------------------------------------------------
# running and classifying
# ---------------------------------------------------------------------------------------------

@dataclass
class Result:
    case: Case
    outcome: str
    seconds: float
    detail: str = ""


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "link:" + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif p.is_dir():
            out[str(p)] = "dir"
    return out


def _prepare(case: Case, folder: Path) -> tuple[Path, Path]:
    inp, out = folder / "in", folder / "out"
    inp.mkdir(parents=True)
    out.mkdir()
    (out / "keep.txt").write_text("an earlier report\n")
    for name, data in case.files.items():
        path = inp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str) and data.startswith("symlink:"):
            os.symlink(inp / data.split(":", 1)[1], path)
        elif isinstance(data, str) and data.startswith("hardlink:"):
            os.link(inp / data.split(":", 1)[1], path)
        elif callable(data):
            data(path)
        else:
            path.write_bytes(data)
    return inp, out


def _argv(case: Case, inp: Path, out: Path) -> list[str]:
    return [a.replace("{in}", str(inp)).replace("{out}", str(out)) for a in case.argv]


def _limits(mem: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _run_fork(cli: str, argv: list[str], cwd: Path, timeout: float, mem: int) -> tuple[int | None, str]:
    import importlib

    module = importlib.import_module(f"neuromap.{cli}")
    err_path = cwd / ".stderr"
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.setsid()
            _limits(mem)
            os.chdir(cwd)
            fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 2)
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the child's own streams
            sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
            from neuromap.errors import run_cli
            import neuromap.validate as v
            v._limits = None
            code = run_cli(module.main, argv)
            sys.stdout.flush()
            sys.stderr.flush()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            sys.stderr.flush()
            code = 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
            break
        time.sleep(0.005)
    if status is None:
        _kill_group(pid)
        os.waitpid(pid, 0)
        rc = None
    else:
        rc = os.waitstatus_to_exitcode(status)
    err = err_path.read_text(errors="replace") if err_path.exists() else ""
    err_path.unlink(missing_ok=True)
    return rc, err


def _kill_group(pid: int) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        time.sleep(0.5)


def _run_exec(cli: str, argv: list[str], cwd: Path, timeout: float, mem: int) -> tuple[int | None, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", f"neuromap.{cli}", *argv], cwd=cwd, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         errors="replace", start_new_session=True, preexec_fn=lambda: _limits(mem))
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        _kill_group(p.pid)
        _, err = p.communicate()
        return None, err


def _usable(out: Path) -> str | None:
    """None if every output in ``out`` is usable, else what is wrong."""
    from neuromap.export import read_model

    for p in out.rglob("*"):
        if not p.is_file() or p.name == "keep.txt":
            continue
        raw = p.read_bytes()
        if SECRET in raw:
            return "leaked"
        if p.suffix in (".json",):
            try:
                json.loads(raw, parse_constant=_no_constant)
            except ValueError as exc:
                return f"accepted-bad: {p.name} is not strict JSON ({exc})"
        if p.suffix in (".net", ".nir", ".netx"):
            try:
                read_model(p)
            except Exception as exc:  # noqa: BLE001 - anything here means unusable
                return f"accepted-bad: {p.name} does not load back ({str(exc)[:80]})"
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} in JSON")


def run_case(case: Case, work: Path, index: int, mem: int = MEM_LIMIT) -> Result:
    folder = work / "cases" / f"{index:05d}"
    shutil.rmtree(folder, ignore_errors=True)
    inp, out = _prepare(case, folder)
    before_in = _digest(inp)
    before_work = _digest(work / "sentinel")
    argv = _argv(case, inp, out)
    t0 = time.perf_counter()
    if case.exec_:
        rc, err = _run_exec(case.cli, argv, folder, EXEC_TIMEOUT, mem)
    else:
        rc, err = _run_fork(case.cli, argv, folder, FORK_TIMEOUT, mem)
    secs = time.perf_counter() - t0
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    detail = lines[-1][:160] if lines else ""
    # checks that hold whatever the exit status
    if Path(os.environ["FUZZ_MARKER"]).exists() or (folder / "pwned").exists():
        return Result(case, "code-ran", secs, detail)
    if _digest(inp) != before_in:
        return Result(case, "input-changed", secs, detail)
    if _digest(work / "sentinel") != before_work:
        return Result(case, "outside-write", secs, detail)
    stray = [p for p in folder.iterdir() if p.name not in ("in", "out")]
    if stray:
        return Result(case, "outside-write", secs, f"created {stray[0].name}")
    if case.extra_check is not None and rc == 0:
        problem = case.extra_check(out)
        if problem:
            return Result(case, problem, secs, detail)
    if not (out / "keep.txt").exists():
        return Result(case, "outside-write", secs, "an earlier file in --out was deleted")
    hidden = [p for p in out.rglob(".*")]
    if hidden:
        return Result(case, "left-behind", secs, f"left {hidden[0].name}")
    if rc is None:
        return Result(case, "hang", secs, detail)
    if "Traceback" in err:
        return Result(case, "traceback", secs, detail)
    if rc == 2:
        if len(lines) == 1 and lines[0].startswith("error: "):
            made = [p for p in out.rglob("*") if p.name != "keep.txt"]
            if made:
                return Result(case, "left-behind", secs, f"left {made[0].name} after refusing")
            return Result(case, "refused", secs, detail)
        return Result(case, "multi-line", secs, " | ".join(lines)[:160])
    if rc == 0:
        problem = _usable(out)
        if problem:
            kind = problem.split(":")[0]
            return Result(case, kind, secs, problem)
        if case.expect == "refuse":
            return Result(case, "accepted-bad", secs, "exit 0 on an input that must be refused")
        return Result(case, "ok", secs, detail)
    return Result(case, "crash", secs, f"exit {rc}: {detail}")


def setup_work(work: Path) -> None:
    (work / "sentinel").mkdir(parents=True, exist_ok=True)
    secret = work / "sentinel" / "secret.bin"
    secret.write_bytes(SECRET * 64)
    with h5py.File(work / "sentinel" / "secret.h5", "w") as f:
        f.create_dataset("data", data=np.frombuffer(SECRET * 64, dtype="<f8"))
    os.environ["FUZZ_SECRET"] = str(secret)
    os.environ["FUZZ_SECRET_H5"] = str(work / "sentinel" / "secret.h5")
    os.environ["FUZZ_MARKER"] = str(work / "pwned")


def table(results: list[Result]) -> str:
    cats = sorted({r.case.category for r in results})
    cols = [o for o in OUTCOMES]
    head = f"{'category':<14} {'cases':>5} " + " ".join(f"{c:>{max(len(c), 5)}}" for c in cols)
    lines = [head, "-" * len(head)]
    for cat in cats + ["total"]:
        rs = [r for r in results if cat == "total" or r.case.category == cat]
        counts = {c: sum(r.outcome == c for r in rs) for c in cols}
        lines.append(f"{cat:<14} {len(rs):>5} " + " ".join(f"{counts[c]:>{max(len(c), 5)}}" for c in cols))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fast", action="store_true", help="only cases that need no simulator")
    p.add_argument("--seed", type=int, default=0, help="seed of the random mutations (default 0)")
    p.add_argument("--only", nargs="*", help="categories to run")
    p.add_argument("--limit", type=int, default=0, help="run at most N cases (every k-th)")
    p.add_argument("--work", type=Path, help="work folder (default: a temp folder, removed)")
    p.add_argument("--json", type=Path, help="write every case's outcome here")
    p.add_argument("--show", type=int, default=5, help="failing cases listed per outcome (default 5)")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="neuromap-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    setup_work(work)
    log = open(work / "progress.jsonl", "w")  # noqa: SIM115 - one line per case as it finishes
    try:
        results = run_all(work, args.seed, args.fast, args.only, args.limit, log)
    finally:
        log.close()
    print(table(results))
    bad = [r for r in results if r.outcome not in ("refused", "ok")]
    for outcome in OUTCOMES[2:]:
        some = [r for r in bad if r.outcome == outcome][:args.show]
        for r in some:
            print(f"{outcome}: [{r.case.category}] {r.case.cli} {r.case.name}: {r.detail}")
    if args.json:
        args.json.write_text(json.dumps([{"category": r.case.category, "case": r.case.name,
                                          "cli": r.case.cli, "outcome": r.outcome,
                                          "seconds": round(r.seconds, 2), "detail": r.detail}
                                         for r in results], indent=1) + "\n")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


def run_all(work: Path, seed: int = 0, fast: bool = False, only: list[str] | None = None,
            limit: int = 0, progress: Any = None) -> list[Result]:
    seeds = make_seeds(work / "seeds")
    cases = build_cases(seeds, seed)
    if fast:
        cases = [c for c in cases if c.fast]
    if only:
        cases = [c for c in cases if c.category in only]
    if limit and len(cases) > limit:
        step = len(cases) / limit
        cases = [cases[int(i * step)] for i in range(limit)]
    results = []
    for i, case in enumerate(cases):
        results.append(run_case(case, work, i))
        shutil.rmtree(work / "cases" / f"{i:05d}", ignore_errors=True)
        if progress is not None:
            r = results[-1]
            progress.write(json.dumps({"i": i, "category": case.category, "cli": case.cli,
                                       "case": case.name, "outcome": r.outcome,
                                       "seconds": round(r.seconds, 2), "detail": r.detail}) + "\n")
            progress.flush()
    return results


if __name__ == "__main__":
    raise SystemExit(main())
