"""Store: Alembic migrations from db/, run on the application's own engine.

Checking the revision at start-up does not import Alembic (10 MB a process, measured): `current` reads the
`alembic_version` table, `head` the revision lines of db/versions; Alembic itself is loaded only to upgrade.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from mailgate.config.settings import data_dir

_REVISION = re.compile(r'^(down_revision|revision)\s*=\s*(?:"([^"]*)"|None)', re.M)


def head() -> str:
    """The revision no other migration revises."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (data_dir("db") / "versions").glob("*.py"):
        for field, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if field == "revision" else revised).add(value)
    heads = sorted(revisions - revised)
    if len(heads) != 1:
        raise RuntimeError(f"db/versions has {len(heads)} heads: {heads}")
    return heads[0]


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        value = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        conn.rollback()
    return None if value is None else str(value)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(data_dir("db")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
