"""Shell: who holds a claim: this process's name (host, pid, a random token), and whether the process behind
a name on this host is still alive, so that a restarted daemon takes back at once the mail a killed one held
instead of waiting for its lease."""

from __future__ import annotations

import os
import secrets
import socket

HOST = socket.gethostname()[:40]


def name() -> str:
    """A new name for a claimer of this process (at most 64 characters, the claim columns' width)."""
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(3)}"


def gone(holder: str) -> bool:
    """The holder is a process of this host that no longer exists (elsewhere: unknown, so False)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
