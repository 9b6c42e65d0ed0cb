"""What the kinds that live inside Quay share: their instance, one bulk read, the ownership ledger.

- Instances: the spec's `quay` section names a Quay by the container it runs in and the admin
  quayform works as; its objects live on a `QuayTarget` and are reached over /api/v1 (on the
  published 127.0.0.1 port, or through the engine) by a `QuaySession` signed in as the admin.
- Reading: one read per instance (`contents`, shared by every Quay kind through the session's
  memo): the spec's organizations and every organization and repository the ledger names, their
  robots, teams and members, repositories, permissions, default permissions, notifications,
  mirrors, applications, auto-prune policies and quotas, as the instance's features allow.
- Ownership: Quay objects carry no labels, so the stack records what it created or adopted in a
  ledger kept on the engine beside Quay (a labelled volume per stack and instance, rewritten
  after each change). Only what the ledger names is ever deleted; an object with a name the
  spec uses is adopted (and recorded), and unmanaged objects next to it are never touched.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Hashable, Iterable, Mapping

from quayform import labels as L
from quayform.address import Address
from quayform.changes import EXISTED, Change, LiveObject
from quayform.kinds.base import Ctx, Kind, Rules, update
from quayform.kinds.volume import list_volumes
from quayform.spec.values import PortBinding
from quayform.targets import QuayTarget, engine_target

READ_THREADS = 4
LEDGER = L.PREFIX + "ledger"
GENERATION = L.PREFIX + "generation"
INSTANCE = L.PREFIX + "quay"
QUAY_AT = L.PREFIX + "quay-at"  # the Quay a ledger is about (its container or url), the same in every stack


# -- instances -----------------------------------------------------------------------------------

def _engine_of(spec: Any, container: str | None) -> Any:
    """A Quay instance follows its container's engine (the default one when only its URL is given)."""
    item = spec.containers.get(container) if container else None
    return engine_target(spec, item.engine if item is not None else "default")


def instance_key(spec: Any, organization_key: str) -> str:
    """The Quay instance an organization lives on: its `quay:`, or the spec's only instance."""
    explicit = spec.organizations[organization_key].quay
    return explicit or next(iter(spec.quay), "")


def _published_url(spec: Any, container_key: str, port: int) -> str | None:
    """http://127.0.0.1:HOST when the container publishes Quay's port there on a fixed host port, on an
    engine of this machine (a unix socket); on a remote engine Quay is reached through that engine."""
    container = spec.containers.get(container_key)
    host = _engine_of(spec, container_key).host
    if host is not None and not host.startswith("unix://"):
        return None
    for binding in container.port_bindings if container is not None else []:
        binding: PortBinding
        if binding.container_port == port and binding.protocol == "tcp" and binding.host_port and \
                binding.host_ip in ("127.0.0.1", "", "0.0.0.0"):
            return f"http://127.0.0.1:{binding.host_port}"
    return None


def quay_target(spec: Any, key: str, name_of: Any) -> QuayTarget:
    """The target of every object on instance `key` (one value, so all Quay kinds share a session)."""
    quay = spec.quay[key]
    organizations = {k: o.name or k for k, o in spec.organizations.items() if instance_key(spec, k) == key}
    repositories = tuple(sorted(f"{organizations[r.organization]}/{r.name or k}"
                                for k, r in spec.repositories.items() if r.organization in organizations))
    container = name_of(Address("containers", quay.container)) if quay.container else ""
    url = quay.url.rstrip("/") if quay.url else _published_url(spec, quay.container, quay.port)
    return QuayTarget(key, spec.stack, container, quay.admin.username, quay.admin.email, quay.admin.password, url,
                      quay.port, _engine_of(spec, quay.container), quay.admin.bootstrap,
                      tuple(sorted(organizations.values())), repositories, _declared(spec, organizations))


def _declared(spec: Any, organizations: Mapping[str, str]) -> tuple[str, ...]:
    """What the spec manages beyond the objects themselves, so a plan reads those settings only."""
    def full(repository_key: str) -> str:
        repository = spec.repositories[repository_key]
        return f"{organizations.get(repository.organization, '')}/{repository.name or repository_key}"
    declared = {f"quota:{name}" for k, name in organizations.items() if spec.organizations[k].quota is not None}
    declared |= {f"auto_prune:{name}" for k, name in organizations.items()
                 if spec.organizations[k].auto_prune is not None}
    declared |= {f"auto_prune:{full(k)}" for k, r in spec.repositories.items()
                 if r.organization in organizations and r.auto_prune is not None}
    declared |= {f"notifications:{full(n.repository)}" for n in spec.notifications.values()
                 if n.repository in spec.repositories and spec.repositories[n.repository].organization in organizations}
    return tuple(sorted(declared))


def instance_edges(spec: Any) -> Iterable[tuple[Address, Address, tuple]]:
    """A Quay container depends on the database, user and Redis its config.yaml names."""
    from quayform.kinds.quay.config_check import config_edges

    return config_edges(spec)


def check_instances(spec: Any, report: Any) -> None:
    from quayform.kinds.quay.config_check import check_quay_config

    for key, quay in spec.quay.items():
        if quay.container is not None and quay.container not in spec.containers:
            report(("quay", key, "container"), f"runs in containers.{quay.container}, which is not in the spec")
    check_quay_config(spec, report)


# -- the ledger ----------------------------------------------------------------------------------

def _ledger_volumes(session: Any) -> list[dict[str, Any]]:
    target = session.target
    return [v for v in list_volumes(session.engine) if (v.get("Labels") or {}).get(L.MARKER) == "ledger"
            and (v.get("Labels") or {}).get(L.STACK) == target.stack
            and (v.get("Labels") or {}).get(INSTANCE) == target.key]


def _ledger_state(session: Any) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        volumes = sorted(_ledger_volumes(session), key=lambda v: int((v.get("Labels") or {}).get(GENERATION, 0)))
        newest = (volumes[-1].get("Labels") or {}) if volumes else {}
        return {"entries": json.loads(newest.get(LEDGER, "{}")), "generation": int(newest.get(GENERATION, 0)),
                "volumes": [v["Name"] for v in volumes]}
    return session.memo("ledger", read)


def ledger(session: Any) -> dict[str, dict[str, Any]]:
    """address -> what the stack recorded of the object (its Quay id, digests of write-only values)."""
    return _ledger_state(session)["entries"]


def quay_at(target: Any) -> str:
    return target.container or target.url or ""


class Entries(dict):
    """The stack's ledger, and what other stacks' ledgers on the same Quay claim: (section, id) -> stack."""

    def __init__(self, entries: Mapping[str, Any], foreign: Mapping[tuple[str, str], str]):
        super().__init__(entries)
        self.foreign = dict(foreign)


def foreign_ledgers(session: Any) -> dict[tuple[str, str], str]:
    """What the other stacks that manage objects in this Quay own, from their newest ledgers: an object
    one of them owns is never adopted (it is a clash, like a container of another stack)."""
    def read() -> dict[tuple[str, str], str]:
        target, newest = session.target, {}
        for volume in list_volumes(session.engine):
            labels = volume.get("Labels") or {}
            if labels.get(L.MARKER) != "ledger" or labels.get(L.STACK) == target.stack \
                    or labels.get(QUAY_AT) != quay_at(target):
                continue
            mark = (labels.get(L.STACK), labels.get(INSTANCE))
            if int(labels.get(GENERATION, 0)) >= int((newest.get(mark) or {}).get(GENERATION, 0)):
                newest[mark] = labels
        owned = {}
        for (stack, _), labels in newest.items():
            for address, entry in json.loads(labels.get(LEDGER, "{}")).items():
                owned[(address.split(".")[0], str(entry.get("id")))] = stack
        return owned
    return session.memo("foreign-ledgers", read)


def record(session: Any, address: Address, entry: dict[str, Any] | None) -> None:
    """Note (or, with None, forget) that `address` is the stack's: write the next ledger generation,
    then remove the older ones. Changes on an instance run one at a time, so writes never race."""
    state = _ledger_state(session)
    entries = dict(state["entries"])
    if entry is None:
        entries.pop(str(address), None)
    else:
        entries[str(address)] = entry
    if entries == state["entries"]:
        return
    target, engine = session.target, session.engine
    generation = state["generation"] + 1
    name = f"quayform-ledger-{target.stack}-{target.key}-{generation}"
    with engine.errors(f"recording what stack {target.stack} owns in quay.{target.key}"):
        if entries:
            engine.api.create_volume(name=name, labels={
                L.STACK: target.stack, L.MARKER: "ledger", INSTANCE: target.key, GENERATION: str(generation),
                QUAY_AT: quay_at(target), LEDGER: json.dumps(entries, sort_keys=True)})
        for old in state["volumes"]:
            engine.api.remove_volume(old)
    state.update(entries=entries, generation=generation, volumes=[name] if entries else [])


def owner_of(session: Any, address: Address | None) -> str | None:
    return session.target.stack if address is not None and str(address) in ledger(session) else None


# -- the bulk read ---------------------------------------------------------------------------------

def contents(session: Any, detail: bool = True) -> dict[str, Any]:
    """Everything the stack's Quay kinds compare, read once per run with the admin's session
    (`detail` off, for destroy: also whether each repository holds images)."""
    return session.memo(("contents", detail), lambda: _read_contents(session, detail))


def _ledger_names(session: Any, kind: str) -> set[str]:
    return {entry.get("name", "") for address, entry in ledger(session).items() if address.startswith(kind + ".")}


def _read_contents(session: Any, detail: bool) -> dict[str, Any]:
    """Three rounds of reads, each sent out in parallel: the organizations; everything in them; the
    repositories of interest (the spec's and the ledger's) in detail. Settings the spec leaves
    alone (quotas, auto-prune policies, notifications it neither declares nor owns) are not read,
    nor whether a repository of the spec holds images unless it may be deleted (destroy)."""
    session.sign_in()  # once, before the reads go out in parallel
    features = session.features()
    declared = set(session.target.declared)
    owned_notifications = {entry.get("name", "").split(":")[0] for address, entry in ledger(session).items()
                           if address.startswith("notifications.")}
    spec_repositories = set(session.target.repositories)

    def reads(setting: str, name: str) -> bool:
        if setting == "tags":
            return not detail or name not in spec_repositories
        if setting == "notifications" and name in owned_notifications:
            return True
        return f"{setting}:{name}" in declared
    names = sorted(set(session.target.organizations) | _ledger_names(session, "organizations")
                   | {n.split("/")[0] for n in _ledger_names(session, "repositories")})
    with ThreadPoolExecutor(READ_THREADS) as pool:
        views = dict(zip(names, pool.map(lambda n: session.get(f"/organization/{n}"), names)))
        found = [n for n in names if views[n] is not None]
        inside = _read_all(pool, session, [(n, path) for n in found for path in _organization_paths(n, views[n],
                                                                                                     features, reads)])
        of_interest = set(session.target.repositories) | _ledger_names(session, "repositories")
        repositories = [(n, r) for n in found for r in inside[(n, "repositories")]
                        if f"{n}/{r['name']}" in of_interest]
        details = _read_all(pool, session, [(f"{n}/{r['name']}", path) for n, r in repositories
                                            for path in _repository_paths(f"{n}/{r['name']}", r, features, reads)])
    out: dict[str, Any] = {kind: [] for kind in ("organizations", "repositories", "robots", "teams",
                                                   "default_permissions", "applications", "notifications", "mirrors")}
    for name in found:
        organization = _organization(name, views[name], inside)
        out["organizations"].append(organization)
        for kind in ("robots", "teams", "default_permissions", "applications"):
            out[kind] += organization[kind]
    for name, listed in repositories:
        repository = _repository(name, listed, details)
        out["repositories"].append(repository)
        out["notifications"] += repository["notifications"]
        if repository["mirror"]:
            out["mirrors"].append(repository["mirror"])
    return out


def _read_all(pool: Any, session: Any, reads: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """(owner, path) -> what Quay answered (None if missing); repository listings are followed to the end."""
    def one(read: tuple[str, str]) -> Any:
        owner, path = read
        if path == "repositories":
            return session.paged(f"/repository?namespace={owner}", "repositories")
        return session.get(path)
    return dict(zip(reads, pool.map(one, reads)))


def _organization_paths(name: str, view: dict[str, Any], features: Mapping[str, bool], reads: Any) -> list[str]:
    paths = ["repositories", f"/organization/{name}/robots?token=true", f"/organization/{name}/prototypes",
             f"/organization/{name}/applications"]
    paths += [f"/organization/{name}/team/{team}/members?includePending=true" for team in view.get("teams") or {}]
    if features.get("AUTO_PRUNE") and reads("auto_prune", name):
        paths.append(f"/organization/{name}/autoprunepolicy/")
    if features.get("QUOTA_MANAGEMENT") and reads("quota", name):
        paths.append(f"/organization/{name}/quota")
    return paths


def _organization(name: str, view: dict[str, Any], inside: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    def got(path: str, key: str | None = None) -> Any:
        value = inside.get((name, path))
        return ((value or {}).get(key) if key else value) or []
    teams = [{**team, "organization": name,
              "members": got(f"/organization/{name}/team/{team['name']}/members?includePending=true", "members")}
             for team in (view.get("teams") or {}).values()]
    return {
        "name": name, "view": view, "repositories": got("repositories"), "teams": teams,
        "robots": [{**r, "organization": name} for r in got(f"/organization/{name}/robots?token=true", "robots")],
        "default_permissions": [{**p, "organization": name}
                                for p in got(f"/organization/{name}/prototypes", "prototypes")],
        "applications": [{**a, "organization": name}
                         for a in got(f"/organization/{name}/applications", "applications")],
        "auto_prune": got(f"/organization/{name}/autoprunepolicy/", "policies"),
        "quota": got(f"/organization/{name}/quota"),
    }


def _repository_paths(full: str, listed: dict[str, Any], features: Mapping[str, bool], reads: Any) -> list[str]:
    paths = [f"/repository/{full}/permissions/user/", f"/repository/{full}/permissions/team/"]
    if reads("notifications", full):
        paths.append(f"/repository/{full}/notification/")
    if reads("tags", full):
        paths.append(f"/repository/{full}/tag/?onlyActiveTags=true&limit=1")
    if features.get("REPO_MIRROR") and listed.get("state") == "MIRROR":
        paths.append(f"/repository/{full}/mirror")
    if features.get("AUTO_PRUNE") and reads("auto_prune", full):
        paths.append(f"/repository/{full}/autoprunepolicy/")
    return paths


def _repository(organization: str, listed: dict[str, Any], details: Mapping[tuple[str, str], Any]) -> dict[str, Any]:
    full = f"{organization}/{listed['name']}"

    def got(path: str, key: str | None = None) -> Any:
        value = details.get((full, f"/repository/{full}/{path}"))
        return ((value or {}).get(key) if key else value) or ({} if key in ("permissions",) else [])
    mirror = details.get((full, f"/repository/{full}/mirror"))
    return {
        **listed, "full_name": full, "organization": organization,
        "user_permissions": got("permissions/user/", "permissions"),
        "team_permissions": got("permissions/team/", "permissions"),
        "has_tags": bool(got("tag/?onlyActiveTags=true&limit=1", "tags")),  # False when not read: kept in the spec
        "notifications": [{**n, "repository": full} for n in got("notification/", "notifications")],
        "mirror": {**mirror, "repository": full} if mirror else None,
        "auto_prune": got("autoprunepolicy/", "policies"),
    }


# -- the base of every Quay kind ---------------------------------------------------------------------

def record_ownership(kind: Any, change: Change, session: Any) -> None:
    """Update function of `owned_by`: an adopted object becomes the stack's."""
    record(session, change.address, kind.ledger_entry(change, None))


OWNED_BY = update("owned_by", record_ownership)


class QuayKind(Kind):
    """A kind whose objects live in a Quay instance of the spec."""

    rules = Rules(adopt_by_name=True, renamed_is_new=True, ownership="ledger")

    def default_name(self, stack: str, key: str) -> str:
        return key

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        """A name the key gives (no `name:`) must be one Quay accepts, as a written one must."""
        import re

        from quayform.spec.quay_models import NAME_RULES

        if self.section not in NAME_RULES:
            return
        pattern, shortest, longest = NAME_RULES[self.section]
        for key, item in self.items(spec).items():
            if item.name is None and not (re.match(pattern, key) and shortest <= len(key) <= longest):
                report((self.section, key), f"the key is its name in Quay, and Quay does not accept {key!r} "
                                            f"(lower-case, pattern {pattern}, {shortest} to {longest} characters): "
                                            "give it a `name:` Quay accepts")

    def instance_of(self, spec: Any, key: str) -> str:
        return instance_key(spec, self.organization_key(spec, key))

    def organization_key(self, spec: Any, key: str) -> str:
        return self.item(spec, key).organization

    def organization_name(self, spec: Any, key: str) -> str:
        organization = self.organization_key(spec, key)
        return spec.organizations[organization].name or organization

    def name_scope(self, spec: Any, key: str) -> Hashable:
        return ("quay", self.instance_of(spec, key), self.organization_name(spec, key))

    def targets(self, spec: Any, ctx: Ctx) -> Iterable[Hashable]:
        return [quay_target(spec, key, ctx.name_of) for key in spec.quay]

    def target_of(self, spec: Any, key: str, ctx: Ctx) -> QuayTarget:
        return quay_target(spec, self.instance_of(spec, key), ctx.name_of)

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        quay = spec.quay.get(self.instance_of(spec, key))
        if quay is not None and quay.container is not None:
            yield Address("containers", quay.container), ()

    def list_live(self, session: Any, stack: str, detail: bool) -> Iterable[Any]:
        """This kind's part of the instance's one read, each with the ledger it is judged by."""
        entries = Entries(ledger(session), foreign_ledgers(session))
        return [(item, entries) for item in contents(session, detail)[self.section]]

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        item, entries = raw
        return self.read(item, entries, target)

    def read(self, item: dict[str, Any], entries: Mapping[str, dict[str, Any]], target: Any) -> LiveObject | None:
        raise NotImplementedError

    def live_object(self, entries: Mapping[str, dict[str, Any]], target: Any, name: str, oid: str,
                    form: dict[str, Any], payload: Any = None) -> LiveObject:
        """A read object, the stack's when the ledger names it (matched by its Quay id)."""
        address, guarded = next(((Address.parse(a), bool(entry.get("guarded"))) for a, entry in entries.items()
                                 if a.startswith(self.section + ".") and entry.get("id") == oid), (None, False))
        owner = target.stack if address is not None else getattr(entries, "foreign", {}).get((self.section, oid))
        return LiveObject(self.section, address, name, oid, {**form, "owned_by": owner}, payload, owner, guarded,
                          target)

    def ledger_entry(self, change: Change, quay_id: str | None) -> dict[str, Any]:
        """What the ledger keeps of an object: its Quay id (how it is found again), its name, and
        prevent_destroy (which goes on guarding it once it has left the spec)."""
        entry = {"id": quay_id or change.live_id or (change.after or {}).get("name"), "name": change.name}
        if change.lifecycle.prevent_destroy:
            entry["guarded"] = True
        return entry

    def session(self, connection: Any) -> Any:
        """The instance's session for a change (apply): Quay answers, and the admin exists (made now
        on an empty Quay) and is signed in."""
        connection.ready()
        connection.sign_in(write=True)
        return connection

    def create(self, change: Change, session: Any) -> str | None:
        """Make the object; when Quay says it exists already (the plan could not read Quay, e.g. while
        its container was down), adopt it instead and bring it in line with the spec."""
        from quayform.quay_client import QuayError

        session = self.session(session)
        try:
            self.make(change, session)
            return None
        except QuayError as exc:
            if exc.status not in (400, 409) or "xist" not in str(exc):
                raise
        record(session, change.address, self.ledger_entry(change, (change.after or {}).get("name")))
        done: list[Any] = [record_ownership]
        for attribute in self.attributes:
            if attribute.update is not None and attribute.update not in done:
                done.append(attribute.update)
                attribute.update(self, change, session)
        return EXISTED

    def make(self, change: Change, session: Any) -> None:
        raise NotImplementedError

    def forget(self, change: Change, session: Any) -> None:
        record(session, change.address, None)
