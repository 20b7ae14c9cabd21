"""Trials on this machine: the host helper runs as a local child process, spoken to over pipes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from ..errors import BackendError
from .base import HelperBackend
from .client import HELPER_SOURCE_PATH, HelperClient
from .helper import scrubbed_env


class LocalBackend(HelperBackend):
    """This machine: the workspace is the project's own, so there is no code to copy (``seeds_code``)."""

    kind = "local"
    seeds_code = False

    def __init__(self, workspace: Path, *, python: str = "", name: str = "local", op_timeout: float = 30.0) -> None:
        super().__init__(name, str(workspace), op_timeout=op_timeout)
        self.python = python or sys.executable
        self._proc: asyncio.subprocess.Process | None = None

    async def _open(self) -> HelperClient:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self.python, "-u", str(HELPER_SOURCE_PATH), "--root", self.workspace,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                env=scrubbed_env(), limit=32 * 1024 * 1024, start_new_session=True,
                cwd=os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~")) else "/")
        except OSError as exc:
            raise BackendError(f"local: cannot start the host helper with {self.python}: {exc}") from exc
        client = HelperClient(self._proc.stdout, self._proc.stdin, label=self.name, writes_text=False)  # pipes
        await client.start(timeout=self.op_timeout)
        return client

    async def _close_transport(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.returncode is None:
            try:
                proc.stdin.close()
            except (OSError, RuntimeError):
                pass
            try:
                await asyncio.wait_for(proc.wait(), 5)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()

    async def put_file(self, local_path: str | Path, rel: str) -> None:
        """The helper copies it: the workspace is on this machine, and the same paths are refused as for a write."""
        await self.call("copy_in", source=str(Path(local_path).resolve()), path=rel)
