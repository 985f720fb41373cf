"""A webhook receiver in a process of its own, for the worker's process tests and bench/webhooks.py (P6, R6).

    .venv/bin/python bench/receiver.py --log arrivals.log [--delay-ms 3]     # prints its port, serves until SIGTERM
    .venv/bin/python bench/receiver.py --capacity                            # its own requests/s under wrk

One asyncio thread, HTTP/1.1 keep-alive, answers 204. It must never be what limits the worker, so it does
little per request: read the `webhook-id` header and the body's `data.recipient_id`, append a line to the
log, answer (after `--delay-ms`, without blocking other connections). The log is what the tests read:

    S <webhook-id> <recipient-id> <peer port> <unix time>     a request arrived (lines in arrival order)
    H <webhook-id>                                           it is being held (see below)
    E <webhook-id> <started> <ended>                         its answer was written

SIGUSR1 holds every request from then on unanswered, so a test can kill the worker while a delivery is
surely in flight; SIGUSR2 answers the held ones and stops holding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ANSWER = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
NO_RECIPIENT = "-"


class Receiving:
    """The server's state: the log, the delay, and the requests held while holding."""

    def __init__(self, log_fd: int, delay_seconds: float) -> None:
        self.log_fd = log_fd
        self.delay_seconds = delay_seconds
        self.holding = False
        self.held: list[tuple[Connection, str, float]] = []

    def write(self, line: str) -> None:
        os.write(self.log_fd, line.encode())  # unbuffered: a reader polling the file sees each line at once

    def release(self) -> None:
        self.holding = False
        held, self.held = self.held, []
        for connection, webhook_id, started in held:
            connection.answer(webhook_id, started)


class Connection(asyncio.Protocol):
    """One keep-alive connection: requests one after another (the worker never pipelines)."""

    def __init__(self, receiving: Receiving) -> None:
        self.receiving = receiving
        self.buffer = bytearray()
        self.busy = False  # a request is waiting for its answer; later bytes wait in the buffer
        self.transport: asyncio.Transport | None = None
        self.peer_port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer_port = transport.get_extra_info("peername")[1]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.next_request()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def next_request(self) -> None:
        if self.busy:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        headers = {}
        for line in bytes(self.buffer[:end]).decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        started = time.time()
        webhook_id = headers.get("webhook-id", "-")
        self.receiving.write(f"S {webhook_id} {recipient_of(body)} {self.peer_port} {started:.6f}\n")
        self.busy = True
        if self.receiving.holding:
            self.receiving.held.append((self, webhook_id, started))
            self.receiving.write(f"H {webhook_id}\n")
        elif self.receiving.delay_seconds:
            asyncio.get_running_loop().call_later(self.receiving.delay_seconds, self.answer, webhook_id, started)
        else:
            self.answer(webhook_id, started)

    def answer(self, webhook_id: str, started: float) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(ANSWER)
        self.receiving.write(f"E {webhook_id} {started:.6f} {time.time():.6f}\n")
        self.busy = False
        self.next_request()


def recipient_of(body: bytes) -> str:
    try:
        recipient = json.loads(body)["data"].get("recipient_id")
    except (ValueError, KeyError, TypeError, AttributeError):
        return NO_RECIPIENT
    return str(recipient) if recipient else NO_RECIPIENT


async def serve(port: int, log_path: str, delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    receiving = Receiving(log_fd, delay_ms / 1000)
    server = await loop.create_server(lambda: Connection(receiving), "127.0.0.1", port, backlog=1024)
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: setattr(receiving, "holding", True))
    loop.add_signal_handler(signal.SIGUSR2, receiving.release)
    print(server.sockets[0].getsockname()[1], flush=True)  # the parent reads the port from this line
    await stopped.wait()
    server.close()
    os.close(log_fd)


@dataclass
class Arrival:
    webhook_id: str
    recipient_id: str
    peer_port: int
    started: float
    ended: float | None = None


@dataclass
class ArrivalLog:
    """What the receiver has logged so far, read on as the file grows."""

    path: str
    arrivals: list[Arrival] = field(default_factory=list)  # every request, in arrival order
    held: int = 0
    _offset: int = 0
    _open: dict[tuple[str, str], Arrival] = field(default_factory=dict)  # (webhook-id, started) -> not yet answered

    def refresh(self) -> ArrivalLog:
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk.rfind(b"\n") + 1
        self._offset += complete
        for line in chunk[:complete].decode().splitlines():
            kind, *fields = line.split(" ")
            if kind == "S":
                arrival = Arrival(fields[0], fields[1], int(fields[2]), float(fields[3]))
                self.arrivals.append(arrival)
                self._open[(fields[0], fields[3])] = arrival
            elif kind == "H":
                self.held += 1
            elif kind == "E":
                answered = self._open.pop((fields[0], fields[1]), None)
                if answered is not None:
                    answered.ended = float(fields[2])
        return self

    def distinct(self) -> set[str]:
        return {arrival.webhook_id for arrival in self.arrivals}


class ReceiverProcess:
    """bench/receiver.py started as a child process; stop() (or the with block) ends it."""

    def __init__(self, log_path: str, delay_ms: float = 0.0) -> None:
        self.log = ArrivalLog(log_path)
        open(log_path, "wb").close()
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "receiver.py"), "--log", log_path, "--delay-ms", str(delay_ms)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.process.kill()
            raise RuntimeError("the receiver did not start")
        self.port = int(line)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hold(self) -> None:
        self.process.send_signal(signal.SIGUSR1)

    def release(self) -> None:
        self.process.send_signal(signal.SIGUSR2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


SAMPLE_BODY = json.dumps(
    {
        "type": "recipient.deactivated",
        "timestamp": "2026-11-01T10:00:00+00:00",
        "data": {"id": 1, "at": "2026-11-01T10:00:00+00:00", "recipient_id": "p1", "kind": "status_changed",
                 "before": "active", "after": "deactivated", "actor": "system", "via": "bench"},
    },
    separators=(",", ":"),
)  # fmt: skip
CAPACITY_LUA = """
local body = os.getenv("PREFS_BODY")
function request()
  return wrk.format("POST", "/hook", {["Content-Type"] = "application/json", ["webhook-id"] = "evt_1",
                                      ["webhook-timestamp"] = "1790000000", ["webhook-signature"] = "v1,x"}, body)
end
"""


def measure_capacity(seconds: int = 5, connections: int = 16) -> float:
    """Requests/s the receiver answers on its own (no delay), wrk sending webhook-sized POSTs over keep-alive
    connections: the ceiling any delivery figure measured against it can reach."""
    from served import lua_script, wrk

    with tempfile.TemporaryDirectory(prefix="prefs-receiver-") as directory:
        with ReceiverProcess(os.path.join(directory, "arrivals.log")) as receiver:
            result = wrk(receiver.url(), seconds=seconds, connections=connections, threads=2,
                         script=lua_script(CAPACITY_LUA), env={"PREFS_BODY": SAMPLE_BODY})  # fmt: skip
    if result.errors:
        raise RuntimeError(f"the receiver failed {result.errors} of {result.requests} requests")
    return result.requests_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", help="where to log arrivals")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="answer each request this much later")
    parser.add_argument("--capacity", action="store_true", help="measure the receiver alone with wrk and print requests/s")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if args.capacity:
        sys.path.insert(0, HERE)
        print(f"receiver capacity: {measure_capacity(args.seconds):,.0f} requests/s (wrk, 16 keep-alive connections, no delay)")
        return
    if not args.log:
        parser.error("--log is required")
    asyncio.run(serve(args.port, args.log, args.delay_ms))


if __name__ == "__main__":
    main()
