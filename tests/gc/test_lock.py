"""The serving lock: a shared flock per writer, garbage-collect needs it exclusively."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from dockyard.config import Config
from dockyard.gc.lock import hold_serving_lock, serving_lock_path, try_exclusive


def _config(root: Path, read_only: bool = False) -> Config:
    return Config.model_validate({
        "version": "0.1",
        "storage": {"filesystem": {"rootdirectory": str(root)},
                    "maintenance": {"readonly": {"enabled": read_only}}}})


def test_a_writer_excludes_collection_until_it_lets_go(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = serving_lock_path(config)
    held = hold_serving_lock(config)
    assert held is not None and path == tmp_path / "dockyard" / "serving.lock"
    second = hold_serving_lock(config)  # Two servers on one storage may both serve.
    assert second is not None
    assert try_exclusive(path) is None
    held.close()
    assert try_exclusive(path) is None
    second.close()
    exclusive = try_exclusive(path)
    assert exclusive is not None
    exclusive.close()


def test_read_only_server_takes_no_lock(tmp_path: Path) -> None:
    config = _config(tmp_path, read_only=True)
    assert hold_serving_lock(config) is None
    exclusive = try_exclusive(serving_lock_path(config))
    assert exclusive is not None
    exclusive.close()


def test_a_server_starting_during_collection_waits_for_it(tmp_path: Path) -> None:
    config = _config(tmp_path)
    exclusive = try_exclusive(serving_lock_path(config))
    assert exclusive is not None
    script = textwrap.dedent(f"""
        from dockyard.config import Config
        from dockyard.gc.lock import hold_serving_lock
        config = Config.model_validate({{"version": "0.1", "storage": {{"filesystem":
            {{"rootdirectory": {str(tmp_path)!r}}}}}}})
        hold_serving_lock(config)
        print("locked", flush=True)
    """)
    waiter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # Still waiting for the collection.
        exclusive.close()
        out, err = waiter.communicate(timeout=20)
        assert out.strip() == "locked"
        assert "garbage-collect is running" in err
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
