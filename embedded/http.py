"""Minimal HTTPS/HTTP probes of the control plane's own endpoints (health, readiness, bootstrap).

The components are ours and local, so a few stdlib requests suffice; everything a user does
against the cluster goes through kubectl or the Kubernetes client instead.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from tradeplane.embedded.pki import ClusterPKI

TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Response:
    status: int
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def _request(url: str, context: ssl.SSLContext | None, method: str = "GET", payload: Any = None) -> Response:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - local URLs we built
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=context) as reply:  # noqa: S310
            return Response(reply.status, reply.read().decode(errors="replace"))
    except urllib.error.HTTPError as err:
        return Response(err.code, err.read().decode(errors="replace"))
    except (urllib.error.URLError, OSError, TimeoutError):
        return Response(0, "")


def get_plain(url: str) -> Response:
    return _request(url, None)


def get_insecure(url: str) -> Response:
    """For the controller-manager's and scheduler's self-signed health endpoints on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return _request(url, context)


class ApiClient:
    """Admin access to the local apiserver with the cluster CA and the admin client certificate."""

    def __init__(self, server: str, pki: ClusterPKI) -> None:
        self.server = server.rstrip("/")
        self._anonymous = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._admin = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._admin.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))

    def readyz(self) -> Response:
        return _request(f"{self.server}/readyz", self._anonymous)

    def get(self, path: str) -> Response:
        return _request(f"{self.server}{path}", self._admin)

    def post(self, path: str, body: Any) -> Response:
        return _request(f"{self.server}{path}", self._admin, method="POST", payload=body)
