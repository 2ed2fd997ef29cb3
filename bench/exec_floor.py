#!/usr/bin/env python3
"""The raw API exec floor: what any client must do to run `true` in a running container and
know its exit status — create the exec, start it attached (the output stream ends when the
process does), inspect it for the exit code — over one connection to the engine's unix
socket, from a process that is already running (no process start, no connect, no version
negotiation: those are the client's own cost).

usage: exec_floor.py CONTAINER [RUNS]   prints one wall time per run, in seconds
The socket is /var/run/docker.sock, or the unix:// path in DOCKER_HOST.
"""

import json
import os
import socket
import sys
import time

API = "/v1.41"


def sock_path():
    host = os.environ.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return "/var/run/docker.sock"


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def _read_more(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise EOFError("engine closed the connection")
        self.buf += chunk

    def _headers(self):
        while b"\r\n\r\n" not in self.buf:
            self._read_more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    def _body(self, headers):
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._read_more()
            body, self.buf = self.buf[:n], self.buf[n:]
            return body
        if headers.get("transfer-encoding") == "chunked":
            out = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._read_more()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._read_more()
                out += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    return out
        return b""

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {API}{path} HTTP/1.1\r\nHost: docker\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n")
        self.s.sendall(head.encode() + data)
        status, headers = self._headers()
        return status, headers, self._body(headers)

    def start_attached(self, exec_id):
        """Start the exec with its output on this connection (the engine hijacks it: the
        output is a raw multiplexed stream that ends when the process does)."""
        data = json.dumps({"Detach": False, "Tty": False}).encode()
        head = (f"POST {API}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
        self.s.sendall(head.encode() + data)
        status, _ = self._headers()
        if status not in (101, 200):
            raise RuntimeError(f"exec start: HTTP {status}")
        # Drain until the engine ends the stream (half-close on its side).
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                break


def one(path, container):
    start = time.perf_counter()
    c = Conn(path)
    status, _, body = c.request("POST", f"/containers/{container}/exec",
                                {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})
    if status != 201:
        raise RuntimeError(f"exec create: HTTP {status} {body!r}")
    exec_id = json.loads(body)["Id"]
    c.start_attached(exec_id)
    c.s.close()
    # The hijacked connection is gone: the inspect needs a connection of its own (docker exec
    # does the same).
    c = Conn(path)
    while True:
        status, _, body = c.request("GET", f"/exec/{exec_id}/json")
        info = json.loads(body)
        if not info.get("Running"):
            break
    c.s.close()
    if info.get("ExitCode") != 0:
        raise RuntimeError(f"exit code {info.get('ExitCode')}")
    return time.perf_counter() - start


def main():
    container = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    path = sock_path()
    for _ in range(runs):
        print(f"{one(path, container):.6f}", flush=True)


if __name__ == "__main__":
    main()
