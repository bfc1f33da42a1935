"""Shell: secrets read when they are needed (each login), from an environment variable, a file or
a command, so that none has to be written in the config file and a rotated one is picked up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from mailgate.config.settings import Settings


class SecretError(Exception):
    """The secret could not be read; the message says from where."""


def read_secret(settings: Settings, *, path: str | None = None, command: str | None = None,
                env: str | None = None) -> str:
    """The first one given of: `env` (variable name), `path` (first line; relative to the config
    file), `command` (first line of its output)."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SecretError(f"environment variable {env} is not set")
        return value
    if path:
        p = Path(path)
        if not p.is_absolute() and settings.source != "<memory>":
            p = Path(settings.source).resolve().parent / p
        try:
            return p.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise SecretError(f"cannot read {p}: {exc}") from None
    if command:
        try:
            done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise SecretError(f"command timed out after 60 s: {command}") from None
        if done.returncode != 0 or not done.stdout.strip():
            raise SecretError(f"command failed ({done.returncode}): {done.stderr.strip()[:200]}")
        return done.stdout.strip().splitlines()[0]
    raise SecretError("no source given for the secret")
