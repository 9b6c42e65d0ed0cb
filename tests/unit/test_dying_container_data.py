"""A container whose delete was interrupted (its dying marker is still there) is planned for replacement,
under its address, also when it was adopted with `quayform import` (from data)."""

from __future__ import annotations

from quayform.kinds.container import DYING, IMPORTED, KIND as CONTAINERS
from quayform.kinds.container.engine import dying_ids, dying_marker
from quayform.targets import DEFAULT_ENGINE

LISTED = {"Id": "c0ffee" * 10 + "abcd", "Names": ["/web"], "Image": "busybox", "State": "running",
          "Labels": {"io.quayform.stack": "demo", "io.quayform.address": "containers.web"}, "Mounts": []}
UNMANAGED = {**LISTED, "Labels": {}}


def test_dying_markers_name_their_containers() -> None:
    marker = {"Name": dying_marker("web", LISTED["Id"]), "Labels": {"io.quayform.marker": "dying",
                                                                     "io.quayform.dying-id": LISTED["Id"]}}
    other = {"Name": "x", "Labels": {"io.quayform.marker": "import", "io.quayform.import-id": "beef"}}
    assert dying_ids([marker, other, {"Name": "plain", "Labels": None}]) == {LISTED["Id"]}
    assert marker["Name"] == f"web-qf-dying-{LISTED['Id'][:12]}"


def test_a_dying_container_is_replaced_under_its_address() -> None:
    live = CONTAINERS.normalise(("list", LISTED, None, {}, True), "demo", DEFAULT_ENGINE)
    assert str(live.address) == "containers.web" and live.replace_reason == DYING
    assert live.payload.stack == "demo"
    assert CONTAINERS.normalise(("list", LISTED, None, {}, False), "demo", DEFAULT_ENGINE).replace_reason is None


def test_an_imported_container_that_was_dying_keeps_its_import_address_and_marker() -> None:
    marker = ("containers.web", "demo-import-marker")
    imported = CONTAINERS.normalise(("list", UNMANAGED, marker, {}, False), "demo", DEFAULT_ENGINE)
    assert str(imported.address) == "containers.web" and imported.replace_reason == IMPORTED
    dying = CONTAINERS.normalise(("list", UNMANAGED, marker, {}, True), "demo", DEFAULT_ENGINE)
    assert str(dying.address) == "containers.web" and dying.replace_reason == DYING
    assert dying.payload.import_marker == "demo-import-marker"
