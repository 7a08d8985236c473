"""The local PKI: a chain the apiserver and clients accept, and keys nobody else can read."""

from __future__ import annotations

import base64
import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tradeplane.embedded import kubeconfig, pki

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> pki.ClusterPKI:
    return pki.generate(tmp_path_factory.mktemp("pki"))


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_leaf_certificates_are_signed_by_the_cluster_ca(material: pki.ClusterPKI) -> None:
    ca = _cert(material.ca_cert)
    for leaf in (_cert(material.serving_cert), _cert(material.admin_cert)):
        leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


def test_serving_certificate_names_loopback(material: pki.ClusterPKI) -> None:
    serving = _cert(material.serving_cert)
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]


def test_admin_is_a_cluster_admin_client(material: pki.ClusterPKI) -> None:
    admin = _cert(material.admin_cert)
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    usage = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert isinstance(admin.public_key(), ec.EllipticCurvePublicKey)


def test_every_file_is_private(material: pki.ClusterPKI) -> None:
    assert material.exists()
    modes = {path.name: path.stat().st_mode & 0o777 for path in material.directory.iterdir()}
    assert set(modes.values()) == {0o600}, modes
    assert material.directory.stat().st_mode & 0o777 == 0o700


def test_kubeconfig_embeds_the_material(material: pki.ClusterPKI, tmp_path: Path) -> None:
    path = kubeconfig.write(tmp_path / "kubeconfig", "https://127.0.0.1:6443", material)
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == kubeconfig.CONTEXT
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == material.ca_cert.read_bytes()
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == material.admin_key.read_bytes()
    assert path.stat().st_mode & 0o777 == 0o600
