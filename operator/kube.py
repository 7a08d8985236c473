"""The operator's Kubernetes client calls (kopf itself is not a client).

The official client is synchronous, so every call runs in a worker thread. Secrets are read only to
learn which keys exist; the values are dropped here and never leave this module.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tradeplane.crds.common import GROUP, VERSION
from tradeplane.reconcilers.kinds import SecretCheck


class KubeClient:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    async def secret_keys(self, namespace: str, name: str) -> SecretCheck:
        def get() -> SecretCheck:
            try:
                secret = self.core.read_namespaced_secret(name, namespace)
            except ApiException as exc:
                if exc.status == 404:
                    return SecretCheck(exists=False)
                raise
            keys = frozenset((secret.data or {}).keys()) | frozenset((secret.string_data or {}).keys())
            return SecretCheck(exists=True, keys=keys)

        return await asyncio.to_thread(get)

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create the Event; an AlreadyExists (a retry after a crash) is the same Event, so it is fine."""

        def create() -> None:
            try:
                self.core.create_namespaced_event(namespace, body)  # type: ignore[arg-type]
            except ApiException as exc:
                if exc.status != 409:
                    raise

        await asyncio.to_thread(create)

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        """Merge annotations into an object; one deleted meanwhile needs nothing any more."""

        def patch() -> None:
            body = {"metadata": {"annotations": annotations}}
            try:
                self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, plural, name, body)
            except ApiException as exc:
                if exc.status != 404:
                    raise

        await asyncio.to_thread(patch)

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]
