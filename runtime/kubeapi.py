"""The one way tradeplane builds a Kubernetes API client (operator, workload driver, commands).

An explicit kubeconfig wins; inside a pod the service account is used; otherwise the usual
``KUBECONFIG`` / ``~/.kube/config`` resolution applies.
"""

from __future__ import annotations

from pathlib import Path

from kubernetes import client, config


def api_client(kubeconfig: str | Path | None = None) -> client.ApiClient:
    if kubeconfig is not None:
        built: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig)
        )
        return built
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    return client.ApiClient(configuration)
