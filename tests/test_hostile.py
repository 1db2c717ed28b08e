"""Hostile and broken inputs: outputs never clobber inputs, HDF5/NIR files cannot reach outside
themselves or exhaust the loader, one validation pass for every graph, no code run from pickles,
no NaN accepted or written, and the small CLI manners (banner, broken pipe, --help defaults)."""
from __future__ import annotations

import json
import os
import pickle
import stat
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from neuromap import deploy, export
from neuromap import map as map_cli
from neuromap.errors import NeuromapError, run_cli
from neuromap.graph import Edge, Layer, NetworkGraph, Neuron
from neuromap.netx.load import load_netx
from neuromap.netx.write import write_netx
from neuromap.outputs import atomic_path, check_file, file_mode, safe_name, write_json
from neuromap.validate import set_limits, validate

from helpers import CUBA, dense_graph, small_conv_net

ROOT = Path(__file__).resolve().parents[1]


def _one_line(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture()
def net(tmp_path: Path) -> Path:
    return small_conv_net(tmp_path / "m.net")


# -- outputs ----------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--out", "--summary-json"])
def test_map_refuses_to_overwrite_its_model(capsys, net: Path, flag: str) -> None:
    before = net.read_bytes()
    line = _one_line(capsys, run_cli(map_cli.main, ["--model", str(net), flag, str(net)]))
    assert "input file" in line and net.read_bytes() == before


def test_export_and_deploy_refuse_outputs_that_are_inputs(capsys, net: Path, tmp_path: Path) -> None:
    before = net.read_bytes()
    link = tmp_path / "alias.net"
    os.symlink(net, link)
    assert "input file" in _one_line(capsys, run_cli(export.main, ["--model", str(net), "--to", "nir",
                                                                   "--out", str(link)]))
    t0 = time.perf_counter()
    line = _one_line(capsys, run_cli(deploy.main, ["--model", str(net), "--summary-json", str(net),
                                                   "--out", str(tmp_path / "r")]))
    assert "input file" in line and time.perf_counter() - t0 < 5  # refused before any simulation
    assert net.read_bytes() == before and not (tmp_path / "r").exists()


def test_deploy_refuses_a_report_folder_that_holds_its_model(capsys, tmp_path: Path) -> None:
    (tmp_path / "reports" / "m").mkdir(parents=True)
    model = small_conv_net(tmp_path / "reports" / "m" / "m.net")
    line = _one_line(capsys, run_cli(deploy.main, ["--model", str(model), "--out",
                                                   str(tmp_path / "reports")]))
    assert "would delete" in line and model.is_file()


def test_report_folder_names_are_made_safe() -> None:
    assert safe_name(Path("..net").stem) == "model"
    assert safe_name(".") == "model" and safe_name("..") == "model"
    assert safe_name("a/b\\c") == "a_b_c" and safe_name(".hidden") == "hidden"
    assert safe_name("x" * 500) == "x" * 100 and safe_name("ok-name_1.2") == "ok-name_1.2"


def test_output_checks(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NeuromapError, match="is a folder"):
        check_file(tmp_path, "--out")
    with pytest.raises(NeuromapError, match="not a folder"):
        check_file(tmp_path / "file" / "out.json", "--out")
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    if os.geteuid() != 0:
        with pytest.raises(NeuromapError, match="not writable"):
            check_file(ro / "out.json", "--out")
    assert check_file(tmp_path / "new" / "deeper" / "x.json", "--out") is not None
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_atomic_write_mode_and_cleanup(tmp_path: Path) -> None:
    p = write_json(tmp_path / "a.json", {"x": 1})
    assert stat.S_IMODE(p.stat().st_mode) == file_mode() == 0o644 & ~_umask()
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "made" / "sub" / "b.json") as tmp:
            tmp.write_text("partial")
            raise RuntimeError("killed halfway")
    assert not (tmp_path / "made").exists() and sorted(os.listdir(tmp_path)) == ["a.json"]


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_json_never_holds_nan(tmp_path: Path) -> None:
    with pytest.raises(NeuromapError, match=r"energy\.total"):
        write_json(tmp_path / "r.json", {"energy": {"total": float("nan")}})
    assert not list(tmp_path.iterdir())


# -- HDF5 structure ---------------------------------------------------------------------------

def _copy_with(net: Path, tmp_path: Path, edit) -> Path:
    out = tmp_path / "edited.net"
    out.write_bytes(net.read_bytes())
    with h5py.File(out, "r+") as f:
        edit(f)
    return out


def test_external_storage_and_virtual_datasets_are_refused(capsys, net: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(72, dtype=np.float64).tobytes())

    def external(f):
        del f["layer/1/weight"]
        f["layer/1"].create_dataset("weight", shape=(4, 2, 3, 3), dtype="f8",
                                    external=[(str(secret), 0, 72 * 8)])

    def virtual(f):
        layout = h5py.VirtualLayout(shape=(4, 2, 3, 3), dtype="f8")
        layout[:] = h5py.VirtualSource(str(secret), "w", shape=(4, 2, 3, 3))
        del f["layer/1/weight"]
        f["layer/1"].create_virtual_dataset("weight", layout)

    for edit, word in ((external, "external storage"), (virtual, "virtual dataset")):
        bad = _copy_with(net, tmp_path, edit)
        for cli, argv in ((map_cli.main, ["--model", str(bad)]),
                          (export.main, ["--model", str(bad), "--to", "nir", "--out",
                                         str(tmp_path / "x.nir")])):
            assert word in _one_line(capsys, run_cli(cli, argv))
        assert not (tmp_path / "x.nir").exists()


def test_links_hard_link_bombs_and_deep_nesting_are_refused_fast(net: Path, tmp_path: Path) -> None:
    soft = _copy_with(net, tmp_path, lambda f: f.__setitem__("layer/1/bias", h5py.SoftLink("/layer/1/weight")))
    with pytest.raises(NeuromapError, match="links"):
        load_netx(soft)
    bomb = tmp_path / "bomb.net"
    with h5py.File(bomb, "w") as f:
        g = f.create_group("layer")
        shared = f.create_group("shared")
        for i in range(5000):
            g[str(i)] = shared  # 5,000 names for one group
    t0 = time.perf_counter()
    with pytest.raises(NeuromapError, match="more than one path"):
        load_netx(bomb)
    deep = tmp_path / "deep.net"
    with h5py.File(deep, "w") as f:
        g = f.create_group("layer")
        for _ in range(2000):
            g = g.create_group("a")
    with pytest.raises(NeuromapError, match="deeper than"):
        load_netx(deep)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("damage", ["zeros", "bits", "truncate"])
def test_corrupt_files_get_one_line(capsys, net: Path, tmp_path: Path, damage: str) -> None:
    raw = bytearray(net.read_bytes())
    rng = np.random.default_rng(3)
    if damage == "zeros":
        raw[800:1800] = bytes(1000)
    elif damage == "bits":
        for pos in rng.integers(0, len(raw), 40):
            raw[pos] ^= 1 << int(rng.integers(0, 8))
    else:
        raw = raw[: len(raw) // 2]
    bad = tmp_path / "bad.net"
    bad.write_bytes(bytes(raw))
    for cli, argv in ((map_cli.main, ["--model", str(bad)]),
                      (export.main, ["--model", str(bad), "--to", "nir", "--out", str(tmp_path / "o.nir")])):
        code = run_cli(cli, argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert code in (0, 2) and "Traceback" not in "\n".join(err)
        if code == 2:
            assert len(err) == 1 and err[0].startswith("error: ")


def test_size_guard_refuses_a_huge_padding_before_allocating(capsys, tmp_path: Path) -> None:
    from helpers import write_net
    neuron = {"neuron/type": "CUBA", "neuron/vThMant": 40, "neuron/iDecay": 1024, "neuron/vDecay": 256}
    bad = write_net(tmp_path / "pad.net", [
        {"type": "input", "shape": np.array([2, 6, 6])},
        {"type": "conv", "shape": np.array([8, 3004, 3004]), "weight": np.ones((8, 2, 3, 3)),
         "padding": np.array([1500, 1500]), **neuron}])
    line = _one_line(capsys, run_cli(map_cli.main, ["--model", str(bad)]))
    assert "72,192,128 neurons exceed the limit of 4,000,000" in line
    assert "--max-neurons" in line


# -- one validation pass ----------------------------------------------------------------------

BAD_PARAMS = [("vThMant", float("nan")), ("vThMant", float("inf")), ("vThMant", 80.5),
              ("vThMant", "80"), ("vThMant", [80, 81]), ("iDecay", 5000), ("vDecay", -1),
              ("iDecay", 1024.0)]


@pytest.mark.parametrize("key,value", BAD_PARAMS)
def test_neuron_parameters_lava_cannot_run_are_refused(key, value) -> None:
    g = dense_graph(np.ones((3, 4)))
    params = {**CUBA.params, key: value}
    bad = NetworkGraph(g.name, (g.layers[0], Layer("dense1", "dense", (3,), Neuron("CUBA", params))),
                       g.edges)
    with pytest.raises(NeuromapError, match=key):
        validate(bad)


def test_unknown_type_missing_parameter_huge_weight_and_bad_edges() -> None:
    g = dense_graph(np.ones((3, 4)))
    inp = g.layers[0]
    cases = {
        "not supported": (Layer("dense1", "dense", (3,), Neuron("IZH", {})), g.edges),
        "lacks vThMant": (Layer("dense1", "dense", (3,), Neuron("CUBA", {"iDecay": 0, "vDecay": 0})),
                          g.edges),
        "beyond": (g.layers[1], (Edge("input0", "dense1", "dense", np.full((3, 4), 1e30)),)),
        "finite": (g.layers[1], (Edge("input0", "dense1", "dense", np.full((3, 4), np.nan)),)),
        "must be": (g.layers[1], (Edge("input0", "dense1", "dense", np.ones((4, 3))),)),
        "does not exist": (g.layers[1], (Edge("input0", "nope", "dense", np.ones((3, 4))),)),
    }
    for word, (layer, edges) in cases.items():
        with pytest.raises(NeuromapError, match=word):
            validate(NetworkGraph(g.name, (inp, layer), edges))
    assert validate(g) is g


def test_netx_and_nir_refuse_the_same_graph(tmp_path: Path, capsys) -> None:
    """Weights of 1e30 (which Lava would wrap to INT32_MIN): refused from NetX and NIR alike."""
    from neuromap.interop.nir import write_nir
    good = dense_graph(np.arange(12.0).reshape(3, 4))
    write_nir(good, tmp_path / "g.nir")
    write_netx(good, tmp_path / "g.net")
    for path in (tmp_path / "g.net", tmp_path / "g.nir"):
        with h5py.File(path, "r+") as f:
            hits = []
            f.visititems(lambda n, o: hits.append(n) if isinstance(o, h5py.Dataset)
                         and n.endswith("weight") else None)
            f[hits[0]][...] = 1e30
        to = "netx" if path.suffix == ".nir" else "nir"
        for cli, argv in ((export.main, ["--to", to, "--out", str(tmp_path / "o")]), (map_cli.main, [])):
            if cli is map_cli.main and path.suffix == ".nir":
                continue  # map reads NetX only
            line = _one_line(capsys, run_cli(cli, ["--model", str(path), *argv]))
            assert "reaches 1e+30, beyond the +-8388608" in line
    assert not (tmp_path / "o").exists()


def test_size_guard_can_be_raised(tmp_path: Path) -> None:
    big = dense_graph(np.ones((3, 4)))
    try:
        set_limits(max_neurons=5)
        with pytest.raises(NeuromapError, match="--max-neurons"):
            validate(big)
        set_limits(max_neurons=7)
        assert validate(big) is big
    finally:
        import neuromap.validate as v
        v._limits = None


# -- pickles ----------------------------------------------------------------------------------

class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_cifar_batch_runs_nothing(tmp_path: Path) -> None:
    from neuromap.data.cifar import load_cifar
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    good = {"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(good))
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": _Payload(marker), "labels": [1]}))
    with pytest.raises(NeuromapError, match="os.system|posix.system") as info:
        load_cifar("cifar10", tmp_path)
    assert not marker.exists() and "\n" not in str(info.value)
    (folder / "data_batch_3").write_bytes(pickle.dumps(good))
    assert load_cifar("cifar10", tmp_path).x_train.shape == (10, 3, 32, 32) and not marker.exists()


# -- bad numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [np.nan, np.inf, 1e30])
def test_deploy_input_with_bad_numbers_is_refused(tmp_path: Path, value: float) -> None:
    from neuromap.deploy import choose_inputs
    g = dense_graph(np.ones((3, 4)))
    x = np.zeros((2, 4, 5))
    x[1, 2, 3] = value
    np.save(tmp_path / "x.npy", x)
    with pytest.raises(NeuromapError, match="NaN, inf"):
        choose_inputs(g, 2, tmp_path / "x.npy", None, 0)


@pytest.mark.parametrize("edit", ["energy_nan", "time_inf", "mesh_zero"])
def test_profiles_with_bad_numbers_are_refused(tmp_path: Path, edit: str) -> None:
    import yaml

    from neuromap.hw.profile import PROFILE_DIR, load_profile
    raw = yaml.safe_load((PROFILE_DIR / "loihi2.yaml").read_text())
    if edit == "energy_nan":
        raw["energy_pj"]["synop"] = float("nan")
    elif edit == "time_inf":
        raw["time_ns"]["synop"] = float("inf")
    else:
        raw["chip"]["mesh_tiles"] = [0, 4]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(NeuromapError, match="hardware profile"):
        load_profile(tmp_path / "p.yaml")


@pytest.mark.parametrize("argv", [["--samples", "nan"], ["--samples", "0"], ["--steps", "-3"],
                                  ["--seed", "1e99"], ["--max-neurons", "0"]])
def test_bad_cli_numbers_are_one_line(capsys, net: Path, argv: list[str]) -> None:
    _one_line(capsys, run_cli(deploy.main, ["--model", str(net), *argv]))


# -- CLI manners ------------------------------------------------------------------------------

def test_cuda_banner_is_dropped_and_errors_still_shown(capsys) -> None:
    def main(argv):
        print("No CUDA runtime is found, using CUDA_HOME='/usr/local/cuda'", file=sys.stderr)
        print("note: kept", file=sys.stderr)
        raise NeuromapError("boom")

    assert run_cli(main, []) == 2
    err = capsys.readouterr().err
    assert "CUDA" not in err and "note: kept" in err and "error: boom" in err


def test_map_into_a_closed_pipe_ends_without_traceback(net: Path) -> None:
    cmd = (f"{sys.executable} -m neuromap.map --model {net} --strategy layerwise | head -c 10 "
           f">/dev/null")
    p = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=ROOT, capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


@pytest.mark.parametrize("cli", [map_cli, export, deploy])
def test_help_shows_defaults(capsys, cli) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "max-neurons" in out and "(default: 4,000,000)" in " ".join(out.split())
    if cli is not export:
        assert "(default: loihi2)" in " ".join(out.split())


def test_written_reports_are_strict_json(tmp_path: Path) -> None:
    from neuromap.report.writer import write_report
    report = deploy.deploy(small_conv_net(tmp_path / "m.net"), samples=1, verify=0)
    folder = write_report({**report, "v": 1.0}, tmp_path / "x")
    assert json.loads((folder / "report.json").read_text())["v"] == 1.0
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {file_mode()}
    with pytest.raises(NeuromapError, match="NaN or inf"):
        write_report({**report, "v": float("nan")}, tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_an_empty_input_file_and_a_wrapped_multiline_message_are_one_line(tmp_path: Path, capsys) -> None:
    from neuromap.deploy import choose_inputs
    (tmp_path / "x.npy").write_bytes(b"")
    with pytest.raises(NeuromapError, match="not a plain .npy"):
        choose_inputs(dense_graph(np.ones((3, 4))), 1, tmp_path / "x.npy", None, 0)
    (tmp_path / "p.yaml").write_text("{[}")
    line = _one_line(capsys, run_cli(map_cli.main, ["--model", str(small_conv_net(tmp_path / "m.net")),
                                                    "--profile", str(tmp_path / "p.yaml")]))
    assert "malformed" in line
