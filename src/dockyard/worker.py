"""What each granian worker imports: the application for the configuration ``serve`` checked."""

import os
from typing import Any

from dockyard.app import build_app
from dockyard.config import Config
from dockyard.launch import EFFECTIVE_CONFIG_ENV, WORKERS_ENV
from dockyard.logs import configure_logging


def app_from_environment() -> Any:
    """The worker-side factory; the metadata cache only when this is the single worker."""
    config = Config.from_json(os.environ[EFFECTIVE_CONFIG_ENV])
    configure_logging(config.log.level, config.log.formatter, dict(config.log.fields))
    return build_app(config, migrate=False, cache=os.environ.get(WORKERS_ENV, "1") == "1")
