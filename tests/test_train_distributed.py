"""Data-parallel training (neuromap.distributed, gloo on CPU): two ranks train as one process does,
only rank 0 writes, a run killed by a signal resumes exactly, and --resume refuses what it cannot
continue. Ranks are forked processes running `neuromap.train.main` with torchrun's environment
(RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); the kill goes to a real `torchrun` process group."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

import neuromap.train as train
from neuromap.errors import run_cli
from neuromap.models.checkpoint import safe_torch_load
from neuromap.netx.export import read_metadata

from helpers import h5_datasets

REPO = Path(__file__).resolve().parents[1]
#: Two gloo ranks against one process, after 2 epochs (6 steps) on 96 digits: the gradient sums are
#: added in another order, nothing else differs (measured: at most 3.0e-8 SNN, 6.0e-8 CNN).
WEIGHT_ATOL = 1e-5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: digitnet with the zoo's data-driven SNN init (calibration, surrogate balancing): rank 0 computes it
INIT = ["--recipe", 'calibration={"target_rate": 0.1, "samples": 32}',
        "--recipe", 'surrogate_balance={"samples": 32, "iters": 1}']


def _argv(root: Path, *extra: str) -> list[str]:
    return ["--out", str(root / "runs"), "--export", str(root / "t.net"), "--name", "t", "--epochs", "2",
            "--timesteps", "8", "--train-samples", "96", "--test-samples", "40", "--no-progress", "--device", "cpu",
            *INIT, *extra]


def _rank(rank: int, world: int, port: int, argv: list[str], audit: str | None) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    writes: list[list[Any]] = []
    if audit is not None:  # record every write-like call this rank makes under the run's root
        root = str(Path(argv[argv.index("--out") + 1]).parent)

        def hook(event: str, args: tuple[Any, ...]) -> None:
            if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
                mode, flags = args[1] if len(args) > 1 else None, args[2] if len(args) > 2 else 0
                writing = any(c in (mode or "") for c in "wax+") or bool(
                    (flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
                if writing and os.fsdecode(args[0]).startswith(root):
                    writes.append([event, os.fsdecode(args[0])])
            elif event in ("os.mkdir", "os.rename", "os.remove", "shutil.rmtree") and args \
                    and isinstance(args[0], (str, bytes, os.PathLike)) and os.fsdecode(args[0]).startswith(root):
                writes.append([event, os.fsdecode(args[0])])

        sys.addaudithook(hook)
    try:
        code = run_cli(train.main, argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    if audit is not None:
        Path(audit).write_text(json.dumps(writes))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _two_ranks(argv: list[str], audit: Path | None = None) -> list[int]:
    """Run `neuromap.train.main(argv)` as ranks 0 and 1 of a gloo group; their exit codes."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")  # the children reuse this process's imports: seconds, not minutes
    port = _free_port()
    procs = [ctx.Process(target=_rank, args=(r, 2, port, argv, str(audit) if audit and r == 1 else None))
             for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    for p in procs:
        if p.is_alive():
            p.kill()
    return [p.exitcode for p in procs]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted two-rank run (both twins, 2 epochs); rank 1's writes audited into audit.json."""
    root = tmp_path_factory.mktemp("straight")
    assert _two_ranks(_argv(root), audit=root.parent / f"{root.name}-audit.json") == [0, 0]
    return root


def test_two_ranks_train_as_one_process_and_only_rank_0_writes(straight: Path, tmp_path: Path) -> None:
    assert train.main(_argv(tmp_path)) == 0  # one process, the same global batch
    for kind in ("snn", "cnn"):
        one = safe_torch_load(tmp_path / "runs" / "t" / f"{kind}.pt")
        two = safe_torch_load(straight / "runs" / "t" / f"{kind}.pt")
        assert one.keys() == two.keys() and len(one) > 4
        for key in one:
            assert one[key].dtype == two[key].dtype
            torch.testing.assert_close(two[key], one[key], atol=WEIGHT_ATOL, rtol=0, msg=key)
    m1 = json.loads((tmp_path / "runs" / "t" / "metrics.json").read_text())
    m2 = json.loads((straight / "runs" / "t" / "metrics.json").read_text())
    assert m2["snn"]["calibration"] == m1["snn"]["calibration"] and len(m1["snn"]["calibration"]) == 4
    assert m2["snn"]["surrogate"] == m1["snn"]["surrogate"]  # the init, done once on rank 0, as one process does it
    config = json.loads((straight / "runs" / "t" / "config.json").read_text())
    assert config["world_size"] == 2 and config["device"] == "cpu" and config["amp"] is False
    assert json.loads((tmp_path / "runs" / "t" / "config.json").read_text())["world_size"] == 1
    ckpt = safe_torch_load(straight / "runs" / "t" / "checkpoint" / "snn.pt")
    assert ckpt["world_size"] == 2 and len(ckpt["rng"]) == 2 and ckpt["epoch"] == 2
    assert not torch.equal(ckpt["rng"][0]["torch"], ckpt["rng"][1]["torch"])  # each rank its own streams
    audit = json.loads((straight.parent / f"{straight.name}-audit.json").read_text())
    assert audit == []  # rank 1 opened nothing for writing, made no folder, renamed nothing
    # rank 0 wrote the whole run, the per-epoch CSV and TensorBoard events included
    run = straight / "runs" / "t"
    rows = (run / "metrics.csv").read_text().splitlines()
    assert rows[0] == "twin,epoch,lr,train_loss,train_accuracy,test_accuracy" and len(rows) == 5
    assert [r.split(",")[:2] for r in rows[1:]] == [["snn", "1"], ["snn", "2"], ["cnn", "1"], ["cnn", "2"]]
    assert len(list((run / "tensorboard" / "snn").glob("events.out.tfevents.*"))) == 1
    assert (straight / "t.net").is_file()


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {tag: [(e.step, round(e.value, 5)) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_killed_two_rank_run_resumes_exactly(straight: Path, tmp_path: Path) -> None:
    argv = _argv(tmp_path)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), "-m", "neuromap.train", *argv]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    ckpt = tmp_path / "runs" / "t" / "checkpoint" / "snn.pt"
    deadline = time.monotonic() + 300
    try:
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks, mid-run
        except ProcessLookupError:  # it had already ended: the assertions below say how
            pass
    finally:
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
    proc.stderr.close()  # type: ignore[union-attr]
    assert ckpt.is_file() and not (tmp_path / "runs" / "t" / "metrics.json").exists()  # killed after an epoch

    assert _two_ranks(argv + ["--resume"]) == [0, 0]
    a, b = straight / "runs" / "t", tmp_path / "runs" / "t"
    ma, mb = json.loads((a / "metrics.json").read_text()), json.loads((b / "metrics.json").read_text())
    for kind in ("snn", "cnn"):
        for key in ("test_accuracy", "test_macro_f1", "history"):
            assert ma[kind][key] == mb[kind][key], (kind, key)
        wa, wb = safe_torch_load(a / f"{kind}.pt"), safe_torch_load(b / f"{kind}.pt")
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
        assert _scalars(a / "tensorboard" / kind) == _scalars(b / "tensorboard" / kind)
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()
    da, db = h5_datasets(straight / "t.net"), h5_datasets(tmp_path / "t.net")
    assert da.keys() == db.keys() and any(k.endswith("weight") for k in da)
    assert all(da[k] == db[k] for k in da if "metadata" not in k)
    meta_a, meta_b = read_metadata(straight / "t.net"), read_metadata(tmp_path / "t.net")
    assert {k: v for k, v in meta_a.items() if k != "run_dir"} == {k: v for k, v in meta_b.items() if k != "run_dir"}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_refuses_missing_corrupt_and_mismatched_checkpoints(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    argv = _argv(tmp_path, "--epochs", "1")

    def refused(extra: list[str], needle: str) -> None:
        before = _snapshot(tmp_path)
        assert run_cli(train.main, argv + ["--resume", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err
        assert _snapshot(tmp_path) == before  # the checkpoint untouched, nothing written

    refused([], "there is no checkpoint")
    assert not (tmp_path / "runs").exists()
    assert run_cli(train.main, argv) == 0
    ckpt = tmp_path / "runs" / "t" / "checkpoint"
    capsys.readouterr()
    cfg = json.loads((ckpt / "config.json").read_text())

    (ckpt / "config.json").write_text(json.dumps({**cfg, "world_size": 2}))
    refused([], "world_size: 2 -> 1")
    (ckpt / "config.json").write_text(json.dumps({**cfg, "model": "squeezenet_p"}))
    refused([], "model: 'squeezenet_p' -> 'digitnet'")
    (ckpt / "config.json").write_text("{not json")
    refused([], "config.json is corrupt")
    (ckpt / "config.json").write_text(json.dumps(cfg))

    good = (ckpt / "cnn.pt").read_bytes()
    (ckpt / "cnn.pt").write_bytes(good[: len(good) // 2])  # a truncated write
    refused([], "cnn.pt could not be loaded")
    (ckpt / "cnn.pt").write_bytes((ckpt / "snn.pt").read_bytes())  # another model's weights
    refused([], "does not hold this config's digitnet cnn weights")
    state = safe_torch_load(ckpt / "snn.pt")
    torch.save({**state, "world_size": 2}, ckpt / "cnn.pt")
    refused([], "written by 2 process(es), this run has 1")
    (ckpt / "cnn.pt").write_bytes(good)
    refused(["--recipe", "surrogate_width=0.3"], "recipe")
    assert run_cli(train.main, argv + ["--resume"]) == 0  # the intact checkpoint still resumes


def test_two_ranks_refuse_a_one_process_checkpoint(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    argv = _argv(tmp_path, "--epochs", "1", "--kind", "cnn")
    assert run_cli(train.main, argv) == 0
    capfd.readouterr()
    before = _snapshot(tmp_path)
    assert _two_ranks(argv + ["--resume"]) == [2, 2]
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot --resume") and "world_size: 1 -> 2" in err[0], err
    assert _snapshot(tmp_path) == before


def test_amp_needs_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(train.main, _argv(tmp_path, "--amp")) == 2
    assert "--amp (float16 autocast) needs a CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("cli", ["bench", "prune"])
def test_bench_and_prune_refuse_to_run_as_ranks(cli: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import importlib

    module = importlib.import_module(f"neuromap.{cli}")
    monkeypatch.setenv("WORLD_SIZE", "2")
    argv = ["--out", str(tmp_path / "out")]
    assert run_cli(module.main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"neuromap.{cli} runs in one process, not under torchrun (WORLD_SIZE=2)" in err
    assert not list(tmp_path.iterdir())
