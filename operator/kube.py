"""The operator's Kubernetes client calls (kopf itself is not a client).

The official client is synchronous, so every call runs in a worker thread. Secrets are read only to
learn which keys exist; the values are dropped here and never leave this module.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tradeplane.crds.common import GROUP, VERSION
from tradeplane.reconcilers.kinds import SecretCheck
from tradeplane.runtime.venue.credentials import Credentials


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    async def secret(
        self, namespace: str, name: str, api_key_key: str, secret_key_key: str
    ) -> tuple[SecretCheck, Credentials | None]:
        """Which keys the Secret has, and the key pair when both named keys hold a value, from one
        read; the values stay in memory only and never reach a reconciler."""

        def get() -> tuple[SecretCheck, Credentials | None]:
            try:
                # raw JSON: only two keys are wanted, not the client's model of the whole Secret
                response = self.core.read_namespaced_secret(name, namespace, _preload_content=False)
            except ApiException as exc:
                if exc.status == 404:
                    return SecretCheck(exists=False), None
                raise
            secret: dict[str, Any] = json.loads(response.data)  # type: ignore[arg-type]
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

        return await asyncio.to_thread(get)

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create the Event; an AlreadyExists (a retry after a crash) is the same Event, so it is fine."""

        def create() -> None:
            try:
                # the created Event is not needed back: skipping its model deserialisation saves CPU
                self.core.create_namespaced_event(namespace, body, _preload_content=False)  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status != 409:
                    raise

        await asyncio.to_thread(create)

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Merge annotations into an object; one deleted meanwhile needs nothing any more."""

        def patch() -> None:
            body = {"metadata": {"annotations": annotations}}
            try:
                self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, plural, name, body, _preload_content=False
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise

        await asyncio.to_thread(patch)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]
