"""The real OpenID provider (tests/oidc), SAML IdP (tests/saml) and LDAP directory (tests/ldap)."""

from tests.ldap.fixture import slapd
from tests.oidc.fixture import oidc_provider, oidc_provider_factory
from tests.saml.fixture import saml_idp_factory

__all__ = ["oidc_provider", "oidc_provider_factory", "saml_idp_factory", "slapd"]
