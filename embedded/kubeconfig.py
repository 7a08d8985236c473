"""The admin kubeconfig of the local control plane (embedded certificate data, one context)."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from tradeplane.embedded.pki import ClusterPKI

CONTEXT = "tradeplane-local"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def render(server: str, pki: ClusterPKI) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": _b64(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": "admin",
                "user": {
                    "client-certificate-data": _b64(pki.admin_cert),
                    "client-key-data": _b64(pki.admin_key),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": "admin"}}],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write(path: Path, server: str, pki: ClusterPKI) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(server, pki))
    path.chmod(0o600)
    return path
