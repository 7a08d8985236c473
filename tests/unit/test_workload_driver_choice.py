"""The operator's workload driver: Kubernetes in a cluster, local processes elsewhere, or as told."""

from __future__ import annotations

import pytest
from kubernetes import client

from tradeplane.operator.workload_driver import UnknownDriver, chosen_driver, workload_driver
from tradeplane.runtime.workloads.kubernetes import KubernetesDriver
from tradeplane.runtime.workloads.local import LocalProcessDriver

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "local"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, "kubernetes"),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1", "TRADEPLANE_WORKLOAD_DRIVER": "local"}, "local"),
        ({"TRADEPLANE_WORKLOAD_DRIVER": "kubernetes"}, "kubernetes"),
    ],
)
def test_choice(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    for name in ("KUBERNETES_SERVICE_HOST", "TRADEPLANE_WORKLOAD_DRIVER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert chosen_driver() == expected


def test_an_unknown_driver_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEPLANE_WORKLOAD_DRIVER", "docker")
    with pytest.raises(UnknownDriver, match="'kubernetes' or 'local'"):
        chosen_driver()


def test_drivers_and_the_database_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("TRADEPLANE_HOME", str(tmp_path))
    api = client.ApiClient()
    monkeypatch.setenv("TRADEPLANE_WORKLOAD_DRIVER", "kubernetes")
    driver, secret = workload_driver(api)
    assert isinstance(driver, KubernetesDriver) and secret == "tradeplane-database"
    monkeypatch.setenv("TRADEPLANE_WORKLOAD_DRIVER", "local")
    driver, secret = workload_driver(api)
    assert isinstance(driver, LocalProcessDriver) and secret is None
    driver.close()
