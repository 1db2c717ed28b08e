"""``python -m neuromap.deploy --target sim``: load a NetX or NIR model into the IR, map it onto
simulated Loihi cores, run the whole test set through the fast bit-exact engine (a subset through
the Lava CPU simulator to prove it exact), account per-core events, estimate energy and latency,
and write ``hw_reports/<name>/report.{json,md}``.

Each stage is a plain function (``deploy(...)`` chains them); this module only parses
arguments, picks inputs and writes files."""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .cost import account, estimate_cost
from .cost.measure import measure_fast, output_counts
from .data.digits import load_digits_split
from .data.encode import rate_encode
from .errors import CliParser, NeuromapError, int_in, run_cli
from .graph import NetworkGraph
from .hw.profile import available_profiles, load_profile, profile_path
from .interop.model_file import add_nir_options, read_model
from .mapper import STRATEGIES, map_network
from .mapper.mapping import mapping_from_dict
from .mapper.resources import neuron_core_usage
from .outputs import check_file, check_folder, safe_name
from .sim.activity import depths
from .report import build_report, known_error_text, summary_of, write_json_atomic, write_report
from .provenance import file_sha256, versions
from .twin import cnn_twin
from .validate import WEIGHT_LIMIT, add_limit_options, set_limits

#: largest --mapping file read (a mapping lists one core number per neuron)
MAX_MAPPING_BYTES = 512 << 20

INPUT_HELP = """\
--input X.npy layout (NumPy .npy, no pickles): the input layer's shape in NetX order
(x, y, c) = (width, height, channels), or (n,) for a flat input, with samples first:
  (N, x, y, c, T)  per-step input: 0/1 spikes (or integer currents into the neurons of a
                   NetX input layer), T steps per sample;
  (N, x, y, c)     a static integer drive held for --steps steps as the input neurons' bias
                   (PilotNet's convention; only for models whose input layer has neurons).
Without --input, a model trained by neuromap.train takes its dataset's test split; any other
model gets seeded random input, which deploy says it does: spikes (rate 0.1) into a source
layer, or uniform random images through the transform of a NetX input layer with neurons.

Engines: `fast` (default) runs every sample (the whole test split, all of --input, or 20 random
samples) through neuromap's batched fixed-point engine, and the first --verify samples (default 1)
also through Lava, reporting any spike that differs; `lava` runs every sample through Lava alone
(minutes per sample; --samples defaults to 20 there)."""


@dataclass(frozen=True)
class Inputs:
    data: np.ndarray                 # in IR layout, see INPUT_HELP
    steps: int
    labels: np.ndarray | None
    description: str
    nchwt: np.ndarray | None = None  # the same samples for the SLAYER model, if any


def main(argv: Sequence[str] | None = None) -> int:
    parser = CliParser(prog="python -m neuromap.deploy", description=__doc__.split("\n\n")[0],
                       epilog=INPUT_HELP)
    parser.add_argument("--target", choices=["sim"], default="sim",
                        help="where to run: sim = simulated cores (default)")
    parser.add_argument("--engine", choices=["fast", "lava"], default="fast",
                        help="simulator: fast (bit-exact batched engine, default) or lava (reference)")
    parser.add_argument("--verify", type=int_in(0, 1_000_000), default=1,
                        help="with --engine fast: samples also run through Lava and compared (default 1; 0 skips)")
    parser.add_argument("--batch-size", type=int_in(1, 1_000_000),
                        help="samples per chunk of the fast engine (bounds memory; default: sized to the network)")
    parser.add_argument("--threads", type=int_in(1, 256), default=1,
                        help="CPU threads of the fast engine (default 1: its small steps run slower on two "
                             "threads once another process is busy)")
    parser.add_argument("--model", type=Path, help="NetX .net or NIR .nir file (default: newest .net in "
                        "netx_models/)")
    add_nir_options(parser)
    parser.add_argument("--models-dir", type=Path, default=Path("netx_models"),
                        help="where --model defaults from")
    parser.add_argument("--samples", type=int_in(1, 1_000_000),
                        help="samples to simulate (default: all; 20 with --engine lava or random input)")
    parser.add_argument("--input", type=Path, help="input samples, see below")
    parser.add_argument("--steps", type=int_in(1, 100_000),
                        help="time steps per sample for a static input")
    parser.add_argument("--profile", default="loihi2",
                        help=f"hardware profile: {', '.join(available_profiles())} or a YAML path")
    parser.add_argument("--strategy", choices=STRATEGIES, default="layerwise",
                        help="mapper: layerwise (Intel-style tiles, default) or graph (traffic-aware)")
    parser.add_argument("--mapping", type=Path, help="use this mapping (written by python -m neuromap.map "
                        "--out) instead of mapping again; it is checked against the model and the profile")
    parser.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0,
                        help="seed for random input spikes")
    parser.add_argument("--out", type=Path, default=Path("hw_reports"), help="reports folder")
    parser.add_argument("--summary-json", type=Path, help="also write the summary here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_limit_options(parser)
    args = parser.parse_args(argv)
    set_limits(args.max_neurons, args.max_synapses)

    model = args.model or newest_model(args.models_dir)
    # every output checked before minutes of simulation; the report folder is named safely
    inputs = [model, args.input, args.mapping, profile_path(args.profile)]
    folder = args.out / safe_name(model.stem)
    check_folder(args.out, "--out", inputs)
    check_folder(folder, "--out", inputs, replaced=True)
    check_file(args.summary_json, "--summary-json", inputs, not_inside=folder)
    report = deploy(model, profile=args.profile, samples=args.samples, input_path=args.input,
                    steps=args.steps, seed=args.seed, progress=not args.quiet, strategy=args.strategy,
                    engine=args.engine, verify=args.verify, batch_size=args.batch_size, threads=args.threads,
                    dt=args.dt, convention=args.convention, mapping_path=args.mapping,
                    command=["python", "-m", "neuromap.deploy", *(sys.argv[1:] if argv is None else list(argv))])
    folder = write_report(report, folder)
    if args.summary_json:
        write_json_atomic(args.summary_json, summary_of(report))
    print(format_summary(report, folder))
    return 0


def deploy(model: Path, profile: str = "loihi2", samples: int | None = None, input_path: Path | None = None,
           steps: int | None = None, seed: int = 0, progress: bool = False, strategy: str = "layerwise",
           engine: str = "fast", verify: int = 1, batch_size: int | None = None,
           threads: int | None = 1, dt: float | None = None, mapping_path: Path | None = None,
           command: list[str] | None = None, convention: str | None = None) -> dict[str, Any]:
    """Load (NetX or NIR, ``dt`` and ``convention`` for NIR as in ``read_model``), map (or read the
    mapping at ``mapping_path`` and check it against the model and the profile), simulate, account
    and cost one model; returns the report dict (``command``: the command line recorded in its
    provenance)."""
    graph = read_model(model, dt, convention)
    prof = load_profile(profile)
    t0 = time.perf_counter()
    if mapping_path is not None:
        mapping = read_mapping(mapping_path, graph, prof)
        usage = neuron_core_usage(graph, mapping.assignment, mapping.num_cores, prof)
    else:
        mapped = map_network(graph, prof, strategy)
        mapping, usage = mapped.mapping, mapped.usage
    map_s = time.perf_counter() - t0
    if samples is None and (engine == "lava"):
        samples = 20
    inputs = choose_inputs(graph, samples, input_path, steps, seed)
    if inputs.description.startswith("random"):
        print(f"note: {graph.name} has no known dataset and no --input was given; "
              f"feeding {inputs.description}", file=sys.stderr)
    if engine not in ("fast", "lava"):
        raise NeuromapError(f"unknown engine {engine!r}; use fast or lava")
    t0 = time.perf_counter()
    verification = None
    if engine == "lava":
        from .sim.lava import simulate_lava  # Lava only when asked for
        activity = simulate_lava(graph, inputs.data, steps=inputs.steps, progress=progress)
        events = account(graph, mapping, activity)
        out_counts = output_counts(graph, activity)
        sim_s = time.perf_counter() - t0
    else:
        measured = measure_fast(graph, [mapping], inputs.data, inputs.steps, batch_size, verify, progress, threads)
        events, out_counts = measured.events[0], measured.output_counts
        sim_s = time.perf_counter() - t0
        if verify:
            verification = verify_against_lava(graph, mapping, inputs, measured.first, progress)
    cost = estimate_cost(events, mapping, prof, graph)

    pred = np.argmax(out_counts, axis=1)
    n = len(pred)
    extra: dict[str, Any] = {
        "model": str(model), "target": "sim", "engine": engine, "input": inputs.description,
        "accuracy": None, "agreement_with_slayer": None, "output_counts_equal_slayer": None,
        "verification": verification,
        "mapping_seconds": map_s, "simulation_seconds": sim_s,
        "samples_per_second": n / sim_s if sim_s > 0 else None,
        "threads": threads if engine == "fast" else None, "seed": seed, "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "provenance": {"command": command, "model_path": str(model), "model_sha256": file_sha256(model),
                       "input": inputs.description,
                       "input_sha256": file_sha256(input_path) if input_path is not None else None},
        "accuracy_correct": None, "accuracy_samples": None, "twin": cnn_twin(graph, n),
    }
    if inputs.labels is not None:
        extra["accuracy"] = float(np.mean(pred == inputs.labels))
        extra["accuracy_correct"], extra["accuracy_samples"] = int(np.sum(pred == inputs.labels)), n
    ref = slayer_reference(graph, inputs)
    if ref is not None:
        extra["agreement_with_slayer"] = float(np.mean(pred == np.argmax(ref, axis=1)))
        extra["output_counts_equal_slayer"] = float(np.mean(np.all(ref == out_counts, axis=1)))
    return build_report(graph, mapping, events, cost, extra, usage=usage, profile=prof)


def read_mapping(path: Path, graph: NetworkGraph, profile: Any) -> Any:
    """The mapping a ``map --out`` JSON file holds, checked against ``graph`` and ``profile``."""
    if not path.is_file():
        raise NeuromapError(f"--mapping {path} does not exist; write one with python -m neuromap.map --out")
    if path.stat().st_size > MAX_MAPPING_BYTES:
        raise NeuromapError(f"--mapping {path} is over {MAX_MAPPING_BYTES >> 20} MiB; a mapping of a model "
                            f"within the size limits is far smaller")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise NeuromapError(f"--mapping {path} is not valid JSON ({str(exc)[:80]}); write it again with "
                            f"python -m neuromap.map --out") from None
    try:
        return mapping_from_dict(data, graph, profile)
    except NeuromapError as exc:
        raise NeuromapError(f"--mapping {path}: {exc}") from None


def verify_against_lava(graph: NetworkGraph, mapping: Any, inputs: Inputs, fast: Any,
                        progress: bool) -> dict[str, Any]:
    """Run the samples the fast engine kept through Lava: spikes that differ at any layer and step,
    and whether the per-core counts are the same."""
    from .sim.lava import simulate_lava  # Lava only when verifying

    n = fast.samples
    t0 = time.perf_counter()
    lava = simulate_lava(graph, inputs.data[:n], steps=inputs.steps, progress=progress)
    seconds = time.perf_counter() - t0
    mismatches = {name: int(np.sum(np.asarray(lava.events[name]) != np.asarray(fast.events[name])))
                  for name in lava.events}
    a, b = account(graph, mapping, lava), account(graph, mapping, fast)
    same = all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("synops", "updates", "active_updates", "spikes", "traffic"))
    return {"engine": "lava", "samples": n, "spike_mismatches": sum(mismatches.values()),
            "layers_with_mismatches": sorted(k for k, v in mismatches.items() if v),
            "per_core_counts_equal": same, "lava_seconds": seconds,
            "lava_samples_per_second": n / seconds if seconds > 0 else None}


def choose_inputs(graph: NetworkGraph, samples: int | None, input_path: Path | None, steps: int | None,
                  seed: int) -> Inputs:
    """The samples to run: all of --input or of the test split when ``samples`` is None, else the
    first ``samples``; a model of unknown origin gets ``samples`` (default 20) random ones."""
    shape = tuple(graph.input_layer.shape)
    meta = graph.meta.get("neuromap", {})
    if input_path is not None:
        return _file_inputs(graph, input_path, samples, steps)
    if meta.get("dataset") == "digits":
        split = load_digits_split(seed=int(meta.get("seed", 0)))
        T = int(steps or meta["timesteps"])
        n = len(split.y_test) if samples is None else min(samples, len(split.y_test))
        nchwt = rate_encode(split.x_test[:n], int(meta.get("max_level", split.max_level)), T)
        data = nchwt.transpose(0, 3, 2, 1, 4)  # (N, C, H, W, T) -> (N, x, y, c, T)
        if tuple(data.shape[1:-1]) != shape:
            raise NeuromapError(f"{graph.name}: digits input {data.shape[1:-1]} does not fit the "
                                f"input layer {shape}; re-export the model")
        return Inputs(data, T, split.y_test[:n], f"digits test split, first {n} samples, "
                      f"rate-coded over {T} steps", nchwt)
    T = int(steps or graph.meta.get("simulation", {}).get("tSample", 16))
    rng = np.random.default_rng(seed)
    samples = 20 if samples is None else samples
    if graph.input_layer.neuron is not None:
        # a NetX input layer encodes data as its neurons' bias: weight * x + bias, x in [0, 1)
        tf = graph.input_layer.transform or {"weight": 64.0, "bias": 0.0}
        data = np.round(tf["weight"] * rng.random((samples,) + shape) + tf["bias"]).astype(np.int32)
        return Inputs(data, T, None, f"random images (uniform [0, 1) through the input layer's "
                                     f"transform, seed {seed}, {T} steps)")
    data = (rng.random((samples,) + shape + (T,)) < 0.1).astype(np.int32)
    return Inputs(data, T, None, f"random spikes (rate 0.1, seed {seed}, {T} steps)")


def _file_inputs(graph: NetworkGraph, path: Path, samples: int | None, steps: int | None) -> Inputs:
    shape = tuple(graph.input_layer.shape)
    if not path.is_file():
        raise NeuromapError(f"input file {path} does not exist")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise NeuromapError(f"input file {path} is not a plain .npy array ({exc})") from None
    if data.dtype.kind not in "biuf" or data.ndim < 2:
        raise NeuromapError(f"input file {path} must hold a numeric array (N, {_dims(shape)}[, T])")
    if not data.size or not np.all(np.isfinite(data)) or np.max(np.abs(data)) > WEIGHT_LIMIT:
        raise NeuromapError(f"input file {path} is empty or holds NaN, inf or values beyond "
                            f"+-{WEIGHT_LIMIT:.0f}; give spikes (0/1) or integer drives")
    n = data.shape[0] if samples is None else min(samples, data.shape[0])
    if tuple(data.shape[1:]) == shape:
        if graph.input_layer.neuron is None:
            raise NeuromapError(f"input {data.shape} has no time axis but {graph.name}'s input "
                                f"layer has no neurons; give (N, {_dims(shape)}, T)")
        T = int(steps or graph.meta.get("simulation", {}).get("tSample", 16))
        return Inputs(data[:n], T, None, f"{path} (static drive, {T} steps)")
    if tuple(data.shape[1:-1]) == shape:
        return Inputs(data[:n], int(data.shape[-1]), None, f"{path} ({data.shape[-1]} steps)")
    raise NeuromapError(f"input file {path} has shape {data.shape}, but {graph.name} needs "
                        f"(N, {_dims(shape)}, T) or (N, {_dims(shape)}); see --help")


def slayer_reference(graph: NetworkGraph, inputs: Inputs) -> np.ndarray | None:
    """Output spike counts of the trained SLAYER model on the same samples, if we have it."""
    meta = graph.meta.get("neuromap", {})
    run_dir = meta.get("run_dir")
    if inputs.nchwt is None or not run_dir or not Path(run_dir).is_dir():
        return None
    # torch only when the model file names the run folder of its SLAYER model
    from .models.checkpoint import load_snn_from_run, snn_output_counts
    model, _ = load_snn_from_run(Path(run_dir))
    # Lava's output window for a sample ends `depth` steps after its input does (one step per
    # synapse); SLAYER's delay_shift truncates at T, so give it the same zero tail.
    lag = depths(graph)[graph.output_layer.name]
    padded = np.concatenate([inputs.nchwt, np.zeros(inputs.nchwt.shape[:-1] + (lag,),
                                                    inputs.nchwt.dtype)], axis=-1)
    return snn_output_counts(model, padded)


def newest_model(folder: Path) -> Path:
    nets = sorted(folder.glob("*.net"), key=lambda p: p.stat().st_mtime)
    if not nets:
        raise NeuromapError(f"no .net model in {folder}/; run `python -m neuromap.train` first "
                            f"or pass --model PATH.net")
    return nets[-1]


def format_summary(r: dict[str, Any], folder: Path) -> str:
    acc = "n/a" if r["accuracy"] is None else f"{r['accuracy']:.3f}"
    agr = "n/a" if r["agreement_with_slayer"] is None else f"{r['agreement_with_slayer']:.3f}"
    engine = "Lava" if r.get("engine") == "lava" else "the fast engine"
    ver = r.get("verification")
    check = "" if not ver else f"\n  not checked against Lava: {ver['skipped']}" if ver.get("skipped") else (
        f"\n  checked against Lava on {ver['samples']} sample(s): "
                                f"{ver['spike_mismatches']} spikes differ, per-core counts "
                                f"{'equal' if ver['per_core_counts_equal'] else 'DIFFER'}")
    return (f"{r['name']}: {r['cores']} cores on {r['chips']} chip(s) ({r['profile']}), "
            f"{r['samples']} samples x {r['steps_per_sample']} steps in {engine}{check}\n"
            f"  accuracy {acc}, agreement with SLAYER {agr}\n"
            f"  energy/inference {r['energy_uj_per_inference']:.4f} uJ "
            f"(dynamic {r['dynamic_energy_uj_per_inference']:.4f} uJ), "
            f"latency {r['latency_us_per_inference']:.2f} us, "
            f"synops/inference {r['synops_per_inference']:,.0f}\n"
            f"  known model error: {known_error_text(r.get('known_error') or [])}\n"
            f"  report: {folder}/report.md, {folder}/index.html")


def _dims(shape: tuple[int, ...]) -> str:
    return ", ".join(map(str, shape))


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
