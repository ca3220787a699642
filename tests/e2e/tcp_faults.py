"""A loopback TCP proxy that slows uploads down or cuts a connection: network faults on
demand, for the interrupted-copy tests. The registries behind it are real."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.loopback import Background


class FaultyProxy(Background):
    """Forwards ``127.0.0.1:PORT`` to ``upstream``.

    ``rate``: bytes per second allowed client -> server (None: unlimited).
    ``cut_after``: the first connection that carries more than this many bytes client ->
    server is closed abruptly, once.
    ``flip_at``: the byte at this offset of the first connection's server -> client stream
    that gets that far is inverted, once (a corrupting network or cache in between).
    """

    def __init__(self, upstream: str, *, rate: float | None = None,
                 cut_after: int | None = None, flip_at: int | None = None) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.rate = rate
        self.cut_after = cut_after
        self.cuts = 0
        self.flip_at = flip_at
        self.flips = 0
        self.sent = 0  # client -> server bytes forwarded, all connections
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        super().__init__(self._accept)

    def _close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        carried = 0
        try:
            while True:
                data = src.recv(64 * 1024)
                if not data:
                    break
                if not upstream:
                    data = self._maybe_flip(data, carried)
                carried += len(data)
                if upstream:
                    if self._should_cut(carried):
                        break
                    with self._lock:
                        self.sent += len(data)
                    if self.rate:
                        time.sleep(len(data) / self.rate)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _maybe_flip(self, data: bytes, before: int) -> bytes:
        with self._lock:
            if self.flip_at is None or self.flips or not before <= self.flip_at < before + len(
                    data):
                return data
            self.flips += 1
        index = self.flip_at - before
        return data[:index] + bytes([data[index] ^ 0xFF]) + data[index + 1:]

    def _should_cut(self, carried: int) -> bool:
        with self._lock:
            if self.cut_after is not None and self.cuts == 0 and carried > self.cut_after:
                self.cuts += 1
                return True
        return False
