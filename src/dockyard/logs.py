"""Logging as Distribution configures it: a level, a formatter and fixed fields on every line."""

import json
import logging
import sys
from typing import Any

LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "warning": logging.WARNING,
          "info": logging.INFO, "debug": logging.DEBUG}
_ENCODER = json.JSONEncoder(default=str)  # One encoder: json.dumps(default=) builds one per call.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class TextFormatter(logging.Formatter):
    """``time level=... msg="..." key=value`` with the configured fields appended."""

    def __init__(self, fields: dict[str, Any]):
        super().__init__()
        self.fields = fields

    def format(self, record: logging.LogRecord) -> str:
        extra = {**self.fields, **_extra(record)}
        line = (f'time="{self.formatTime(record)}" level={record.levelname.lower()} '
                f'msg={_ENCODER.encode(record.getMessage())}')
        line += "".join(f" {key}={_ENCODER.encode(value)}" for key, value in extra.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def __init__(self, fields: dict[str, Any]):
        super().__init__()
        self.fields = fields

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record), "level": record.levelname.lower(),
                 "msg": record.getMessage(), **self.fields, **_extra(record)}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _ENCODER.encode(entry)


def configure_logging(level: str, formatter: str, fields: dict[str, Any]) -> None:
    """Send the ``dockyard`` loggers to stderr in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(fields) if formatter in ("json", "logstash")
                         else TextFormatter(fields))
    logger = logging.getLogger("dockyard")
    logger.handlers[:] = [handler]
    logger.setLevel(LEVELS.get(level, logging.INFO))
    logger.propagate = False


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
