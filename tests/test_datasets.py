"""Dataset readers on tiny files written in the published on-disk formats (never downloads)."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import neuromap.train as train
from neuromap.data.datasets import load_dataset
from neuromap.errors import NeuromapError, run_cli


def _cifar10(root: Path, per_batch: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """cifar-10-batches-py: data_batch_1..5, test_batch (dicts of 'data' (N, 3072) uint8 rows in
    R, G, B planes and 'labels'), batches.meta ('label_names'); pickled as the python version is."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    first = None
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        with open(folder / name, "wb") as fh:
            pickle.dump({"batch_label": name, "data": data, "labels": labels, "filenames": []}, fh)
        if first is None:
            first = (data, np.array(labels))
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)], "num_vis": 3072}, fh)
    return first


def test_cifar10_reader_matches_the_pickled_rows(tmp_path: Path) -> None:
    data, labels = _cifar10(tmp_path)
    split = load_dataset("cifar10", tmp_path)
    assert split.x_train.shape == (20, 3, 32, 32) and split.x_test.shape == (4, 3, 32, 32)
    assert split.x_train.dtype == np.uint8 and split.max_level == 255 and split.num_classes == 10
    # a row is 1024 R values, then G, then B, each row-major over (32, 32)
    assert np.array_equal(split.x_train[0], data[0].reshape(3, 32, 32))
    assert np.array_equal(split.y_train[:4], labels)


def test_cifar100_reader(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name, n in (("train", 6), ("test", 3)):
        with open(folder / name, "wb") as fh:
            pickle.dump({"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "fine_labels": [int(v) for v in rng.integers(0, 100, n)],
                         "coarse_labels": [0] * n}, fh)
    with open(folder / "meta", "wb") as fh:
        pickle.dump({"fine_label_names": [f"f{i}" for i in range(100)], "coarse_label_names": []}, fh)
    split = load_dataset("cifar100", tmp_path)
    assert split.x_train.shape == (6, 3, 32, 32) and split.num_classes == 100 and len(split.y_test) == 3


def _tinyimagenet(root: Path) -> None:
    from PIL import Image

    base = root / "tiny-imagenet-200"
    wnids = ["n01443537", "n01629819"]
    (base / "val" / "images").mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids) + "\n")
    for k, wnid in enumerate(wnids):
        img_dir = base / "train" / wnid / "images"
        img_dir.mkdir(parents=True)
        (base / "train" / wnid / f"{wnid}_boxes.txt").write_text("")
        for i in range(2):
            Image.new("RGB", (64, 64), (200 * k, 10 * i, 50)).save(img_dir / f"{wnid}_{i}.JPEG", "JPEG")
    lines = []
    for i, wnid in enumerate([wnids[1], wnids[0], wnids[1]]):
        Image.new("L", (64, 64), 128).save(base / "val" / "images" / f"val_{i}.JPEG", "JPEG")  # greyscale too
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")


def test_tinyimagenet_reader(tmp_path: Path) -> None:
    _tinyimagenet(tmp_path)
    split = load_dataset("tinyimagenet", tmp_path)
    assert split.x_train.shape == (4, 3, 64, 64) and split.x_test.shape == (3, 3, 64, 64)
    assert split.num_classes == 2 and list(split.y_train) == [0, 0, 1, 1] and list(split.y_test) == [1, 0, 1]
    assert abs(int(split.x_train[2, 0].mean()) - 200) <= 3  # red channel of class 1
    assert load_dataset("tinyimagenet", tmp_path / "tiny-imagenet-200").x_train.shape[0] == 4


@pytest.mark.parametrize("name,where", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python"),
                                        ("tinyimagenet", "tiny-imagenet-200")])
def test_missing_data_says_where_to_put_it(tmp_path: Path, name: str, where: str) -> None:
    with pytest.raises(NeuromapError, match=where) as info:
        load_dataset(name, tmp_path)
    assert "\n" not in str(info.value)


def test_train_cli_on_tiny_cifar_and_missing_data(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _cifar10(tmp_path / "data", per_batch=4)
    code = run_cli(train.main, ["--model", "squeezenet_p", "--dataset", "cifar10", "--data-dir", str(tmp_path / "data"),
                                "--kind", "cnn", "--epochs", "1", "--batch-size", "8", "--no-progress",
                                "--out", str(tmp_path / "runs"), "--name", "c"])
    assert code == 0
    assert (tmp_path / "runs" / "c" / "cnn.pt").is_file()
    code = run_cli(train.main, ["--model", "squeezenet_p", "--dataset", "cifar100", "--data-dir", str(tmp_path / "none"),
                                "--kind", "cnn", "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("error: cifar100 not found") and "cifar-100-python" in err[-1]


def test_train_cli_exports_a_graph_model(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from neuromap.data.digits import DigitsSplit, load_digits_split

    full = load_digits_split()
    monkeypatch.setattr(train, "load_digits_split",
                        lambda seed=0, test_fraction=0.25: DigitsSplit(full.x_train[:34], full.y_train[:34],
                                                                       full.x_test[:8], full.y_test[:8]))
    code = run_cli(train.main, ["--model", "shufflenetv2", "--kind", "snn", "--epochs", "1", "--timesteps", "30", "--no-progress",
                                "--out", str(tmp_path / "runs"), "--name", "s", "--export", str(tmp_path / "s.net")])
    assert code == 0
    assert (tmp_path / "s.net").is_file() and (tmp_path / "runs" / "s" / "snn.pt").is_file()
    from neuromap.netx.load import load_netx

    graph = load_netx(tmp_path / "s.net")
    assert any(len(graph.in_edges(lay.name)) > 1 for lay in graph.layers)  # a graph, with joins
