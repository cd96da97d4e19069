"""A loopback TCP proxy in front of Elasticsearch, for tests that cut it or act at a
chosen request."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class TcpProxy:
    """A loopback TCP proxy in front of Elasticsearch that a test can cut and restore.

    Cut: the listener closes (new connections are refused) and open connections are reset.
    ``cut_at_request`` cuts by itself just before forwarding the Nth request whose request
    line contains a marker, so the outage lands at a known point of a run; ``at_request``
    runs any action there instead (kill the client, say) and drops that request.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._trigger: tuple[bytes, int, Callable[[], None]] | None = None
        self.seen: dict[bytes, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut_at_request(self, marker: bytes, number: int) -> None:
        self._trigger = (marker, number, self.cut)

    def at_request(self, marker: bytes, number: int, action: Callable[[], None]) -> None:
        self.seen[marker] = 0
        self._trigger = (marker, number, action)

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, set()
        if listener is not None:
            listener.close()
        for conn in connections:
            _reset(conn)

    def restore(self) -> None:
        self._trigger = None
        self.start()

    @property
    def is_cut(self) -> bool:
        return self._listener is None

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            upstream = socket.create_connection(self.upstream)
            with self._lock:
                self._connections.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if requests and (action := self._fired(chunk)) is not None:
                    action()
                    return
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for conn in (source, target):
                _reset(conn)

    def _fired(self, chunk: bytes) -> Callable[[], None] | None:
        """The trigger's action if this chunk starts its Nth request (once)."""
        if self._trigger is None:
            return None
        marker, number, action = self._trigger
        line = chunk.split(b"\r\n", 1)[0]
        if marker not in line or b"HTTP/1." not in line:
            return None
        with self._lock:
            self.seen[marker] = self.seen.get(marker, 0) + 1
            if self.seen[marker] < number:
                return None
            if action != self.cut:
                self._trigger = None  # a kill fires once; a cut keeps refusing
            return action


def _reset(conn: socket.socket) -> None:
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
    except OSError:
        pass
