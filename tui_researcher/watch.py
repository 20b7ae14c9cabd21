"""Files written by other processes into the workspace (an attached app's commands, a directive).

On Linux the kernel tells us (inotify, read by the event loop): nothing wakes while nothing is
written, so an idle controller costs only its poll. Elsewhere, watchfiles, which checks twice a
second.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import struct
import sys
from pathlib import Path
from typing import AsyncIterator

IN_MODIFY = 0x002
IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_HEADER = struct.Struct("iIII")


async def watch_names(directory: Path) -> AsyncIterator[set[str]]:
    """Yields the names of files in ``directory`` that changed, as they change."""
    fd = _inotify(directory) if sys.platform.startswith("linux") else None
    if fd is None:
        async for names in _watchfiles(directory):
            yield names
        return
    queue: asyncio.Queue[set[str]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    loop.add_reader(fd, lambda: queue.put_nowait(_read_names(fd)))
    try:
        while True:
            names = await queue.get()
            if names:
                yield names
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _inotify(directory: Path) -> int | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            return None
        mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            os.close(fd)
            return None
        return fd
    except (OSError, AttributeError):
        return None


def _read_names(fd: int) -> set[str]:
    names: set[str] = set()
    try:
        data = os.read(fd, 64 * 1024)
    except BlockingIOError:
        return names
    offset = 0
    while offset + _HEADER.size <= len(data):
        _, _, _, length = _HEADER.unpack_from(data, offset)
        raw = data[offset + _HEADER.size: offset + _HEADER.size + length]
        names.add(raw.split(b"\0", 1)[0].decode("utf-8", "replace"))
        offset += _HEADER.size + length
    return names


async def _watchfiles(directory: Path) -> AsyncIterator[set[str]]:
    from watchfiles import awatch

    async for changes in awatch(directory, recursive=False, debounce=50, step=500, yield_on_timeout=False):
        yield {Path(p).name for _, p in changes}
