"""The SDK's requests (most requests a server sees) find their view first, without walking the pages'
patterns; the pages resolve as before."""

import pytest
from django.urls import URLPattern, resolve


@pytest.fixture
def tried(monkeypatch) -> list[str]:
    patterns: list[str] = []
    real = URLPattern.resolve

    def record(self, path):
        patterns.append(str(self.pattern))
        return real(self, path)

    monkeypatch.setattr(URLPattern, "resolve", record)
    return patterns


@pytest.mark.parametrize(
    "path, view",
    [
        ("/graphql", "wandb_api:graphql"),
        ("/files/upload/token", "wandb_api:upload"),
        ("/files/reviewco/mnist/abc123/file_stream", "wandb_api:file_stream"),
    ],
)
def test_an_sdk_path_is_resolved_among_the_apis_patterns_alone(tried, path, view):
    assert resolve(path).view_name == view
    assert len(tried) <= 4, tried


def test_pages_still_resolve():
    assert resolve("/").view_name == "home"
    assert resolve("/registry/model").view_name == "registry:model_list"
    assert resolve("/reviewco/mnist/artifacts").view_name == "artifacts:artifact_browse"
