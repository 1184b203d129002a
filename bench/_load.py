"""What the HTTP benchmarks share: starting a server process, and vegeta (an open- or
closed-loop load generator, installed with `go install` on first use)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


def vegeta() -> str:
    found = shutil.which("vegeta") or str(Path.home() / "go/bin/vegeta")
    if not Path(found).exists():
        print("installing vegeta (open-loop load generator) with go install ...", flush=True)
        subprocess.run(
            ["go", "install", "github.com/tsenart/vegeta/v12@v12.13.0"],
            check=True,
            env=os.environ | {"GOFLAGS": "-mod=mod"},
        )
    return found


def start_server(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """Start a server and wait (up to 30 s) until it accepts connections on `port`."""
    proc = subprocess.Popen(command, env=os.environ | env, stdout=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{command} did not start on port {port}")


def attack(target_file: Path, *options: str) -> dict[str, Any]:
    """Run `vegeta attack` over a JSON target file and return its JSON report."""
    attacked = subprocess.run(
        [vegeta(), "attack", "-format=json", f"-targets={target_file}", "-lazy", *options],
        capture_output=True,
        check=True,
    )
    target_file.unlink()
    report = subprocess.run(
        [vegeta(), "report", "-type=json"], input=attacked.stdout, capture_output=True, check=True
    )
    figures: dict[str, Any] = json.loads(report.stdout)
    if figures.get("errors"):
        print(f"  errors: {figures['errors'][:3]}", flush=True)
    return figures
