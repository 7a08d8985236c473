"""Free-form maps typed at the API server: FeatureSet feature params and Model hyperparameters.

What the schema accepts is checked here with complete good specs (every registry transform with
every parameter; hyperparameters of every kind, plus keys the schema does not know), stored as
written. What it refuses, naming the field, is in test_crd_rejections.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from harness.cluster import ClusterHandle
from harness.crds import create, get_object
from integration.crd_examples import example

from tradeplane.crds.feature_parameters import STANDARD_PARAMETERS
from tradeplane.crds.featureset import FeatureSet
from tradeplane.crds.model import Model

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "samples" / "featureset.yaml"


def _every_transform_with_every_parameter() -> list[dict[str, Any]]:
    return [
        {
            "name": transform.replace(".", "_"),
            "transform": transform,
            **({"params": {p.name: p.maximum for p in params}} if params else {}),
        }
        for transform, params in sorted(STANDARD_PARAMETERS.items())
    ]


def test_every_registry_parameter_at_its_bound_is_accepted_and_stored_as_written(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    obj = example("FeatureSet")
    obj["spec"]["contextIntervals"] = []
    obj["spec"]["features"] = _every_transform_with_every_parameter()
    assert {"n", "k", "fast", "slow", "signal", "normalize"} <= {
        name for f in obj["spec"]["features"] for name in f.get("params", {})
    }
    result = create(crds_installed, namespace, tmp_path, obj)
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, "FeatureSet", obj["metadata"]["name"])
    assert stored["spec"]["features"] == obj["spec"]["features"]
    FeatureSet.model_validate(stored)


def test_the_yaml_sample_keeps_its_parameter_names_through_kubectl(
    crds_installed: ClusterHandle, namespace: str
) -> None:
    """Go's YAML reads a bare ``n`` as ``false``; the sample quotes it, so kubectl sends ``n``."""
    result = crds_installed.kubectl("create", "-n", namespace, "-f", str(SAMPLE), check=False)
    assert result.returncode == 0, result.stderr
    sample = yaml.safe_load(SAMPLE.read_text())
    stored = get_object(crds_installed, namespace, "FeatureSet", sample["metadata"]["name"])
    assert [f.get("params") for f in stored["spec"]["features"]] == [
        f.get("params") for f in sample["spec"]["features"]
    ]


def test_an_unknown_parameter_is_kept_for_the_operator_to_refuse_never_pruned(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    """What kubectl makes of a bare ``n: 14`` (``false: 14``) must not become rsi's default n."""
    obj = example("FeatureSet")
    obj["spec"]["features"][1]["params"] = {"false": 14, "n": 21}
    result = create(crds_installed, namespace, tmp_path, obj)
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, "FeatureSet", obj["metadata"]["name"])
    assert stored["spec"]["features"][1]["params"] == {"false": 14, "n": 21}


@pytest.mark.parametrize(
    ("algorithm", "hyperparameters"),
    [
        (
            "SAC",
            {
                "learning_rate": 0.0003,
                "gamma": 1,
                "ent_coef": "auto_0.1",
                "target_entropy": -2.5,
                "train_freq": [1, "episode"],
                "gradient_steps": -1,
                "use_sde": True,
                "policy_kwargs": {"net_arch": {"pi": [64, 64], "qf": [400, 300]}, "log_std_init": -3},
                "replay_buffer_kwargs": {"handle_timeout_termination": False},
                "device": "cpu",
            },
        ),
        (
            "PPO",
            {
                "ent_coef": 0.01,
                "clip_range": 0.2,
                "n_epochs": 10,
                "normalize_advantage": False,
                "target_kl": 0.02,
            },
        ),
        ("DQN", {"exploration_fraction": 0.1, "train_freq": 4, "target_update_interval": 1000}),
        ("TD3", {"policy_delay": 2, "target_policy_noise": 0.2, "tau": 0.005}),
        ("A2C", {"ent_coef": 0, "use_rms_prop": False, "rms_prop_eps": 1e-05, "n_steps": 5}),
    ],
    ids=["SAC", "PPO", "DQN", "TD3", "A2C"],
)
def test_typed_hyperparameters_and_unknown_keys_are_accepted_and_stored_as_written(
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    algorithm: str,
    hyperparameters: dict[str, Any],
) -> None:
    obj = example("Model")
    obj["metadata"]["name"] = f"typed-{algorithm.lower()}"
    obj["spec"]["algorithm"].update(name=algorithm, hyperparameters=hyperparameters)
    result = create(crds_installed, namespace, tmp_path, obj)
    assert result.returncode == 0, result.stderr
    stored = get_object(crds_installed, namespace, "Model", obj["metadata"]["name"])
    assert stored["spec"]["algorithm"]["hyperparameters"] == hyperparameters
    Model.model_validate(stored)
