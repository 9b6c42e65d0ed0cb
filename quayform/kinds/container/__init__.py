"""Containers: every rule quayform has about them, declared here.

- Spec: section `containers`, default name `<stack>-<key>`; secrets may appear in env values
  and file contents; files may come from templates; edges to `depends_on` (either form; an
  absent `required: false` dependency is none), the networks it joins and the volumes it mounts.
- Attributes: restart policy, networks (their aliases and fixed addresses) and the resource
  limits (`docker update`) are updated in place, a stopped container is started; every other
  difference replaces it (see `attributes`). Image defaults are folded into the desired form
  (form.py), so a fresh container compares equal; the options of options.py are compared only
  when the spec sets them. A job (`run: once`) is compared by how it ended instead of by whether
  it runs: `exit_code` other than 0 replaces it (runs it again), `finished` not yet means apply
  waits for it; its readiness is its exit with 0 (engine.wait_finished).
- Lifecycle: recreated with a volume or network it uses; deleted before any new container is
  created (it may hold the name or a host port) and before what it uses; supports
  create_before_destroy; anonymous volumes are released by `destroy --volumes`.
- Ownership: labels; a container made by hand is adopted with `quayform import`, recorded
  by a marker volume until the next apply replaces it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace as replace_fields
from typing import Any, Hashable, Iterable

from quayform import labels as L
from quayform.address import Address
from quayform.changes import Change, Desired, LiveObject, Prerequisite, Reason
from quayform.errors import PlanError
from quayform.kinds.base import Attribute, Ctx, Rules, replace, update
from quayform.kinds.container import checks, day2, engine, envfiles, form, updates
from quayform.kinds.container import options as O
from quayform.kinds.engine_kind import (EngineKind, engine_address, import_markers, is_bookkeeping, lifecycle_of,
                                       live_object, record_import)
from quayform.kinds.volume import list_containers, list_volumes
from quayform.targets import engine_target

IMAGE_THREADS = 4
IMPORTED = Reason("imported", "imported: replaced by a managed container that keeps its volumes")
DYING = Reason("dying", "an earlier run was deleting it (it was stopping when that run ended)")


def option_attributes() -> tuple[Attribute, ...]:
    """The options of options.py (the resources update in place), each compared by its judge: only when set."""
    table = tuple(update(o.name, updates.update_resources, judge=o.judge, mapping=o.mapping) if o.name in O.RESOURCES
                  else replace(o.name, judge=o.judge, mapping=o.mapping) for o in O.OPTIONS)
    return table + (
        replace("hostname", judge=O.judge_default("hostname", "")),
        replace("network_mode", judge=O.judge_default("network_mode", "bridge")),
        update("addresses", updates.update_networks, mapping=True, judge=O.judge_default("addresses", {})),
        replace("expose", judge=O.judge_exposed), replace("logging", judge=O.judge_logging))


class ContainerKind(EngineKind):
    section = "containers"
    noun = "container"
    attributes = (
        replace("name"), replace("image"), replace("image_id", computed=True), replace("command"),
        replace("entrypoint"), replace("env", mapping=True), replace("ports"), replace("mounts"),
        update("networks", updates.update_networks, mapping=True), update("restart", updates.update_restart),
        replace("privileged"), replace("user"), replace("working_dir"), replace("labels", mapping=True),
        replace("healthcheck"), replace("stop_signal"), replace("stop_grace_period"),
        replace("files", mapping=True), *option_attributes(), update("running", updates.update_running),
        # a container that runs once (run: once): done when it exited with 0; re-run when it failed
        replace("run"), replace("exit_code", judge=form.judge_exit_code),
        update("finished", updates.update_finished, judge=form.judge_finished),
    )
    rules = Rules(recreated_with=("volumes", "networks"), deletes_before_creates=True, create_before_destroy=True)
    reference_attrs = ("name", "host", "port")  # host and port: how containers on other engines reach it

    # -- spec side -----------------------------------------------------------------------------
    def secret_allowed(self, path: tuple) -> bool:
        return len(path) >= 2 and (path[0] == "env" or (path[0] == "files" and path[2:3] == ("content",)))

    def resolve_entry(self, entry: Any, path: tuple, resolver: Any) -> Any:
        if not isinstance(entry, dict):
            return resolver.walk(entry, path)
        readers = {"files": resolver.files, "env_file": lambda v, at: envfiles.read(v, at, resolver)}
        return {k: readers.get(k, resolver.walk)(v, path + (k,)) for k, v in entry.items()}

    def resolve_reference(self, attr: str, key: str, entry: Any, resolver: Any) -> Any:
        """${containers.KEY.host}: the address of its engine as other engines' containers reach it;
        ${containers.KEY.port}: its first host port published beyond 127.0.0.1."""
        entry = entry if isinstance(entry, dict) else {}
        engine_key = entry.get("engine") if isinstance(entry.get("engine"), str) else "default"
        if attr == "host":
            try:
                return engine_address(resolver.raw.get("engines"), engine_key)
            except LookupError as exc:
                raise LookupError(f"${{containers.{key}.host}}: {exc}") from None
        return checks.reachable_port(key, entry.get("ports"))

    def edges(self, spec: Any, key: str, item: Any) -> Iterable[tuple[Address, tuple]]:
        for dep, at, dependency in item.dependencies:
            if dependency.required or dep in spec.containers:  # required: false and left out: nothing to wait for
                yield Address("containers", dep), ("depends_on", at)
        for net in item.networks:
            yield Address("networks", net), ()
        for mount in item.volumes:
            if mount.kind == "volume":
                yield Address("volumes", mount.source), ()
        if (item.network_mode or "").startswith("container:"):
            yield Address("containers", item.network_mode.partition(":")[2]), ("network_mode",)

    def check(self, spec: Any, ctx: Ctx, report: Any) -> None:
        checks.check_containers(spec, report)

    def conflicts(self, spec: Any, desired: Any, objects: Any, stack: str) -> list[str]:
        return (checks.host_ports_in_use(desired, objects, stack) + checks.images_not_pulled(spec, desired)
                + checks.network_modes_left(desired, objects, stack) + checks.healthchecks_missing(spec, desired))

    def delete_note(self, live: LiveObject, release: frozenset[str] = frozenset()) -> str:
        volumes = getattr(live.payload, "anonymous_volumes", {})
        if not volumes or "volumes" in release:
            return ""
        held = []
        for target, volume in sorted(volumes.items()):
            written = [p for p in (live.form.get("files") or {}) if p.startswith(target.rstrip("/") + "/")]
            held.append(f"{volume[:12]} at {target}" + (f" (holds {', '.join(written)}, written by quayform)"
                                                         if written else ""))
        return f"its anonymous volumes are kept: {'; '.join(held)}; add --volumes to delete them"

    def clash_hint(self, address: Address, other: LiveObject) -> str:
        return f", or adopt it with `quayform import {address} {other.name}`"

    # -- reading -------------------------------------------------------------------------------
    def read_facts(self, connections: Any, spec: Any, ctx: Ctx) -> dict[tuple[str, str], form.ImageInfo | None]:
        """The defaults of every image the spec names, on each engine that runs it (None: not there yet)."""
        wanted = sorted({(c.engine, c.image) for c in spec.containers.values()})
        if not wanted:
            return {}
        # pull_policy always: ask the registry what the tag names now (a digest, no download)
        always = sorted({(c.engine, c.image) for c in spec.containers.values()
                         if c.pull_policy == "always" and "@" not in c.image})
        conns = {name: connections.get(engine_target(spec, name)) for name in {name for name, _ in wanted}}
        with ThreadPoolExecutor(min(IMAGE_THREADS, len(wanted))) as pool:
            raws = dict(zip(wanted, pool.map(lambda w: engine.inspect_image(conns[w[0]], w[1]), wanted)))
            upstream = dict(zip(always, pool.map(lambda w: engine.registry_digest(conns[w[0]], w[1]), always)))
        return {w: _image_info(w[1], raw, upstream.get(w)) for w, raw in raws.items()}

    def list_live(self, engine_conn: Any, stack: str, detail: bool) -> Iterable[Any]:
        """Every container (one list call); the stack's ones inspected in parallel unless `detail` is off."""
        api = engine_conn.api
        listed = list_containers(engine_conn)
        volumes = list_volumes(engine_conn)
        markers = import_markers(volumes, stack, self.section)
        dying = engine.dying_ids(volumes)
        ours = [c for c in listed if (c.get("Labels") or {}).get(L.STACK) == stack or c["Id"] in markers]
        others = [("list", c, None, {}, False) for c in listed if c not in ours]
        if not detail:
            return [("list", c, markers.get(c["Id"]), {}, c["Id"] in dying) for c in ours] + others
        with engine_conn.errors("inspecting containers"), ThreadPoolExecutor(8) as pool:
            inspected = [shared_network_by_name(raw, listed) for raw in pool.map(lambda c: api.inspect_container(c["Id"]),
                                                                                  ours)]
            wanted = [(raw["Id"], path) for raw in inspected
                      for path in form.read_back_paths((raw.get("Config") or {}).get("Labels") or {})]
            contents = dict(zip(wanted, pool.map(lambda w: engine.read_back(engine_conn, *w), wanted)))
        return [("inspect", raw, markers.get(raw["Id"]),
                 {path: value for (cid, path), value in contents.items() if cid == raw["Id"]}, raw["Id"] in dying)
                for raw in inspected] + others

    def normalise(self, raw: Any, stack: str, target: Hashable) -> LiveObject | None:
        shape, data, marker, read_back, dying = raw
        if shape == "inspect":
            labels = dict((data.get("Config") or {}).get("Labels") or {})
            live_form, payload = form.live_form(data)
            live_form["files"].update(read_back)
            name = live_form["name"]
        else:
            labels = dict(data.get("Labels") or {})
            (live_form, payload), name = form.listed_form(data), form.listed_name(data)
        if is_bookkeeping(labels):
            return None
        payload = replace_fields(payload, stack=labels.get(L.STACK) or stack)
        live = live_object(self.section, stack, target, name, data["Id"], labels, live_form, payload)
        if marker is not None:
            live = live_object(self.section, stack, target, name, data["Id"], {**labels, L.STACK: stack,
                                                                              L.ADDRESS: marker[0]}, live_form,
                               replace_fields(payload, import_marker=marker[1]))
        if dying:  # an imported one too: its import marker goes when its replacement is made
            return replace_fields(live, replace_reason=DYING)
        return live if marker is None else replace_fields(live, replace_reason=IMPORTED)

    def uses(self, form: Any, target: Hashable) -> Iterable[tuple[str, str]]:
        for network in form.get("networks") or {}:
            yield "networks", network
        if (form.get("network_mode") or "").startswith("container:"):
            yield "containers", form["network_mode"].partition(":")[2]  # it shares that one's network: deleted first
        for mount in form.get("mounts") or []:
            if mount.startswith("volume:"):
                yield "volumes", mount.split(":")[1]

    # -- desired -------------------------------------------------------------------------------
    def desired(self, spec: Any, key: str, ctx: Ctx) -> Desired:
        address = Address(self.section, key)
        container = spec.containers[key]
        lifecycle = lifecycle_of(container)
        declared = form.declare(address, container, spec, ctx.name_of, lifecycle)
        images = ctx.facts.get(self.section) or {}
        image = images.get((container.engine, container.image))
        if image is not None:
            declared = replace_fields(declared, image_volumes=image.volumes)
        target = self.engine_of(spec, key)
        return Desired(form.desired_form(address, declared, image), declared, lifecycle, target,
                       partial=frozenset({"env", "labels", "mounts"}) if image is None else frozenset(),
                       prerequisites=self._pulls(container, (container.engine, container.image) in images, image,
                                                 address, target))

    def _pulls(self, container: Any, read: bool, image: form.ImageInfo | None, address: Address,
               target: Hashable) -> tuple[Prerequisite, ...]:
        """The pull apply does first: an image not on the engine (unless pull_policy never), or, with
        pull_policy always, one the registry has replaced; the platform rides along in the value."""
        if image is not None and image.upstream:
            why = f"Image {container.image}: the registry has another image for its tag (pull_policy: always)"
        elif read and image is None and container.pull_policy != "never":
            why = f"Image {container.image} is not on the engine"
        else:
            return ()
        ref = container.image + (f" --platform {container.platform}" if container.platform else "")
        return (Prerequisite("pull", ref, f"{why}; apply will pull it first.", self.section, target, (address,)),)

    # -- effects -------------------------------------------------------------------------------
    def prepare(self, prerequisite: Prerequisite, engine_conn: Any, progress: Any) -> None:
        ref, _, platform = prerequisite.value.partition(" --platform ")
        engine.pull(engine_conn, ref, progress, platform or None)

    def create(self, change: Change, engine_conn: Any) -> None:
        engine.create(change, engine_conn)

    def create_before_destroy(self, change: Change, engine_conn: Any) -> None:
        engine.create_before_destroy(change, engine_conn)

    def delete(self, change: Change, engine_conn: Any, release: frozenset[str]) -> None:
        engine.delete(change, engine_conn, release)

    def wait_ready(self, change: Change, engine_conn: Any, progress: Any = lambda text: None) -> None:
        engine.wait_ready(change, engine_conn, progress=progress)

    def adopt(self, engine_conn: Any, stack: str, address: Address, name: str) -> str:
        return adopt(engine_conn, stack, address, name)

    # -- day 2 -------------------------------------------------------------------------------------
    def status(self, engine_conn: Any, objects: list[LiveObject]) -> dict[str, dict[str, str]]:
        return day2.status(engine_conn, objects)

    def logs(self, engine_conn: Any, live: LiveObject, follow: bool, tail: int | None) -> Iterable[str]:
        return day2.logs(engine_conn, live, follow, tail)

    def run(self, engine_conn: Any, live: LiveObject, argv: list[str], stdin: Any) -> Any:
        return day2.run(engine_conn, live, argv, stdin)

    def restart(self, engine_conn: Any, live: LiveObject) -> None:
        day2.restart(engine_conn, live, live.form.get("stop_grace_period"))


def _image_info(ref: str, raw: dict[str, Any] | None, upstream: str | None) -> form.ImageInfo | None:
    """What the image gives a container; with the registry's digest when the engine's image is not it."""
    if raw is None:
        return None
    info = form.image_info(raw)
    if upstream and not any(d.endswith("@" + upstream) for d in raw.get("RepoDigests") or []):
        info = replace_fields(info, upstream=f"{engine.split_reference(ref)[0]}@{upstream}")
    return info


def shared_network_by_name(raw: dict[str, Any], listed: list[dict[str, Any]]) -> dict[str, Any]:
    """The engine records `network_mode: container:X` by X's id; the spec names X: say its name (an id of a
    container that is gone stays, and differs from any name)."""
    mode = (raw.get("HostConfig") or {}).get("NetworkMode") or ""
    if not mode.startswith("container:"):
        return raw
    other = mode.partition(":")[2]
    name = next((form.listed_name(c) for c in listed if c["Id"] == other or c["Id"].startswith(other)), other)
    return {**raw, "HostConfig": {**raw["HostConfig"], "NetworkMode": f"container:{name}"}}


def adopt(engine_conn: Any, stack: str, address: Address, name: str) -> str:
    """Mark the unmanaged container `name` as `address`: the next plan replaces it, keeping its volumes."""
    api = engine_conn.api
    with engine_conn.errors(f"importing {name}"):
        try:
            raw = api.inspect_container(name)
        except engine_conn.NotFound:
            raise PlanError(f"there is no container named {name!r} to import") from None
        owner = (raw["Config"].get("Labels") or {}).get(L.STACK)
        if owner:
            raise PlanError(f"container {name!r} is already managed by stack {owner!r}")
        managed = api.containers(all=True, filters={"label": [f"{L.STACK}={stack}", f"{L.ADDRESS}={address}"]})
        if managed:
            raise PlanError(f"{address} already exists ({managed[0]['Names'][0].lstrip('/')}); "
                            "only an address with no container can be imported into")
        record_import(engine_conn, stack, address, raw["Id"], f"quayform-import-{stack}-{address.key}",
                      lambda pending: bool(api.containers(all=True, filters={"id": pending})),
                      f"{address} is already being imported; run `quayform apply` to finish that first")
    return raw["Id"]


KIND = ContainerKind()
