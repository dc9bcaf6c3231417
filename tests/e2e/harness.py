"""Run the real bridge (`python -m bot serve`) as a subprocess against the local fakes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.fakes.slack_events import post_signed, sign

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"
OPENAI_KEY = "sk-test-key-not-real"

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], T | None], *, timeout: float = 15.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(0.02)


class BridgeProcess:
    """`python -m bot serve --http` (or `--socket`: Socket Mode) in a subprocess, with its own
    port, env and log file. In Socket Mode /healthz is still served on the port."""

    def __init__(self, *, workdir: Path, env: dict[str, str], mode: str = "http") -> None:
        if mode not in ("http", "socket"):
            raise ValueError(f"mode must be http or socket, not {mode!r}")
        self.mode = mode
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self._use_port(free_port(), env)

    def _use_port(self, port: int, env: dict[str, str]) -> None:
        self.port = port
        self.env = {**env, "PORT": str(port)}
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = self.workdir / f"bridge-{port}.log"

    def start(self, *, wait: bool = True) -> BridgeProcess:
        for attempt in range(3):
            log = self.log_path.open("ab")
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", f"--{self.mode}"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            if not wait:
                return self
            try:
                wait_for(self._healthy, timeout=30, what=f"bridge health; log:\n{self.log()}")
                return self
            except AssertionError:
                # free_port() let the port go before the bridge bound it: another test's
                # process may have taken it meanwhile. Only that is tried again, elsewhere.
                if attempt == 2 or "is already in use" not in self.log():
                    raise
                self._use_port(free_port(), self.env)
        return self

    def _healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"bridge exited with {self.proc.returncode}:\n{self.log()}")
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, *, timeout: float = 30) -> int:
        """SIGTERM, as Heroku does; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def freeze(self) -> None:
        """SIGSTOP: the process stops where it is (a stalled dyno); its leases run out."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT: a frozen process goes on from where it stopped."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: the process dies at whatever line it is on."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def send(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
    ) -> tuple[int, str]:
        """POST an Events API payload, signed as Slack signs it."""
        body = json.dumps(payload).encode()
        return post_signed(
            self.url + "/slack/events",
            body,
            secret,
            content_type="application/json",
            retry_num=retry_num,
            timestamp=timestamp,
        )

    def send_raw(self, body: bytes, *, content_type: str) -> tuple[int, str]:
        return post_signed(
            self.url + "/slack/events", body, SIGNING_SECRET, content_type=content_type
        )


def base_env(*, slack_url: str, openai_url: str, database_url: str) -> dict[str, str]:
    """The environment a user sets, pointed at the fakes; nothing inherited but PATH and HOME."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {
        **keep,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": openai_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "LEASE_SECONDS": "3",
        # A function call may not outlast the lease (bot/config.py refuses it otherwise).
        "FUNCTION_TIMEOUT_SECONDS": "3",
        # Answers are posted when done (the path of Assistants turns, STREAMING=off and
        # surfaces that refuse streams), which most tests read; the streaming tests
        # (tests/e2e/test_streaming*.py) and the ones run both ways set STREAMING=on.
        "STREAMING": "off",
    }


__all__ = ["BridgeProcess", "base_env", "free_port", "sign", "wait_for"]
