"""The backend conformance suite, run against the Slurm backend where its operations apply.

Files, paths, protection, dry-runs and the incremental log go through the same helper as the
local and SSH backends, so those tests run here unchanged. The ones that address a trial by
its PID (survives close by PID, PID start time, kill by PID) and the nvidia-smi readings do not
apply to batch jobs; their Slurm counterparts are in ``test_slurm_backend.py`` (re-attach by
job id, kill by ``scancel``) and Slurm does the GPU scheduling.
"""

from __future__ import annotations

from tests.backends.test_conformance import (  # noqa: F401  (collected here with the Slurm fixture)
    test_a_run_directory_is_never_launched_twice,
    test_paths_escaping_the_workspace_are_refused,
    test_probe_returns_each_log_line_once_and_holds_back_a_partial_line,
    test_protected_paths_are_refused_after_configure_and_after_reconnect,
    test_put_file_copies_a_local_file_in_and_refuses_what_a_write_refuses,
    test_run_past_its_timeout_kills_the_whole_process_group,
    test_run_returns_exit_code_and_both_streams,
    test_written_file_reads_back_and_is_listed,
)


async def test_gpus_are_slurms_and_ping_goes_to_the_submit_host(backends):
    backend = await backends.open()

    readings, why = await backend.gpus()

    assert readings is None and "Slurm" in why
    assert 0 < await backend.ping() < 5 and backend.root == str(backends.workspace.resolve())
