"""Credentials the server accepts: hashed API keys and (optionally) signed JWTs."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from pydantic import SecretStr

from agent.cli import main
from agent.credentials import InvalidCredentials, Principal, Verifier, new_api_key
from agent.settings import AuthConfig

SECRET = "a-test-hmac-secret-of-at-least-32-bytes!"


def _verifier(*entries: dict, **jwt_settings: object) -> Verifier:
    config = AuthConfig(api_keys=SecretStr(json.dumps(list(entries))), **jwt_settings)
    return Verifier.from_config(config)


def test_an_api_key_maps_to_its_principal_and_is_stored_only_hashed() -> None:
    key, entry = new_api_key("acme", "maya", "customer")
    assert key not in json.dumps(entry)
    verifier = _verifier(entry)
    assert verifier.verify(key) == Principal(tenant_id="acme", user_id="maya", role="customer")
    assert verifier.verify(key).identity == "acme:maya"
    for wrong in (None, "", key[:-1] + "x", "sk-support-", "Bearer " + key):
        with pytest.raises(InvalidCredentials):
            verifier.verify(wrong)


def test_identities_never_collide_across_tenants() -> None:
    assert (
        Principal(tenant_id="a:b", user_id="c").identity
        != Principal(tenant_id="a", user_id="b:c").identity
    )


def test_a_key_list_that_is_not_json_stops_start_up_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="SUPPORT_AUTH__API_KEYS") as error:
        Verifier.from_config(AuthConfig(api_keys=SecretStr("sk-support-oops")))
    assert "oops" not in str(error.value)


def test_jwts_are_verified_for_signature_expiry_audience_and_claims() -> None:
    verifier = _verifier(
        jwt_key=SecretStr(SECRET), jwt_algorithms=["HS256"], jwt_audience="support"
    )
    claims = {"sub": "maya", "tenant_id": "acme", "role": "agent", "aud": "support"}
    good = jwt.encode({**claims, "exp": time.time() + 60}, SECRET, algorithm="HS256")
    assert verifier.verify(good) == Principal(tenant_id="acme", user_id="maya", role="agent")
    bad = [
        jwt.encode({**claims, "exp": time.time() - 1}, SECRET, algorithm="HS256"),
        jwt.encode(
            {**claims, "exp": time.time() + 60}, "another-secret-another-secret-xx", "HS256"
        ),
        jwt.encode({**claims, "aud": "other", "exp": time.time() + 60}, SECRET, "HS256"),
        jwt.encode({**claims, "tenant_id": "t" * 65, "exp": time.time() + 60}, SECRET, "HS256"),
        jwt.encode({**claims, "role": "root", "exp": time.time() + 60}, SECRET, "HS256"),
        jwt.encode(
            {k: v for k, v in claims.items() if k != "sub"} | {"exp": time.time() + 60},
            SECRET,
            "HS256",
        ),
    ]
    for token in bad:
        with pytest.raises(InvalidCredentials):
            verifier.verify(token)


def test_the_cli_makes_keys(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["api-key", "--user", "dana", "--tenant", "acme", "--role", "agent"]) == 0
    key_line, entry_line = capsys.readouterr().out.splitlines()
    key = key_line.rsplit(" ", 1)[1]
    entry = json.loads(entry_line.split(": ", 1)[1])
    assert _verifier(entry).verify(key).role == "agent"
    assert main(["api-key", "--user", "not an id"]) == 1
