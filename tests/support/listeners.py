"""Which process listens on a TCP port, read from Linux's /proc (no psutil, no lsof)."""

from __future__ import annotations

import os
from pathlib import Path

LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def port_listeners(port: int, *, proc: Path = Path("/proc")) -> set[int]:
    """The socket inodes listening on ``port`` (IPv4 or IPv6, any address)."""
    inodes: set[int] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == LISTEN:
                inodes.add(int(fields[9]))
    return inodes


def socket_inodes(pid: int, *, proc: Path = Path("/proc")) -> set[int]:
    inodes: set[int] = set()
    fd_dir = proc / str(pid) / "fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / fd)
        except OSError:  # closed between listdir and readlink
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def pid_listens_on(pid: int, port: int, *, proc: Path = Path("/proc")) -> bool | None:
    """True if ``pid`` holds a listening socket on ``port``; None where /proc can't tell."""
    if not (proc / "net" / "tcp").exists():
        return None
    try:
        return bool(port_listeners(port, proc=proc) & socket_inodes(pid, proc=proc))
    except (FileNotFoundError, PermissionError):
        return None
