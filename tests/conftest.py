"""Shared fixtures: the NetX networks shipped in the lava-dl wheel, and tiny hand-made ones."""
from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from neuromap.sim.lava import ensure_lava_importable

# Lava sets the multiprocessing start method when its runtime is first imported and fails if
# anything (tqdm's lock, during training tests) set it before; import it first, whatever runs first.
ensure_lava_importable()

LAVA_DL_TESTS = Path(sysconfig.get_paths()["purelib"]) / "tests" / "lava" / "lib" / "dl" / "netx"


def lava_dl_net(rel: str) -> Path:
    path = LAVA_DL_TESTS / rel
    if not path.is_file():
        pytest.fail(f"lava-dl's shipped test network {rel} is missing from {LAVA_DL_TESTS}; "
                    f"reinstall lava-dl==0.6.0 (make env)")
    return path


SHIPPED = ["gts/pilotnet_lif/network.net", "gts/pilotnet_sdnn/network.net",
           "gts/pilotnet_sdnn/square_network.net", "gts/ntidigits/ntidigits.net",
           "mnist.net", "tiny.net"]


#: Tests that take several seconds or more on 2 cores (training, Lava runtimes, graph mappings of
#: the shipped networks), marked ``slow``: ``make test-fast`` leaves them out, ``make test`` runs
#: them. An entry is a module (every test in it) or ``module::test`` (every parameter of it).
SLOW = {
    # whole modules: training, Lava runtimes, the mapping portfolio
    "test_bench", "test_calibrate", "test_calibrate_profile", "test_datasets", "test_end_to_end",
    "test_fuzz", "test_lava_backend", "test_lava_start_method", "test_mapper_portfolio", "test_reproducible",
    # single tests
    "test_convert::test_converted_twin_runs_in_lava_spike_for_spike",
    "test_deploy_cli::test_external_model_with_input_file",
    "test_deploy_cli::test_no_traceback_in_a_real_process",
    "test_fast_engine::test_fast_equals_lava_on_arithmetic_corners",
    "test_fast_engine::test_fast_equals_lava_on_lava_dls_shipped_mnist",
    "test_fast_engine::test_recurrent_dense_runs_in_the_fast_engine_and_deploy_checks_it_against_lava",
    "test_graph_netx::test_deploy_runs_a_graph_model_and_agrees_with_its_slayer_twin",
    "test_graph_netx::test_every_family_exports_and_loads_back_identically",
    "test_graph_netx::test_lava_equals_slayer_at_every_layer",
    "test_graph_netx::test_lava_sums_extra_input_edges_and_lags_them",
    "test_graph_netx::test_zoo_graphs_round_trip_through_nir_and_the_export_cli",
    "test_hostile::test_map_into_a_closed_pipe_ends_without_traceback",
    "test_intel_placements::test_pilotnet_sdnn_matches_intel_61",
    "test_intel_placements::test_yolo_kp_from_a_netx_file_with_random_8bit_weights",
    "test_intel_placements::test_yolo_kp_matches_intel_tile_for_tile",
    "test_intel_placements::test_yolo_kp_registers_against_the_printout",
    "test_mapper::test_mapping_is_deterministic",
    "test_mapper::test_pilotnet_graph_is_valid_and_better",
    "test_mapper::test_pilotnet_layerwise_reproduces_intel",
    "test_mapper_bound::test_bound_below_both_strategies",
    "test_mapper_leaf::test_graph_mapping_valid_and_deterministic",
    "test_mapping_file::test_deploy_uses_the_mapping_file",
    "test_models_export::test_lava_fixed_point_matches_slayer_spike_for_spike",
    "test_models_norm::test_folded_twin_runs_in_lava_spike_for_spike",
    "test_models_norm::test_normalised_training_folds_resumes_exactly_and_reloads",
    "test_models_zoo::test_both_twins_forward_backward_on_digits",
    "test_nir::test_cli_process_exit_status",
    "test_nir_peers::test_deploy_and_map_take_a_peer_nir_file",
    "test_prune::test_probe_gains_chain_module_outputs_into_the_next_module",
    "test_prune::test_prune_cli_writes_tables_on_a_tiny_cnn_run",
    "test_resources::test_unit_counts_equal_neuron_counts",
    "test_signal::test_balance_surrogate_equalises_a_chain_in_one_round",
    "test_signal::test_gradient_report_scales_with_each_layers_surrogate",
    "test_signal::test_signal_report_probe_on_held_out_inputs",
    "test_signal::test_signal_report_rows_follow_the_layers",
    "test_signal::test_train_cli_records_the_signal_report",
    "test_train_cli::test_cnn_only_run_has_no_snn",
    "test_train_cli::test_module_entry_point_reports_errors_without_traceback",
    "test_train_cli::test_resume_continues_exactly",
    "test_train_cli::test_resume_refuses_a_different_config",
    "test_train_cli::test_train_both_writes_run_and_netx",
    "test_train_cli::test_unwritable_export_path_is_a_clean_error",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        name = getattr(item, "originalname", None) or item.name
        if module in SLOW or f"{module}::{name}" in SLOW:
            item.add_marker(pytest.mark.slow)
