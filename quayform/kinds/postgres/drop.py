"""Dropping a role that owns things, by the role's own `on_drop` policy (kept in its marker, since a
role being dropped is no longer in the spec):

- not given: what it owns goes to the server's admin first (REASSIGN OWNED, then DROP OWNED for
  its privileges, in every database where something depends on it), as before;
- `{reassign_to: ROLE}`: the same, to that role, which must still exist once the plan is applied;
- `refuse`: the plan stops with an error that lists what it owns, instead of the server's error
  half-way through an apply; a role that owns nothing is dropped all the same.
"""

from __future__ import annotations

from typing import Any, Mapping

from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject
from quayform.kinds.postgres.sql import drop_user, quote_ident, quote_literal


def owned_text(payload: Any) -> str:
    """What a role owns, as far as the catalog read shows it: databases, then objects per database."""
    if payload is None:
        return ""
    parts = [f"database {quote_ident(d)}" for d in payload.owns]
    for database, count, some in payload.owned_in:
        if some:
            more = f" and {count - len(some)} more" if count > len(some) else ""
            parts.append(f"in database {quote_ident(database)}: {', '.join(some)}{more}")
        else:
            parts.append(f"{count} object(s) in database {quote_ident(database)}")
    return "; ".join(parts)


def heir_of(live_form: Mapping[str, Any] | None, payload: Any, admin: str) -> str:
    """Who gets what the role owns: its reassign_to, else the admin (also when it owns nothing to give)."""
    policy = (live_form or {}).get("on_drop")
    if isinstance(policy, dict) and owned_text(payload):
        return policy["reassign_to"]
    return admin


def drop_note(live: LiveObject) -> str:
    payload = live.payload
    if payload is None or not payload.owns and not payload.depends_in:
        return ""
    what = [f"database {d}" for d in payload.owns]
    what += [f"objects in {d}" for d in payload.depends_in if d not in payload.owns]
    return f"what it owns ({', '.join(what)}) goes to {heir_of(live.form, payload, live.target.admin_user)} first"


def refusal(address: Any, name: str, owned: str) -> str:
    return (f"{address}: role {quote_ident(name)} is to be dropped, but its on_drop is `refuse` and it owns {owned}; "
            f"hand them over first (REASSIGN OWNED BY {quote_ident(name)} TO ... in each of those databases, "
            "ALTER DATABASE ... OWNER TO ...), or put it back in the spec with another on_drop and apply that first")


def conflicts_of_drops(section: str, desired: Mapping[Address, Desired], objects: list[LiveObject]) -> list[str]:
    """Roles to be dropped that refuse to while they own something, or whose heir will not exist."""
    kept = {(d.target, d.form.get("name")) for a, d in desired.items() if a.kind == section}
    roles = {(o.target, o.name): o for o in objects if o.kind == section}
    problems = []
    for live in objects:
        if live.kind != section or live.address is None or live.address in desired:
            continue
        policy, owned = live.form.get("on_drop"), owned_text(live.payload)
        if policy == "refuse" and owned:
            problems.append(refusal(live.address, live.name, owned))
        elif isinstance(policy, dict) and owned:
            heir = policy["reassign_to"]
            other = roles.get((live.target, heir))
            stays = heir == live.target.admin_user or (live.target, heir) in kept or (
                other is not None and (other.address is None or other.address in desired))
            if not stays:
                problems.append(f"{live.address}: role {quote_ident(live.name)} is to be dropped and its on_drop "
                                f"hands what it owns ({owned}) to {quote_ident(heir)}, which will not exist then; "
                                "keep that role, or put this one back in the spec with another on_drop")
    return problems


# Constant text: the role's name reaches it as a setting, never inside the dollar-quoted body.
REFUSE_GUARD = """\
DO $qf$BEGIN
  IF EXISTS (SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
              WHERE r.rolname = current_setting('quayform.role') AND d.deptype = 'o') THEN
    RAISE EXCEPTION 'role % owns objects and its on_drop is refuse: hand them over first (REASSIGN OWNED BY)',
      quote_ident(current_setting('quayform.role'));
  END IF;
END$qf$;
"""


def drop_script(change: Change) -> str:
    """The SQL that drops the role by its policy. A refusing role is checked on the server too, at that
    moment: destroy plans no conflicts, and `destroy --databases` may just have dropped what it owned."""
    payload, server = change.live_payload, change.live_target
    guard = ""
    if (change.before or {}).get("on_drop") == "refuse":
        guard = f"SELECT set_config('quayform.role', {quote_literal(change.name)}, false);\n{REFUSE_GUARD}"
    granted_on = sorted(payload.granted_on) if payload is not None else []
    depends_in = payload.depends_in if payload is not None else ()
    return guard + drop_user(change.name, granted_on, heir_of(change.before, payload, server.admin_user), depends_in,
                             server.admin_database)
