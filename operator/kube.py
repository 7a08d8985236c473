"""The operator's own Kubernetes calls (kopf itself is not a client): Secrets, Events, annotations.

They are awaited on the operator's event loop over one aiohttp session, with the credentials of the
official client's configuration (kubeconfig or service account, token refresh included). The
official client is synchronous: each call took a worker thread that fought the event loop for the
interpreter lock and cost 20-30 ms of a pass in a burst, where these few requests need no models.
Secrets are read only to learn which keys exist and the venue key pair; the values stay in memory
and never leave this module but as :class:`Credentials`.
"""

from __future__ import annotations

import base64
import json
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
from kubernetes import client

from tradeplane.crds.common import GROUP, VERSION
from tradeplane.reconcilers.kinds import SecretCheck
from tradeplane.runtime.venue.credentials import Credentials

MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = aiohttp.ClientTimeout(total=30)


class KubeRequestFailed(RuntimeError):
    """The API server refused a request; the status and its message say why."""

    def __init__(self, method: str, path: str, status: int, message: str) -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status


def tls_context(configuration: client.Configuration) -> ssl.SSLContext | bool:
    """The TLS settings of the official client's configuration, for aiohttp."""
    if not configuration.host.startswith("https"):
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _message(text: str) -> str:
    try:
        return str(json.loads(text).get("message") or text)
    except (ValueError, AttributeError):
        return text


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        """Shared with the workload driver; closed with this client."""
        self.configuration: client.Configuration = api.configuration
        self.host = self.configuration.host.rstrip("/")
        self._tls = tls_context(self.configuration)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        # per request: an in-cluster token is re-read when the client's refresh hook says so
        token = self.configuration.get_api_key_with_prefix("authorization")
        if token:
            headers["Authorization"] = token
        return headers

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, content_type: str | None = None
    ) -> tuple[int, str]:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=self._tls, limit=32)
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        data = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = self._headers(content_type or ("application/json" if body is not None else None))
        async with self._session.request(method, self.host + path, data=data, headers=headers) as response:
            return response.status, await response.text()

    async def _expect(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        content_type: str | None = None,
        tolerated: frozenset[int] = frozenset(),
    ) -> tuple[int, str]:
        status, text = await self._request(method, path, body, content_type=content_type)
        if status >= 400 and status not in tolerated:
            raise KubeRequestFailed(method, path, status, _message(text))
        return status, text

    async def secret(
        self, namespace: str, name: str, api_key_key: str, secret_key_key: str
    ) -> tuple[SecretCheck, Credentials | None]:
        """Which keys the Secret has, and the key pair when both named keys hold a value, from one
        read; the values stay in memory only and never reach a reconciler."""
        path = f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(name)}"
        status, text = await self._expect("GET", path, tolerated=frozenset({404}))
        if status == 404:
            return SecretCheck(exists=False), None
        secret: dict[str, Any] = json.loads(text)
        data: dict[str, str] = secret.get("data") or {}
        keys = frozenset(data.keys()) | frozenset((secret.get("stringData") or {}).keys())
        check = SecretCheck(exists=True, keys=keys)
        if api_key_key not in data or secret_key_key not in data:
            return check, None
        decoded = (
            base64.b64decode(data[api_key_key]).decode(),
            base64.b64decode(data[secret_key_key]).decode(),
        )
        return check, Credentials(*decoded) if all(decoded) else None

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create the Event; an AlreadyExists (a retry after a crash) is the same Event, so it is fine."""
        path = f"/api/v1/namespaces/{quote(namespace)}/events"
        await self._expect("POST", path, body, tolerated=frozenset({409}))

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Merge annotations into an object; one deleted meanwhile needs nothing any more."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{plural}/{quote(name)}"
        body = {"metadata": {"annotations": annotations}}
        await self._expect("PATCH", path, body, content_type=MERGE_PATCH, tolerated=frozenset({404}))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self.api.close()  # type: ignore[no-untyped-call]
