"""The real OpenID provider's (tests/oidc) and SAML IdP's (tests/saml) fixtures."""

from tests.oidc.fixture import oidc_provider, oidc_provider_factory
from tests.saml.fixture import saml_idp_factory

__all__ = ["oidc_provider", "oidc_provider_factory", "saml_idp_factory"]
