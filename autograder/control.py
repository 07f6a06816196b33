"""The control sockets of the grading worker's templates (`autograder.judge`, `autograder.kernel_template`).

A ``SOCK_SEQPACKET`` socket pair: one JSON request per packet, with the
descriptors it concerns attached (``SCM_RIGHTS``). Standard library only, so a
template can read requests before anything else is imported.
"""
from __future__ import annotations

import json
import socket


def receive_request(control: socket.socket, max_fds: int) -> tuple[dict, list[int]] | None:
    """One request and up to `max_fds` descriptors; None once the worker has closed the socket (the cue to end)."""
    try:
        data, fds, _flags, _address = socket.recv_fds(control, 65536, max_fds)
    except OSError:
        return None
    return (json.loads(data), fds) if data else None
