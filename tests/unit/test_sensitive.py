"""Sensitive values: never shown by str/repr/format/JSON, revealed only on purpose, hashed never raw."""

from __future__ import annotations

import copy
import json
import textwrap

import pytest

from quayform import labels as L
from quayform.plan_document import dumps
from quayform.sensitive import MASK, Sensitive, contains_sensitive, redact, reveal
from quayform.spec import load_spec

SECRET = Sensitive("hunter2")

SHOWN = {
    "str": lambda s: str(s),
    "repr": lambda s: repr(s),
    "f-string": lambda s: f"{s}",
    "f-string repr": lambda s: f"{s!r}",
    "format spec": lambda s: f"{s:>20}",
    "percent": lambda s: "%s" % s,
    "in a container repr": lambda s: repr({"env": [s]}),
    "render.dumps": lambda s: dumps({"pw": s}),
}


@pytest.mark.parametrize("show", SHOWN.values(), ids=SHOWN.keys())
def test_sensitive_is_never_shown(show):
    text = show(SECRET)
    assert "hunter2" not in text
    assert MASK in text


def test_plain_json_refuses_rather_than_leaks():
    with pytest.raises(TypeError):
        json.dumps({"pw": SECRET})


def test_reveal_and_equality():
    assert SECRET.reveal() == "hunter2"
    assert SECRET == Sensitive("hunter2")
    assert SECRET != Sensitive("other")
    assert SECRET != "hunter2"  # never equal to its plain text
    assert hash(SECRET) == hash(Sensitive("hunter2"))
    assert copy.deepcopy(SECRET) == SECRET


def test_a_secret_offers_no_unkeyed_digest():
    """A fast unkeyed hash of a secret is an offline guessing oracle; only keyed fingerprints exist."""
    assert not hasattr(SECRET, "digest")


NESTED = {"env": {"A": "1", "PW": SECRET}, "cmd": ("run", SECRET), "args": [SECRET, 2], "n": None}


def test_reveal_recurses_and_keeps_container_types():
    assert reveal(NESTED) == {"env": {"A": "1", "PW": "hunter2"}, "cmd": ("run", "hunter2"),
                              "args": ["hunter2", 2], "n": None}
    assert isinstance(reveal(NESTED)["cmd"], tuple)


def test_redact_recurses_and_keeps_container_types():
    assert redact(NESTED) == {"env": {"A": "1", "PW": MASK}, "cmd": ("run", MASK), "args": [MASK, 2], "n": None}
    assert isinstance(redact(NESTED)["cmd"], tuple)
    assert NESTED["env"]["PW"] is SECRET  # the input is not modified


@pytest.mark.parametrize("value, found", [
    (SECRET, True), ("hunter2", False), ({"a": {"b": [SECRET]}}, True), ({"a": {"b": ["x"]}}, False),
    (("x", SECRET), True), ([], False), (None, False),
])
def test_contains_sensitive(value, found):
    assert contains_sensitive(value) is found


# --- labels: secrets enter hashes only as salted digests -------------------------------------

def test_fingerprint_is_keyed_and_depends_on_the_secret_without_containing_it():
    salt, other_salt = b"k" * 16, b"j" * 16
    first = L.fingerprint({"env": {"PW": Sensitive("hunter2")}}, salt)
    assert first == L.fingerprint({"env": {"PW": Sensitive("hunter2")}}, salt)
    assert first != L.fingerprint({"env": {"PW": Sensitive("hunter3")}}, salt)
    assert first != L.fingerprint({"env": {"PW": Sensitive("hunter2")}}, other_salt)
    assert first != L.fingerprint({"env": {"PW": "hunter2"}}, salt)
    assert "hunter2" not in first


def test_content_digest_is_salted_with_where_the_file_goes():
    one = L.content_digest("containers.a", "/etc/pw", "hunter2")
    assert one == L.content_digest("containers.a", "/etc/pw", "hunter2")
    assert one != L.content_digest("containers.b", "/etc/pw", "hunter2")
    assert one != L.content_digest("containers.a", "/etc/other", "hunter2")
    assert len(one) == 32


def test_ours_drops_quayform_labels():
    assert L.ours({"io.quayform.stack": "s", "io.quayform.address": "containers.a", "app": "x"}) == {"app": "x"}
    assert L.ours(None) == {}


# --- secrets read by the spec stay wrapped ------------------------------------------------------

def test_spec_secrets_arrive_wrapped_and_are_not_in_the_spec_repr(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db").write_text("from-a-file\n")
    path = tmp_path / "quayform.yaml"
    path.write_text(textwrap.dedent("""\
        version: 1
        stack: s
        secrets:
          admin: {env: ADMIN_PW}
          db: {file: secrets/db}
        containers:
          db:
            image: quayform-test/postgres:15
            env:
              POSTGRES_PASSWORD: ${secrets.admin}
            files:
              /run/pw: {content: "${secrets.db}"}
        outputs:
          pw: ${secrets.admin}
        """))
    spec = load_spec(str(path), environ={"ADMIN_PW": "hunter2"})
    env_value = spec.containers["db"].env["POSTGRES_PASSWORD"]
    file_value = spec.containers["db"].files["/run/pw"].content
    assert isinstance(env_value, Sensitive) and env_value.reveal() == "hunter2"
    assert isinstance(file_value, Sensitive) and file_value.reveal() == "from-a-file"
    assert isinstance(spec.outputs["pw"], Sensitive)
    shown = repr(spec) + str(spec.containers["db"])
    assert "hunter2" not in shown and "from-a-file" not in shown


@pytest.mark.parametrize("shown", [
    "p@ss w/rd+é",  # as it is
    "p%40ss%20w%2Frd%2B%C3%A9",  # URL-encoded
    "p%40ss+w%2Frd%2B%C3%A9",  # form-encoded
    "cEBzcyB3L3JkK8Op",  # base64
    "p@ss w/rd+\\u00e9",  # inside a JSON string
])
def test_masker_hides_a_secret_in_every_form_relayed_text_carries_it(shown):
    from quayform.sensitive import Masker

    mask = Masker()
    mask.add(Sensitive("p@ss w/rd+é"))
    assert mask(f"login failed for {shown}; retry") == f"login failed for {MASK}; retry"


def test_masker_leaves_short_values_and_other_text_alone():
    from quayform.sensitive import Masker

    mask = Masker()
    mask.add(Sensitive("ab"), Sensitive("long-enough"))
    assert mask("ab cd long-enough") == f"ab cd {MASK}"
    assert Masker()("nothing known") == "nothing known"
