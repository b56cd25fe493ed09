"""`medagent serve` as a real process: startup, and durability across SIGKILL mid-write."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx

from medagent.fhir_server.process import start_serve

from ._data import observation, patient


def test_sigkill_mid_write_keeps_every_acknowledged_write(tmp_path):
    db = tmp_path / "kill.db"
    server = start_serve(db, "--no-seed")
    proc, base = server.proc, server.base_url
    acked: list[str] = []
    stop = threading.Event()
    httpx.put(f"{base}/Patient/S0000001", json=patient("S0000001")).raise_for_status()

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
    server.log.close()

    server = start_serve(db, "--no-seed", port=server.port)
    try:
        got = httpx.get(f"{base}/Observation", params={"_count": "5000", "_elements": "id"}).json()
        stored = {e["resource"]["id"] for e in got.get("entry", [])}
        assert set(acked) <= stored
        assert len(stored) - len(acked) <= 4  # at most the in-flight request of each writer
    finally:
        server.stop()
