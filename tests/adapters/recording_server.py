"""A loopback ARM that answers with recorded Azure responses, for the replay tests.

``tests/data/recordings/`` holds trimmed excerpts of public recordings of real Azure sessions.
:func:`serve_replay` starts a loopback HTTPS server (a throwaway trustme CA, as the sandbox
makes its own) that answers the app's SDK calls with the recorded responses, matched on
method + path, case-insensitively: the recorded api-versions differ from the SDK's, so the
query string is ignored. It records every request (method, path, JSON body) it is sent.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme
from azure.core.credentials import AccessToken

from pgflex_gui.azure.clients import ClientFactory
from pgflex_gui.domain.cloud import CloudConfig

__all__ = [
    "DATA",
    "RECORDED_HOST",
    "Replay",
    "StaticToken",
    "diff",
    "load_recording",
    "path_of",
    "replay_client_factory",
    "serve_replay",
]

DATA = Path(__file__).resolve().parent.parent / "data" / "recordings"
RECORDED_HOST = "https://management.azure.com"


def load_recording(name: str) -> dict[str, Any]:
    """One recording file of ``tests/data/recordings``."""
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def path_of(uri: str) -> str:
    """The lower-case path of a URL (what the replay matches on)."""
    return urlsplit(uri).path.lower()


@dataclass
class Replay:
    """Recorded answers by (METHOD, lower-case path); repeated paths answer in turn."""

    base_url: str = ""
    ca_bundle: str = ""
    answers: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, interactions: list[dict[str, Any]]) -> None:
        for it in interactions:
            self.answers.setdefault((it["method"], path_of(it["uri"])), []).append(it)

    def reset(self) -> None:
        """Forget the loaded answers and the requests seen."""
        with self.lock:
            self.answers.clear()
            self.requests.clear()

    def answer(self, method: str, path: str, body: Any) -> dict[str, Any] | None:
        with self.lock:
            self.requests.append((method, path, body))
            queue = self.answers.get((method, path.lower()))
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(replay: Replay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            it = replay.answer(self.command, urlsplit(self.path).path, body)
            if it is None:
                payload = json.dumps(
                    {"error": {"code": "NotRecorded", "message": f"{self.command} {self.path}"}}
                ).encode()
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
            else:
                payload = b"" if it["body"] is None else json.dumps(it["body"]).encode()
                self.send_response(int(it["status"]))
                for name, value in it["headers"].items():
                    self.send_header(name, value.replace(RECORDED_HOST, replay.base_url))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    return Handler


class StaticToken:
    """A credential for the replay server, which checks no token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("replay-token", 4_102_444_800)


@contextmanager
def serve_replay(folder: Path) -> Iterator[Replay]:
    """Run the replay server (its CA bundle in ``folder``) until the block ends."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    state = Replay()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = False
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state.base_url = f"https://127.0.0.1:{server.server_address[1]}"
    state.ca_bundle = str(ca_pem)
    thread = threading.Thread(target=server.serve_forever, name="replay-arm", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def replay_client_factory(replay: Replay) -> ClientFactory:
    """The app's client factory pointed at the replay server (close it when done)."""
    cloud = CloudConfig(
        name="Replay",
        arm_endpoint=replay.base_url,
        authority_host=replay.base_url,
        credential_scope=replay.base_url + "/.default",
        ca_bundle=replay.ca_bundle,
    )
    return ClientFactory(cloud, StaticToken())  # type: ignore[arg-type]


def diff(sent: Any, recorded: Any, where: str = "") -> list[str]:
    """Field paths where ``sent`` and ``recorded`` differ (dicts compared key by key)."""
    if isinstance(sent, dict) and isinstance(recorded, dict):
        out: list[str] = []
        for key in sorted(set(sent) | set(recorded)):
            path = f"{where}.{key}" if where else key
            if key not in sent or key not in recorded:
                out.append(path)
            else:
                out.extend(diff(sent[key], recorded[key], path))
        return out
    return [] if sent == recorded else [where]
