"""Model hyperparameters: the known stable-baselines3 arguments typed, here and in the served schema.

The API server's verdicts on the same values are in tests/integration (test_crd_rejections.py,
test_crd_typed_maps.py); these tests hold the table, the generated schema and the pydantic mirror to
each other and to the documented signatures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from integration.crd_examples import example
from pydantic import ValidationError

from tradeplane.crds import generate
from tradeplane.crds.hyperparameters import BY_NAME, HYPERPARAMETERS, hyperparameters_schema
from tradeplane.crds.model import Algorithm, Model

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
ALGORITHMS = set(get_args(Algorithm.model_fields["name"].annotation))


def _served(kind: str) -> dict[str, Any]:
    path = generate.GENERATED_DIR / f"{kind}.tradeplane.io.yaml"
    schema = yaml.safe_load(path.read_text())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    algorithm = schema["properties"]["spec"]["properties"]["algorithm"]
    served: dict[str, Any] = algorithm["properties"]["hyperparameters"]
    return served


@pytest.mark.parametrize("kind", ["models", "modelversions"])
def test_the_served_schema_types_the_known_keys_and_keeps_the_others(kind: str) -> None:
    served = _served(kind)
    assert served == hyperparameters_schema()
    assert served["x-kubernetes-preserve-unknown-fields"] is True and served["type"] == "object"
    properties = served["properties"]
    assert (properties["gamma"]["type"], properties["gamma"]["minimum"], properties["gamma"]["maximum"]) == (
        "number",
        0,
        1,
    )
    for name in ("n_steps", "batch_size", "n_epochs", "buffer_size", "learning_starts", "gradient_steps"):
        assert properties[name]["type"] == "integer", name
    for name in ("learning_rate", "gae_lambda", "clip_range", "vf_coef", "max_grad_norm", "tau"):
        assert properties[name]["type"] == "number", name
    for name in ("use_sde", "normalize_advantage"):
        assert properties[name]["type"] == "boolean", name
    assert properties["policy_kwargs"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "description": properties["policy_kwargs"]["description"],
    }
    assert "type" not in properties["train_freq"] and "pattern" not in properties["train_freq"]
    assert properties["ent_coef"]["pattern"] == "^auto(_[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?)?$"


def test_the_table_names_each_argument_once_for_known_algorithms() -> None:
    assert len(BY_NAME) == len(HYPERPARAMETERS)
    for declared in HYPERPARAMETERS:
        assert declared.algorithms and set(declared.algorithms) <= ALGORITHMS, declared.name
    assert {"exploration_fraction", "exploration_initial_eps", "exploration_final_eps"} <= set(BY_NAME)
    assert BY_NAME["n_epochs"].algorithms == ("PPO",) and BY_NAME["policy_delay"].algorithms == ("TD3",)
    assert "SAC" in BY_NAME["ent_coef"].algorithms and "SAC" in BY_NAME["target_update_interval"].algorithms


def _algorithm(**hyperparameters: Any) -> Algorithm:
    return Algorithm.model_validate({"name": "SAC", "hyperparameters": hyperparameters})


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"gamma": "0.99"}, "spec.algorithm.hyperparameters.gamma must be of type number, got '0.99'"),
        ({"n_steps": "2048"}, "spec.algorithm.hyperparameters.n_steps must be of type integer"),
        ({"n_steps": 2048.5}, "spec.algorithm.hyperparameters.n_steps must be of type integer"),
        ({"batch_size": True}, "spec.algorithm.hyperparameters.batch_size must be of type integer"),
        ({"gamma": False}, "spec.algorithm.hyperparameters.gamma must be of type number"),
        ({"use_sde": 1}, "spec.algorithm.hyperparameters.use_sde must be of type boolean"),
        ({"policy_kwargs": [64, 64]}, "spec.algorithm.hyperparameters.policy_kwargs must be of type object"),
        ({"gamma": 1.5}, "spec.algorithm.hyperparameters.gamma should be less than or equal to 1, got 1.5"),
        ({"learning_rate": 0}, "learning_rate should be greater than 0, got 0"),
        ({"buffer_size": 0}, "buffer_size should be greater than or equal to 1, got 0"),
        ({"gradient_steps": -2}, "gradient_steps should be greater than or equal to -1"),
        ({"ent_coef": "0.01"}, "spec.algorithm.hyperparameters.ent_coef should match"),
        ({"ent_coef": -0.1}, "ent_coef should be greater than or equal to 0"),
        ({"ent_coef": [0.1]}, "ent_coef must be a number or a string"),
        ({"target_entropy": "auto_0.1"}, "target_entropy should match '^auto$'"),
    ],
)
def test_pydantic_refuses_what_the_served_schema_refuses(
    hyperparameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        _algorithm(**hyperparameters)
    assert message in str(raised.value)


def test_known_keys_of_every_kind_and_unknown_keys_are_kept_as_written() -> None:
    written = {
        "learning_rate": 0.0003,
        "gamma": 1,
        "ent_coef": "auto_0.1",
        "target_entropy": -2.5,
        "train_freq": [1, "episode"],
        "gradient_steps": -1,
        "use_sde": True,
        "policy_kwargs": {"net_arch": {"pi": [64, 64], "qf": [400, 300]}},
        "device": "cpu",
        "some_future_argument": {"anything": ["goes"]},
    }
    assert _algorithm(**written).hyperparameters == written
    for ent_coef in ("auto", "auto_1e-3", 0, 0.01):
        assert _algorithm(ent_coef=ent_coef).hyperparameters == {"ent_coef": ent_coef}
    model = example("Model")
    model["spec"]["algorithm"]["hyperparameters"] = written
    assert Model.model_validate(model).to_k8s() == model


def test_the_sample_model_uses_only_declared_keys_with_their_types() -> None:
    sample = yaml.safe_load((ROOT / "manifests" / "samples" / "model.yaml").read_text())
    hyperparameters = sample["spec"]["algorithm"]["hyperparameters"]
    assert set(hyperparameters) <= set(BY_NAME)
    assert all(BY_NAME[name].problem(value) is None for name, value in hyperparameters.items())
    Model.model_validate(sample)
