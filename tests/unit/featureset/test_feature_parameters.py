"""Feature parameters: one set of declarations, served typed by the CRD and enforced by the registry.

The API server's behaviour on these schemas is in tests/integration (test_crd_rejections.py,
test_crd_typed_maps.py); here, the generated schema against the registry the operator runs, and the
lenient Python model that lets an object stored under an older CRD reach the registry's verdict.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from unit.featureset.builders import SAMPLE

from tradeplane.crds import generate
from tradeplane.crds.feature_parameters import STANDARD_PARAMETERS, Param, params_rules, params_schema
from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.registry import FeatureParamError
from tradeplane.runtime.features.standard import STANDARD

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


def _feature_schema() -> dict[str, Any]:
    crd = yaml.safe_load((generate.GENERATED_DIR / "featuresets.tradeplane.io.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    item: dict[str, Any] = spec["properties"]["features"]["items"]
    return item


def _takers() -> dict[str, dict[str, Param]]:
    """Parameter name -> {transform: declaration}, read from the registry the operator runs."""
    takers: dict[str, dict[str, Param]] = {}
    for transform in STANDARD.names():
        for param in STANDARD.get(transform).params:
            takers.setdefault(param.name, {})[transform] = param
    return takers


def test_the_registry_registers_exactly_the_declared_parameters() -> None:
    assert STANDARD.names() == sorted(STANDARD_PARAMETERS)
    for transform, declared in STANDARD_PARAMETERS.items():
        assert STANDARD.get(transform).params is declared, transform


def test_the_served_params_are_every_registry_parameter_typed() -> None:
    params = _feature_schema()["properties"]["params"]
    assert params["type"] == "object" and "additionalProperties" not in params
    # an unknown key is kept for the registry to refuse by name, never pruned into a silent default
    assert params["x-kubernetes-preserve-unknown-fields"] is True
    assert set(params["properties"]) == set(_takers())
    for name, takers in _takers().items():
        node = params["properties"][name]
        if any(p.decimal for p in takers.values()):
            assert node["type"] == "string" and node["pattern"].startswith("^"), name
            assert re.fullmatch(node["pattern"], "2.5") and not re.fullmatch(node["pattern"], "2e0")
        else:
            assert node["type"] == "integer", name
            assert node["minimum"] == min(int(p.minimum) for p in takers.values()), name
            assert node["maximum"] == max(int(p.maximum) for p in takers.values()), name
        for transform, param in takers.items():
            assert f"{param.minimum}..{param.maximum} (default {param.default})" in node["description"]
            assert transform in node["description"]


def test_each_parameter_is_tied_to_the_transforms_that_take_it() -> None:
    rules = {rule["fieldPath"]: rule for rule in _feature_schema()["x-kubernetes-validations"]}
    assert set(rules) == {f".params.{name}" for name in _takers()}
    for name, takers in _takers().items():
        rule = rules[f".params.{name}"]
        listed = re.search(r"self\.transform in \[(.*)\]", rule["rule"])
        assert listed is not None, rule
        assert re.findall(r"'([^']+)'", listed.group(1)) == sorted(takers), name
        assert rule["rule"].startswith(f"!has(self.params) || !has(self.params.{name}) || ")
        assert rule["message"].startswith(f"spec.features[].params.{name} is a parameter of ")


def test_a_parameter_name_cannot_be_an_integer_for_one_transform_and_a_decimal_for_another() -> None:
    declared = {"a": (Param("w", 1, 1, 9),), "b": (Param("w", "1", "1", "9", decimal=True),)}
    with pytest.raises(ValueError, match="parameter 'w' must be a decimal for every transform or for none"):
        params_schema(declared)
    signed = params_schema({"a": (Param("d", "0", "-1", "1", decimal=True),)})["properties"]["d"]
    assert re.fullmatch(signed["pattern"], "-0.5")
    assert [r["fieldPath"] for r in params_rules(declared)] == [".params.w"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n": "14"}, "feature 'rsi_14': parameter 'n' must be an integer, got '14'"),
        ({"n": 5000}, "feature 'rsi_14': parameter 'n' must be an integer in [2, 1000], got 5000"),
        ({"k": "2"}, "feature 'rsi_14': parameter 'k' is not a parameter of rsi (allowed: n)"),
        ({"false": 14}, "feature 'rsi_14': parameter 'false' is not a parameter of rsi (allowed: n)"),
    ],
)
def test_what_an_older_crd_stored_still_parses_and_the_registry_names_the_problem(
    params: dict[str, Any], message: str
) -> None:
    spec = {**SAMPLE["spec"], "features": [{"name": "rsi_14", "transform": "rsi", "params": params}]}
    parsed = FeatureSetSpec.model_validate(spec)
    assert parsed.features[0].params == params
    with pytest.raises(FeatureParamError) as raised:
        FeatureContract.from_spec(parsed)
    assert str(raised.value) == message


def test_the_yaml_sample_quotes_the_parameter_n_so_kubectl_reads_it_as_n() -> None:
    text = (ROOT / "manifests" / "samples" / "featureset.yaml").read_text()
    assert _as_kubectl_reads(text) == yaml.safe_load(text)
    assert any("n" in (f.get("params") or {}) for f in SAMPLE["spec"]["features"])


class _Yaml11Loader(yaml.SafeLoader):
    """YAML 1.1 as Go reads it (kubectl): a bare y/Y/n/N is a boolean, as yes/no/on/off are."""

    bool_values: ClassVar[dict[str, bool]] = {**yaml.SafeLoader.bool_values, "y": True, "n": False}


_Yaml11Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def _as_kubectl_reads(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml11Loader)


def test_the_kubectl_reading_differs_on_a_bare_n() -> None:
    assert _as_kubectl_reads("n: 14") == {False: 14} and yaml.safe_load("n: 14") == {"n": 14}


def test_every_generated_file_reads_the_same_for_kubectl() -> None:
    for path, text in generate.rendered().items():
        if path.suffix == ".yaml":
            assert _as_kubectl_reads(text) == yaml.safe_load(text), path
