"""Parsers for compact spec strings: ports, mounts, durations, file modes, commands, restart policies."""

from __future__ import annotations

import pytest

from quayform.spec.values import (
    Mount,
    PortBinding,
    format_duration,
    parse_command,
    parse_duration,
    parse_file_mode,
    parse_mount,
    parse_ports,
    parse_restart,
)
from quayform.spec.yaml_loader import YamlInt


def P(container: int, host: str = "", ip: str = "", protocol: str = "tcp") -> PortBinding:
    return PortBinding(container, protocol, ip, host)


# --- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bindings"),
    [
        ("80", [P(80)]),
        (80, [P(80)]),
        (YamlInt(80, "80"), [P(80)]),
        ("8080:80", [P(80, "8080")]),
        ("22:22", [P(22, "22")]),
        ("127.0.0.1:5432:5432", [P(5432, "5432", "127.0.0.1")]),
        ("0.0.0.0:80:8080", [P(8080, "80", "0.0.0.0")]),
        ("127.0.0.1::80", [P(80, "", "127.0.0.1")]),
        ("53:53/udp", [P(53, "53", protocol="udp")]),
        ("53/udp", [P(53, protocol="udp")]),
        ("9000:9000/sctp", [P(9000, "9000", protocol="sctp")]),
        ("80/tcp", [P(80)]),
        ("8000-8002:80-82", [P(80, "8000"), P(81, "8001"), P(82, "8002")]),
        ("127.0.0.1:8000-8001:80-81/udp", [P(80, "8000", "127.0.0.1", "udp"), P(81, "8001", "127.0.0.1", "udp")]),
        ("80-81", [P(80), P(81)]),
        ("[::1]:53:53", [P(53, "53", "::1")]),
        ("[::1]:53:53/udp", [P(53, "53", "::1", "udp")]),
        ("[::]::53", [P(53, "", "::")]),
        ("65535:1", [P(1, "65535")]),
    ],
)
def test_parse_ports(text, bindings):
    assert parse_ports(text) == bindings


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("80:80:80", "'80:80:80' is not a valid port mapping ('80' is not an IP address)"),
        ("0:80", "'0:80' is not a valid port mapping (ports are 1-65535)"),
        ("80:0", "'80:0' is not a valid port mapping (ports are 1-65535)"),
        ("70000", "'70000' is not a valid port mapping (ports are 1-65535)"),
        (70000, "'70000' is not a valid port mapping (ports are 1-65535)"),
        ("abc", "'abc' is not a valid port mapping"),
        ("", "'' is not a valid port mapping"),
        ("80:", "'80:' is not a valid port mapping"),
        ("-80", "'-80' is not a valid port mapping"),
        ("1.2.3.4:80", "'1.2.3.4:80' is not a valid port mapping"),
        ("localhost:80:80", "'localhost:80:80' is not a valid port mapping ('localhost' is not an IP address)"),
        ("::1:53:53", "'::1:53:53' is not a valid port mapping"),
        ("[::1]53:53", "'[::1]53:53' is not a valid port mapping"),
        ("[::1:53:53", "'[::1:53:53' is not a valid port mapping"),
        ("[::1]:1:2:3", "'[::1]:1:2:3' is not a valid port mapping"),
        ("53:53/icmp", "(protocol must be tcp, udp or sctp)"),
        ("53:53/", "(protocol must be tcp, udp or sctp)"),
        ("82-80", "'82-80' is not a valid port mapping (ports are 1-65535)"),
        ("8000-8002:80-81", "(host and container ranges differ in size)"),
        ("8080:80-81", "(host and container ranges differ in size)"),
        ("80- 81", "'80- 81' is not a valid port mapping"),
        (True, "True is not a valid port mapping"),
        (8.5, "8.5 is not a valid port mapping (write it as a string"),
        (None, "None is not a valid port mapping"),
        ({"target": 80}, "is not a valid port mapping"),
    ],
)
def test_parse_ports_refuses(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_ports(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("text", ["[not-an-ip]:53:53", "[]:53:53", "[1.2.3]:80:80"])
def test_parse_ports_refuses_a_bracketed_host_that_is_not_an_ip(text):
    with pytest.raises(ValueError, match="is not an IP address"):
        parse_ports(text)


@pytest.mark.parametrize(
    ("binding", "key", "text"),
    [
        (P(80, "8080", "127.0.0.1"), "80/tcp", "127.0.0.1:8080->80/tcp"),
        (P(53, "53", protocol="udp"), "53/udp", "53->53/udp"),
        (P(80), "80/tcp", "80/tcp"),
        (P(80, "", "127.0.0.1"), "80/tcp", "127.0.0.1:->80/tcp"),
    ],
)
def test_port_binding_text(binding, key, text):
    assert (binding.key(), str(binding)) == (key, text)


# --- mounts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "mount"),
    [
        ("data:/var/lib/data", Mount("volume", "data", "/var/lib/data")),
        ("pgsql-data:/var/lib/postgresql/data", Mount("volume", "pgsql-data", "/var/lib/postgresql/data")),
        ("my.vol_1:/x", Mount("volume", "my.vol_1", "/x")),
        ("data:/data:ro", Mount("volume", "data", "/data", read_only=True)),
        ("data:/data:rw", Mount("volume", "data", "/data")),
        ("data:/data:nocopy", Mount("volume", "data", "/data", options=("nocopy",))),
        ("./conf:/conf", Mount("bind", "./conf", "/conf")),
        ("./conf:/conf:ro", Mount("bind", "./conf", "/conf", read_only=True)),
        ("../shared:/shared", Mount("bind", "../shared", "/shared")),
        (".:/src", Mount("bind", ".", "/src")),
        ("/opt/pgsql:/var/lib/pgsql/data:Z", Mount("bind", "/opt/pgsql", "/var/lib/pgsql/data", options=("Z",))),
        ("/opt/x:/x:ro,z", Mount("bind", "/opt/x", "/x", read_only=True, options=("z",))),
        ("~/cache:/cache", Mount("bind", "~/cache", "/cache")),
        ("/var/lib/anon", Mount("anonymous", "", "/var/lib/anon")),
        ("data:/data/", Mount("volume", "data", "/data")),
    ],
)
def test_parse_mount(text, mount):
    assert parse_mount(text) == mount


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("data:/data:readonly", "'data:/data:readonly': unknown mount option 'readonly'"),
        ("data:/data:ro,bogus", "unknown mount option 'bogus'"),
        ("data:var/lib/data", "(the target 'var/lib/data' must be an absolute path)"),
        ("./conf:conf", "(the target 'conf' must be an absolute path)"),
        ("relative/anon", "(the target 'relative/anon' must be an absolute path)"),
        ("/x:ro", "(the target 'ro' must be an absolute path)"),
        ("a:/b:ro:z", "is not a valid volume mount (expected \"SOURCE:TARGET[:OPTIONS]\")"),
        ("bad name:/x", "'bad name' is neither a volume name nor a path (start paths with / or ./)"),
        ("-data:/x", "'-data' is neither a volume name nor a path"),
        ("", "'' is not a valid volume mount"),
        (None, "None is not a valid volume mount"),
        ({"type": "volume"}, "is not a valid volume mount"),
        # The container's root cannot be a mount target, and targets are written normalised.
        ("/srv:/", "the target '/' is the container's root"),
        ("data:/var/../etc", "the target '/var/../etc' is not a normalised path (write '/etc')"),
        ("data:/var//lib", "the target '/var//lib' is not a normalised path (write '/var/lib')"),
        ("/a/./b", "the target '/a/./b' is not a normalised path (write '/a/b')"),
    ],
)
def test_parse_mount_refuses(text, fragment):
    with pytest.raises(ValueError) as info:
        parse_mount(text)
    assert fragment in str(info.value)


# --- durations -----------------------------------------------------------------------------

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2s", 2 * SECOND),
        ("1m30s", 90 * SECOND),
        ("500ms", SECOND // 2),
        ("1h", 3600 * SECOND),
        ("1h2m3s", 3723 * SECOND),
        ("1.5s", 3 * SECOND // 2),
        ("250us", 250_000),
        ("10ns", 10),
        ("0s", 0),
        (3, 3 * SECOND),
        (YamlInt(3, "3"), 3 * SECOND),
        (0, 0),
        (0.5, SECOND // 2),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    "text",
    ["x", "", "2", "2 s", "s", "-1s", "1d", "2S", "1m30", "1.s", ".5s", -1, True, None, [1]],
)
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "ns"), [("1.001s", 1_001_000_000), ("4.1m", 246 * SECOND), (4.1, 4_100_000_000)])
def test_parse_duration_decimal_is_exact(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("ns", "text"),
    [(2 * SECOND, "2s"), (90 * SECOND, "1m30s"), (SECOND // 2, "500ms"), (120 * SECOND, "2m"), (0, "0s"),
     (3723 * SECOND, "62m3s")],
)
def test_format_duration(ns, text):
    assert format_duration(ns) == text


# --- file modes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("0600", 0o600),
        ("600", 0o600),
        ("0o600", 0o600),
        ("0644", 0o644),
        ("4755", 0o4755),
        ("0000", 0),
        (YamlInt(0o600, "0o600"), 0o600),
        (0o640, 0o640),  # an int built in code (no YAML text) is taken as is
    ],
)
def test_parse_file_mode(value, mode):
    assert parse_file_mode(value) == mode


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (YamlInt(600, "600"), 'mode 600 is ambiguous: quote it as an octal string, e.g. "0600"'),
        (YamlInt(644, "644"), 'quote it as an octal string, e.g. "0644"'),
        (YamlInt(0x1A4, "0x1A4"), "mode 0x1A4 is ambiguous"),
        ("0999", "'0999' is not a file mode"),
        ("rw-r--r--", "is not a file mode"),
        ("60", "'60' is not a file mode"),
        ("00600", "is not a file mode"),
        (YamlInt(0o10000, "0o10000"), "is not a file mode (at most \"7777\")"),
        (True, "True is not a file mode"),
        (6.0, "is not a file mode"),
        (None, "None is not a file mode"),
    ],
)
def test_parse_file_mode_refuses(value, fragment):
    with pytest.raises(ValueError) as info:
        parse_file_mode(value)
    assert fragment in str(info.value)


# --- commands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "args"),
    [
        ("nginx -g 'daemon off;'", ["nginx", "-g", "daemon off;"]),
        ('sh -c "echo $HOME && sleep 1"', ["sh", "-c", "echo $HOME && sleep 1"]),
        ("redis-server  --appendonly yes", ["redis-server", "--appendonly", "yes"]),
        ("echo a\\ b", ["echo", "a b"]),
        ("", []),
        (["sh", "-c", "echo hi"], ["sh", "-c", "echo hi"]),
        (["sleep", 5, 1.5], ["sleep", "5", "1.5"]),
        ([], []),
        (None, None),
    ],
)
def test_parse_command(value, args):
    assert parse_command(value) == args


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('sh -c "echo hi', "cannot be split into arguments: No closing quotation"),
        ("echo \\", "cannot be split into arguments: No escaped character"),
        (["echo", True], "is not a command (a string or a list of strings)"),
        (["echo", None], "is not a command"),
        ({"cmd": "x"}, "is not a command"),
        (5, "5 is not a command"),
    ],
)
def test_parse_command_refuses(value, fragment):
    with pytest.raises(ValueError) as info:
        parse_command(value)
    assert fragment in str(info.value)


# --- restart policies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("no", ("no", 0)),
        ("always", ("always", 0)),
        ("unless-stopped", ("unless-stopped", 0)),
        ("on-failure", ("on-failure", 0)),
        ("on-failure:3", ("on-failure", 3)),
        ("on-failure:0", ("on-failure", 0)),
    ],
)
def test_parse_restart(value, policy):
    assert parse_restart(value) == policy


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (False, 'restart: no was read as a boolean; quote it: "no"'),
        ("always:3", "'always:3' is not a restart policy (no, always, unless-stopped, on-failure[:N])"),
        ("no:1", "'no:1' is not a restart policy"),
        ("on-failure:", "'on-failure:' is not a restart policy"),
        ("on-failure:-1", "is not a restart policy"),
        ("on-failure:x", "is not a restart policy"),
        ("Always", "'Always' is not a restart policy"),
        ("sometimes", "is not a restart policy"),
        ("", "'' is not a restart policy"),
        (True, "True is not a restart policy"),
        (None, "None is not a restart policy"),
        (3, "3 is not a restart policy"),
    ],
)
def test_parse_restart_refuses(value, fragment):
    with pytest.raises(ValueError) as info:
        parse_restart(value)
    assert fragment in str(info.value)
