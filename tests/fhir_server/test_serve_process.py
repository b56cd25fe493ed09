"""`medagent serve` as a real process: startup, and durability across SIGKILL mid-write."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from ._data import observation


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(db, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "medagent", "serve", "--no-seed", "--db", str(db),
         "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/fhir/metadata", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("server did not start in 30 s")


def test_sigkill_mid_write_keeps_every_acknowledged_write(tmp_path):
    db = tmp_path / "kill.db"
    port = _free_port()
    proc = _start(db, port)
    base = f"http://127.0.0.1:{port}/fhir"
    acked: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with httpx.Client(timeout=5) as client:
            k = 0
            while not stop.is_set():
                obs = observation("S0000001", "MG", "19123-9", n + k / 1000, "2023-11-13T08:00:00Z")
                try:
                    resp = client.post(f"{base}/Observation", json=obs)
                except httpx.TransportError:
                    return  # the server died mid-request: this write was never acknowledged
                if resp.status_code == 201:
                    acked.append(resp.json()["id"])
                k += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 150:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    assert proc.returncode == -signal.SIGKILL

    proc = _start(db, port)
    try:
        got = httpx.get(f"{base}/Observation", params={"_count": "5000", "_elements": "id"}).json()
        stored = {e["resource"]["id"] for e in got.get("entry", [])}
        assert set(acked) <= stored
        assert len(stored) - len(acked) <= 4  # at most the in-flight request of each writer
    finally:
        proc.terminate()
        proc.wait(10)
