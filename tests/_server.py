"""Start ``boundary-nlp serve`` as a real process on a free local port, for the serve tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(*args: str) -> list[str]:
    """``boundary-nlp serve ARGS`` from the running interpreter's environment."""
    script = Path(sys.executable).with_name("boundary-nlp")
    if script.exists():
        return [str(script), "serve", *args]
    return [sys.executable, "-m", "boundary_nlp.cli", "serve", *args]


class Server:
    """A server process; ``url`` is its base address. Use as a context manager."""

    def __init__(self, *args: str, log: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "wb")
        self.process = subprocess.Popen(
            serve_command("--port", str(self.port), *args),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: workers stop with it
        )

    def wait(self, client) -> Server:
        """Poll ``/v1/health`` until it answers; fail with the server's log if it exits or hangs."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.output()}")
            try:
                if client.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return self
            except Exception:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not answer /v1/health in {STARTUP_SECONDS} s:\n{self.output()}")

    def output(self) -> str:
        self._log_file.flush()
        return self.log.read_text("utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
