"""The real OpenID provider's fixtures (tests/oidc) for the federation tests."""

from tests.oidc.fixture import oidc_provider, oidc_provider_factory

__all__ = ["oidc_provider", "oidc_provider_factory"]
