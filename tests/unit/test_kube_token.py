"""The token readygate shows a kubelet: the same credentials as its API calls, in the form the
kubelet's webhook authenticator reads, whatever key the client version keeps it under."""

from __future__ import annotations

import kubernetes
import pytest

from readygate.kube.client import bearer_token


@pytest.mark.parametrize(("key", "value", "header"), [
    ("BearerToken", "abc", "Bearer abc"),          # in-cluster config, recent clients
    ("authorization", "bearer abc", "bearer abc"),  # kubeconfig tokens, older clients
])
def test_bearer_token(key: str, value: str, header: str) -> None:
    config = kubernetes.client.Configuration()
    config.api_key[key] = value
    assert bearer_token(config) == header


def test_client_certificates_send_no_token() -> None:
    assert bearer_token(kubernetes.client.Configuration()) is None
