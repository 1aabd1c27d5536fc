"""A real SAML 2.0 identity provider for the tests: pysaml2's own IdP (`saml2.server.Server`),
served over HTTP on a free loopback port by this small separate process.

    python tests/saml/idp.py WORKDIR SP_METADATA_FILE [HOST_NAME]

It makes its own RSA key and self-signed certificate in WORKDIR, reads our SP's metadata, writes
its own metadata to WORKDIR/idp.xml and prints one JSON line: {"url", "entity_id", "metadata"}.

  GET /sso?SAMLRequest&RelayState&SigAlg&Signature  verifies the signed AuthnRequest; without
      `user` it shows a login form, with `user` it answers with a signed Response in an
      auto-posting form to the ACS the request names. Test-only knobs, each a real IdP's
      misbehaviour: scenario=unsigned|response-signed-only|audience|destination|expired|
      unsolicited, class_ref=<AuthnContextClassRef> (default PasswordProtectedTransport).
  GET /slo  a LogoutRequest from the SP (answered with a signed LogoutResponse), or the SP's
      LogoutResponse to ours (kept for /slo/last).
  GET /logout?user=NAME  IdP-initiated logout: a signed LogoutRequest to the SP's SLO.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.assertion import Policy
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.samlp import STATUS_SUCCESS, response_from_string
from saml2.server import Server

PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _keys(folder: Path) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test IdP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "idp.key", folder / "idp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(0o600)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def _server(url: str, folder: Path, sp_metadata: Path) -> Server:
    key_file, cert_file = _keys(folder)
    config = IdPConfig()
    config.load(
        {
            "entityid": f"{url}/metadata",
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": str(key_file),
            "cert_file": str(cert_file),
            "metadata": {"local": [str(sp_metadata)]},
            "signing_algorithm": RSA_SHA256,
            "digest_algorithm": SHA256,
            "service": {
                "idp": {
                    "name": "test IdP",
                    "endpoints": {
                        "single_sign_on_service": [(f"{url}/sso", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(f"{url}/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                    "want_authn_requests_signed": True,
                    "policy": {"default": {"lifetime": {"minutes": 5}}},
                }
            },
        }
    )
    return Server(config=config)


class Idp:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.lock = threading.Lock()
        self.last_logout: dict[str, Any] = {}
        self.sessions: dict[str, str] = {}  # user -> session index of its last assertion

    def sso(self, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        parsed = self.server.parse_authn_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        if parsed is None:
            return 400, "<p>AuthnRequest not verified</p>", {}
        user = query.get("user", "")
        if not user:
            hidden = "".join(
                f'<input type="hidden" name="{k}" value="{html.escape(v)}">'
                for k, v in query.items()
            )
            form = (
                '<form method="get" action="/sso">' + hidden + "<label>IdP username "
                '<input name="user"></label><button type="submit">Sign in at the IdP</button>'
                "</form>"
            )
            return 200, f"<!doctype html><title>test IdP</title><h1>test IdP</h1>{form}", {}
        request = parsed.message
        sp = request.issuer.text
        acs = request.assertion_consumer_service_url
        scenario = query.get("scenario", "ok")
        kwargs: dict[str, Any] = {
            "identity": {"uid": [user], "mail": [f"{user}@bank.test"]},
            "in_response_to": request.id,
            "destination": acs,
            "sp_entity_id": sp,
            "name_id": NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=user),
            "authn": {"class_ref": query.get("class_ref", PASSWORD), "authn_auth": "test IdP"},
            "sign_assertion": True,
            "sign_response": False,
        }
        if scenario == "unsigned":
            kwargs["sign_assertion"] = False
        elif scenario == "response-signed-only":
            kwargs["sign_assertion"], kwargs["sign_response"] = False, True
        elif scenario == "audience":
            kwargs["sp_entity_id"] = "https://elsewhere.bank.test/sp"
        elif scenario == "destination":
            kwargs["destination"] = acs.replace("/acs", "/elsewhere")
        elif scenario == "expired":
            policy = {"default": {"lifetime": {"minutes": -10}}}
            kwargs["release_policy"] = Policy(policy, mds=self.server.metadata)
        elif scenario == "unsolicited":
            kwargs["in_response_to"] = "_someone-elses-request-0123456789"
        with self.lock:
            response = self.server.create_authn_response(**kwargs)
        parsed_back = response_from_string(str(response))
        statements = parsed_back.assertion[0].authn_statement if parsed_back.assertion else []
        if statements and statements[0].session_index:
            self.sessions[user] = statements[0].session_index
        info = self.server.apply_binding(
            BINDING_HTTP_POST, str(response), acs, query.get("RelayState", ""), response=True
        )
        return 200, info["data"], {}

    def slo(self, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        if "SAMLResponse" in query:  # the SP's answer to an IdP-initiated logout
            answer = self.server.parse_logout_request_response(
                query["SAMLResponse"], BINDING_HTTP_REDIRECT
            )
            ok = answer is not None and answer.response.status.status_code.value == STATUS_SUCCESS
            self.last_logout = {"answered": True, "success": ok, "signed": "Signature" in query}
            return 200, "<p>logged out at the SP</p>", {}
        request = self.server.parse_logout_request(
            query["SAMLRequest"],
            BINDING_HTTP_REDIRECT,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        if request is None:
            return 400, "<p>LogoutRequest not verified</p>", {}
        self.last_logout = {
            "requested": True,
            "name_id": request.message.name_id.text,
            "session_index": [i.text for i in request.message.session_index],
            "signed": "Signature" in query,
        }
        sp = request.message.issuer.text
        destination = self._sp_slo(sp)
        answer = self.server.create_logout_response(request.message, [BINDING_HTTP_REDIRECT])
        info = self.server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(answer),
            destination,
            query.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=RSA_SHA256,
        )
        return 303, "", {"Location": dict(info["headers"])["Location"]}

    def _sp_slo(self, sp: str) -> str:
        found = self.server.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")
        return str(found[0]["location"])

    def logout(self, query: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        user = query["user"]
        sp = next(iter(self.server.metadata.service_providers()))
        destination = self._sp_slo(sp)
        index = self.sessions.get(user)
        _, request = self.server.create_logout_request(
            destination,
            sp,
            name_id=saml.NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=user),
            session_indexes=[index] if index else None,
            sign=False,
        )
        info = self.server.apply_binding(
            BINDING_HTTP_REDIRECT, str(request), destination, "", sign=True, sigalg=RSA_SHA256
        )
        return 303, "", {"Location": dict(info["headers"])["Location"]}


def _handler(idp: Idp, metadata: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            try:
                if parsed.path == "/metadata":
                    status, body, headers = 200, metadata, {"Content-Type": "application/xml"}
                elif parsed.path == "/sso":
                    status, body, headers = idp.sso(query)
                elif parsed.path == "/slo":
                    status, body, headers = idp.slo(query)
                elif parsed.path == "/logout":
                    status, body, headers = idp.logout(query)
                elif parsed.path == "/slo/last":
                    status, body, headers = 200, json.dumps(idp.last_logout), {}
                else:
                    status, body, headers = 404, "not found", {}
            except Exception as error:  # the test sees the IdP's own complaint
                status, body, headers = 500, f"{type(error).__name__}: {error}", {}
            data = body.encode("utf-8")
            self.send_response(status)
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main() -> None:
    folder, sp_metadata = Path(sys.argv[1]), Path(sys.argv[2])
    name = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"  # "localhost": another site
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://{name}:{httpd.server_address[1]}"
    server = _server(url, folder, sp_metadata)
    metadata = create_metadata_string(None, config=server.config, valid=None, sign=False).decode()
    (folder / "idp.xml").write_text(metadata, encoding="utf-8")
    httpd.RequestHandlerClass = _handler(Idp(server), metadata)
    print(
        json.dumps(
            {"url": url, "entity_id": f"{url}/metadata", "metadata": str(folder / "idp.xml")}
        ),
        flush=True,
    )
    httpd.serve_forever()


if __name__ == "__main__":
    main()
