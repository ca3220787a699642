"""Bring a metadata database to the newest schema with Alembic."""

from pathlib import Path

from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database has not seen yet.

    Alembic is imported here, not at module level: workers never migrate, and the import
    costs each of them several MiB.
    """
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
