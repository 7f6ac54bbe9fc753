"""API keys at rest: only a public prefix and a SHA-256 are stored; a presented key is found
by its prefix (a unique, indexed column) and its hash compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
from unittest import mock

import pytest
from django.core import serializers
from django.db import connection
from django.test import Client

from portal.models import ApiKey
from tests.conftest import World


def every_stored_value(world: World) -> str:
    """Every row the portal app holds, serialized: wherever a plaintext could hide."""
    from django.apps import apps

    rows = []
    for model in apps.get_app_config("portal").get_models():
        rows.append(serializers.serialize("json", model.objects.all()))
    return "\n".join(rows)


def test_the_plaintext_is_stored_nowhere(world: World):
    client = world.client("admin")
    created = client.post("/api-keys/new/", {"name": "ci", "read_only": "on"})
    page = created.content.decode()
    key = ApiKey.objects.get(name="ci")
    plaintext = re.search(r'<code id="new-key">([^<]+)</code>', page).group(1)
    assert plaintext.startswith(f"pp_{key.prefix}_")
    assert ApiKey.authenticate(plaintext) == key  # what the page showed is the real key
    stored = every_stored_value(world)
    secret_part = plaintext.rsplit("_", 1)[1]
    for value in [*world.key_plaintexts.values(), plaintext]:
        assert value not in stored
    assert secret_part not in stored
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert client.get("/api-keys/").content.decode().count(plaintext) == 0


def test_the_key_is_looked_up_by_its_indexed_prefix_and_compared_in_constant_time(world: World):
    plaintext = world.key_plaintexts["key_rw"]
    stored = world.keys["key_rw"].key_hash
    field = ApiKey._meta.get_field("prefix")
    assert field.unique  # an index: the lookup never scans or compares other keys' hashes
    with mock.patch("portal.models.hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert ApiKey.authenticate(plaintext) == world.keys["key_rw"]
    compare.assert_called_once_with(stored, hashlib.sha256(plaintext.encode()).hexdigest())


def test_the_lookup_query_filters_on_the_prefix_not_the_secret(world: World):
    from django.test.utils import CaptureQueriesContext

    plaintext = world.key_plaintexts["key_ro"]
    with CaptureQueriesContext(connection) as queries:
        ApiKey.authenticate(plaintext)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert world.keys["key_ro"].prefix in sql
    # "pp_<prefix>_<secret>": the secret is URL-safe base64 and may hold "_" itself (splitting
    # at the last one made this fail now and then on a one-letter tail found in the SQL).
    secret = plaintext.split("_", 2)[2]
    assert plaintext not in sql and secret not in sql


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),  # right prefix, wrong secret
        lambda k: "pp_00000000_" + k.rsplit("_", 1)[1],  # unknown prefix
        lambda k: k.replace("pp_", "xx_", 1),
        lambda k: k.rsplit("_", 1)[0],
        lambda k: "",
    ],
    ids=["wrong-secret", "unknown-prefix", "wrong-scheme", "no-secret", "empty"],
)
def test_anything_but_the_exact_key_is_refused(world: World, mangle):
    given = mangle(world.key_plaintexts["key_rw"])
    assert ApiKey.authenticate(given) is None
    response = Client(HTTP_AUTHORIZATION=f"Bearer {given}").get("/api/customers")
    assert response.status_code == 401


def test_an_unknown_prefix_still_costs_a_hash_comparison(world: World):
    """So that timing does not tell which prefixes exist."""
    with mock.patch("portal.models.hmac.compare_digest", wraps=hmac.compare_digest) as compare:
        assert ApiKey.authenticate("pp_deadbeef_" + "x" * 43) is None
    assert compare.call_count == 1


def test_a_revoked_key_is_refused(world: World):
    key = world.keys["key_rw"]
    key.revoke()
    assert ApiKey.authenticate(world.key_plaintexts["key_rw"]) is None
    response = world.client("key_rw").get("/api/customers")
    assert response.status_code == 401
