"""A TCP proxy in front of PostgreSQL (or pgbouncer) that, when armed, puts an error message of its own before the
server's next answer to a client, as pgbouncer does when the server behind it dies while a client is linked to
it: the client reads an answer it did not ask for (`ErrorResponse`, SQLSTATE 08P01, "server conn crashed?"),
then the answer it asked for. The bytes are PostgreSQL's wire protocol; nothing in the client is patched."""

from __future__ import annotations

import socket
import struct
import threading


def error_response(message: str, sqlstate: str = "08P01") -> bytes:
    """A FATAL ErrorResponse message, as pgbouncer writes one."""
    fields = b"SFATAL\0VFATAL\0C" + sqlstate.encode() + b"\0M" + message.encode() + b"\0\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


class InterruptingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._armed = threading.Event()
        self.interrupted = 0  # answers interrupted so far
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self) -> None:
        """The next answer the server sends (to any client) comes after an error message of the proxy's own."""
        self._armed.set()

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.close()
                except OSError:
                    pass

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_server and self._armed.is_set():
                    with self._lock:
                        if self._armed.is_set():
                            self._armed.clear()
                            self.interrupted += 1
                            data = error_response("server conn crashed?") + data
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
