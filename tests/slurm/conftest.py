"""A real single-node Slurm with 4 simulated GPUs, started once per session in a temporary directory.

Without root or without Debian's Slurm packages the tests here are skipped with the reason,
unless ``REQUIRE_SLURM=1`` (set by ``.ci/run``) makes that a failure: CI cannot pass with no Slurm.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.slurm_cluster import SlurmCluster, missing_reason
from tui_researcher.backends.local import LocalBackend
from tui_researcher.backends.slurm import SlurmBackend
from tui_researcher.config import SlurmConfig


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slurm: needs a real single-node Slurm (installed by .ci/run)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slurm)


def _no_slurm(why: str) -> None:
    if os.environ.get("REQUIRE_SLURM") == "1":
        pytest.fail(f"REQUIRE_SLURM=1 but {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory):
    """The cluster, with ``SLURM_CONF`` set for this process and every helper it starts."""
    why = missing_reason()
    if why:
        _no_slurm(why)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        _no_slurm(f"the private Slurm would not start: {exc}")
    saved = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    try:
        yield cluster
    finally:
        cluster.stop()
        if saved is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved


@pytest.fixture
def cluster(slurm_cluster: SlurmCluster):
    """The session's cluster, emptied after each test so one test's jobs never hold another's GPUs."""
    yield slurm_cluster
    slurm_cluster.cancel_all()


@pytest.fixture
async def make_slurm(cluster: SlurmCluster, tmp_path: Path):
    """``make_slurm(**SlurmConfig fields)``: a started Slurm backend over a local helper in a fresh workspace."""
    made: list[SlurmBackend] = []

    async def factory(*, workspace: Path | None = None, **fields) -> SlurmBackend:
        ws = workspace or tmp_path / f"ws{len(made)}"
        ws.mkdir(parents=True, exist_ok=True)
        fields.setdefault("gpus_per_trial", 1)
        fields.setdefault("time_limit", "10")
        inner = LocalBackend(ws, op_timeout=30.0)
        backend = SlurmBackend(SlurmConfig(**fields), inner=inner, python=inner.python, project_name="test")
        await backend.start()
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.close()


class SlurmBackends:
    """The conformance suite's ``backends`` fixture, for the Slurm kind: started backends over one workspace."""

    kind = "slurm"

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._opened: list[SlurmBackend] = []

    async def open(self, *, gpu: bool = False) -> SlurmBackend:
        inner = LocalBackend(self.workspace, op_timeout=15)
        backend = SlurmBackend(SlurmConfig(gpus_per_trial=1, time_limit="10"), inner=inner, python=inner.python,
                               project_name="conformance")
        self._opened.append(backend)
        await backend.start()
        return backend

    async def close_all(self) -> None:
        for backend in self._opened:
            await backend.close()


@pytest.fixture
async def backends(cluster: SlurmCluster, tmp_path: Path):
    made = SlurmBackends(tmp_path / "workspace")
    yield made
    await made.close_all()
