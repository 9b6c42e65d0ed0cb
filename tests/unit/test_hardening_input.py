"""Hardened input, without an engine: secret sources, YAML bounds, PostgreSQL names, SASLprep.

Anything that could hang (a FIFO opened for reading) or blow up (aliases of aliases) runs in a
subprocess with a timeout, so a regression fails its test instead of blocking the suite. The
CLI runs point DOCKER_HOST at a socket that does not exist: these tests never need an engine.
"""

from __future__ import annotations

import os
import re
import resource
import stat
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from quayform.errors import SpecError
from quayform.graph import build_graph
from quayform.kinds.postgres.sql import password_matches, saslprep, scram_verifier
from quayform.sensitive import Sensitive
from quayform.spec import load_spec

NO_ENGINE = "unix:///nonexistent/quayform-hardening-test.sock"
HANG_TIMEOUT = 20  # seconds: far more than any of these commands needs; a hang fails instead of blocking
URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")
is_root = os.geteuid() == 0
needs_root = pytest.mark.skipif(not is_root, reason="creating a device node or mounting a tmpfs needs root")


def write_spec(folder: Path, body: str, files: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for relative, text in (files or {}).items():
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text)
    path = folder / "quayform.yaml"
    path.write_text(textwrap.dedent(body).lstrip("\n"))
    return path


def load(path: Path, read_secrets: bool = True, environ: dict[str, str] | None = None):
    spec = load_spec(str(path), None, environ=environ or {}, read_secrets=read_secrets)
    build_graph(spec)
    return spec


def problem_lines(path: Path, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(path, **kwargs)
    return str(info.value).splitlines()


def quayform(*args: str, cwd: Path, timeout: float = HANG_TIMEOUT) -> subprocess.CompletedProcess:
    """The console script in a subprocess; raises TimeoutExpired (killing it) if it hangs."""
    environ = {**os.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "quayform", *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=environ, timeout=timeout)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error: ")]


# --- 4. secret sources ----------------------------------------------------------------------------

FILE_SECRET = """
    version: 1
    stack: hard
    secrets:
      db_pw: {file: secrets/db_pw}
    outputs:
      pw: ${secrets.db_pw}
"""

GENERATED = """
    version: 1
    stack: hard
    secrets:
      gen_pw: {file: secrets/gen_pw, generate: {length: 24}}
    outputs:
      pw: ${secrets.gen_pw}
"""

DEFAULT_GENERATED = """
    version: 1
    stack: hard
    secrets:
      gen_pw: {file: secrets/gen_pw, generate: {}}
    outputs:
      pw: ${secrets.gen_pw}
"""

TEMPLATE = """
    version: 1
    stack: hard
    containers:
      app:
        image: busybox
        files:
          /x: {template: t}
"""


@pytest.mark.parametrize("content", ["ab\0cd", "\0", "pw\0\n"], ids=["middle", "only", "before-newline"])
def test_secret_file_with_a_nul_byte_is_refused_naming_the_secret(tmp_path, content):
    path = write_spec(tmp_path, FILE_SECRET, {"secrets/db_pw": content})
    [line] = problem_lines(path)
    assert line.startswith(f"{path}:4: secrets.db_pw: secret 'db_pw' is unavailable: ")
    assert "secrets/db_pw" in line and "NUL" in line, line


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _char_device(path: Path) -> None:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # the same device as /dev/null


SPECIAL_FILES = [
    pytest.param(_fifo, "FIFO", id="fifo"),
    pytest.param(_char_device, "character device", id="char-device", marks=needs_root),
]


@pytest.mark.parametrize("make, what", SPECIAL_FILES)
def test_special_file_as_a_secret_is_refused_at_once_and_named(tmp_path, make, what):
    # validate does not read secrets; plan does, before it asks the engine anything.
    path = write_spec(tmp_path, FILE_SECRET)
    (tmp_path / "secrets").mkdir()
    make(tmp_path / "secrets" / "db_pw")
    result = quayform("plan", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: quayform.yaml:4: secrets.db_pw: secret 'db_pw' is unavailable: "), line
    assert "secrets/db_pw" in line and "not a regular file" in line and what in line, line


@pytest.mark.parametrize("make, what", SPECIAL_FILES)
def test_special_file_as_a_template_is_refused_at_once_and_named(tmp_path, make, what):
    path = write_spec(tmp_path, TEMPLATE)
    make(tmp_path / "t")
    result = quayform("validate", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    [line] = error_lines(result)
    assert line.startswith("Error: quayform.yaml:7: containers.app.files['/x'].template: "), line
    assert "template t" in line and "not a regular file" in line and what in line, line


def test_special_file_as_a_secret_is_refused_in_process_too(tmp_path):
    """load_spec itself (what every command calls) refuses a FIFO without opening it for a blocking read."""
    path = write_spec(tmp_path, FILE_SECRET)
    (tmp_path / "secrets").mkdir()
    os.mkfifo(tmp_path / "secrets" / "db_pw")
    # A child with an alarm: a blocking open() of a FIFO with no writer never returns.
    code = textwrap.dedent(f"""
        import signal, sys
        signal.alarm({HANG_TIMEOUT})
        from quayform.errors import SpecError
        from quayform.spec import load_spec
        try:
            load_spec({str(path)!r}, None, environ={{}}, read_secrets=True)
        except SpecError as exc:
            print(exc)
            sys.exit(0)
        sys.exit("loaded a FIFO as a secret")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_TIMEOUT + 10)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "secrets.db_pw: secret 'db_pw' is unavailable" in result.stdout and "FIFO" in result.stdout


@contextmanager
def unwritable_folder(folder: Path) -> Iterator[Path]:
    """A folder nothing can be created in, even by root: a read-only tmpfs (or mode 0500 without root)."""
    folder.mkdir(parents=True)
    if not is_root:
        folder.chmod(0o500)
        try:
            yield folder
        finally:
            folder.chmod(0o700)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(folder)], check=True,
                   capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


@contextmanager
def full_folder(folder: Path) -> Iterator[Path]:
    """A folder on a tmpfs that is full: files can be created, but writing to them fails (ENOSPC)."""
    folder.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(folder)], check=True, capture_output=True)
    try:
        fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True, capture_output=True)


def test_generated_secret_on_a_read_only_folder_leaves_nothing_and_names_the_secret(tmp_path):
    path = write_spec(tmp_path, GENERATED)
    with unwritable_folder(tmp_path / "secrets") as secrets:
        [line] = problem_lines(path)
        assert os.listdir(secrets) == []
    assert line.startswith(f"{path}:4: secrets.gen_pw: secret 'gen_pw' is unavailable: "), line
    assert "secrets/gen_pw" in line and "could not be generated" in line, line


@needs_root
def test_generated_secret_on_a_full_disk_leaves_no_partial_or_temporary_file(tmp_path):
    path = write_spec(tmp_path, GENERATED)
    with full_folder(tmp_path / "secrets") as secrets:
        [line] = problem_lines(path)
        assert sorted(os.listdir(secrets)) == ["filler"]  # neither secrets/gen_pw nor a temporary file
    assert line.startswith(f"{path}:4: secrets.gen_pw: secret 'gen_pw' is unavailable: "), line
    assert "could not be generated" in line, line


@pytest.mark.parametrize("content", ["", "\n"], ids=["zero-bytes", "only-a-newline"])
def test_an_empty_generated_secret_file_is_an_error_not_an_empty_password(tmp_path, content):
    path = write_spec(tmp_path, GENERATED, {"secrets/gen_pw": content})
    [line] = problem_lines(path)
    assert line.startswith(f"{path}:4: secrets.gen_pw: secret 'gen_pw' is unavailable: "), line
    assert "empty" in line, line
    assert (tmp_path / "secrets" / "gen_pw").read_text() == content  # left for the user to delete, not overwritten


def test_an_existing_generated_secret_file_is_used_as_it_is(tmp_path):
    path = write_spec(tmp_path, GENERATED, {"secrets/gen_pw": "kept-value\n"})
    assert load(path).outputs["pw"] == Sensitive("kept-value")
    assert (tmp_path / "secrets" / "gen_pw").read_text() == "kept-value\n"


def test_generate_with_no_options_writes_32_urlsafe_characters_mode_0600(tmp_path):
    path = write_spec(tmp_path, DEFAULT_GENERATED)
    spec = load(path)
    secret = tmp_path / "secrets" / "gen_pw"
    text = secret.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    value = text[:-1]
    assert len(value) == 32 and URLSAFE.match(value), value
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert spec.outputs["pw"] == Sensitive(value)
    assert load(path).outputs["pw"] == Sensitive(value)  # generated once, then read


def test_a_spec_with_an_error_elsewhere_generates_nothing(tmp_path):
    path = write_spec(tmp_path, GENERATED + """
    containers:
      app: {image: busybox, colour: blue}
    """)
    lines = problem_lines(path)
    assert any("containers.app.colour" in line and "unknown key" in line for line in lines), lines
    assert not (tmp_path / "secrets" / "gen_pw").exists()
    assert not (tmp_path / "secrets").exists()


def test_a_generate_block_with_a_typo_generates_nothing(tmp_path):
    path = write_spec(tmp_path, GENERATED.replace("{length: 24}", "{lenght: 24}"))
    lines = problem_lines(path)
    assert any("lenght" in line for line in lines), lines
    assert not (tmp_path / "secrets").exists()


# --- 19. generate through the CLI ---------------------------------------------------------------------


def test_cli_validate_does_not_generate_secret_files(tmp_path):
    write_spec(tmp_path, DEFAULT_GENERATED)
    result = quayform("validate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "The spec is valid" in result.stdout
    assert not (tmp_path / "secrets").exists()


def test_cli_plan_generates_a_32_character_secret_file_mode_0600(tmp_path):
    # No engine is reachable: the plan fails after reading the spec, which is where secrets are made.
    write_spec(tmp_path, DEFAULT_GENERATED)
    result = quayform("plan", cwd=tmp_path)
    assert "secrets.gen_pw" not in result.stderr, result.stderr
    secret = tmp_path / "secrets" / "gen_pw"
    assert secret.is_file(), result.stderr
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    value = secret.read_text()
    assert value.endswith("\n") and len(value[:-1]) == 32 and URLSAFE.match(value[:-1])
    assert value[:-1] not in result.stdout + result.stderr
    quayform("plan", cwd=tmp_path)
    assert secret.read_text() == value  # never overwritten


# --- 5. YAML bounds ----------------------------------------------------------------------------------


def billion_laughs(levels: int = 10, width: int = 9) -> str:
    lines = ["version: 1", "stack: lol", "lol:", f'  l0: &l0 [{", ".join(["lol"] * width)}]']
    for level in range(1, levels):
        lines.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def run_measured(argv: list[str], cwd: Path, timeout: float) -> tuple[int, str, int]:
    """(exit status, stderr, peak RSS in KiB) of one child; killed, and the test failed, if it outlives `timeout`.

    The child's address space is capped at 2 GiB, so a blow-up ends as a MemoryError there
    rather than as a machine out of memory.
    """
    cap = 2 * 1024 ** 3

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    environ = {**os.environ, "DOCKER_HOST": NO_ENGINE, "NO_COLOR": "1"}
    with open(cwd / ".stderr", "w+") as err:
        child = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                 env=environ, preexec_fn=limit)
        for _ in range(int(timeout / 0.05)):  # tries of 0.05 s, not a clock
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        else:
            child.kill()
            os.wait4(child.pid, 0)
            child.returncode = -9  # reaped here; stop Popen from waiting on it again
            pytest.fail(f"{' '.join(argv)} was still running after {int(timeout / 0.05)} tries of 0.05 s (killed)")
        child.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return child.returncode, err.read(), usage.ru_maxrss


def test_billion_laughs_is_refused_quickly_with_little_memory(tmp_path):
    path = tmp_path / "quayform.yaml"
    path.write_text(billion_laughs())
    code, stderr, peak_kib = run_measured([sys.executable, "-m", "quayform", "validate"], tmp_path, HANG_TIMEOUT)
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: quayform.yaml:"), lines
    assert "expands to more than" in lines[0] and "values" in lines[0], lines
    assert "Traceback" not in stderr and "MemoryError" not in stderr
    assert peak_kib < 400 * 1024, f"validate peaked at {peak_kib // 1024} MiB"


def test_billion_laughs_is_refused_by_load_spec(tmp_path):
    path = tmp_path / "quayform.yaml"
    path.write_text(billion_laughs(levels=7))  # 9**7 = 4.8 million values: past the bound, still safe here
    [line] = problem_lines(path, read_secrets=False)
    assert line.startswith(f"{path}:") and "expands to more than" in line


def test_aliases_within_bounds_still_work(tmp_path):
    path = tmp_path / "quayform.yaml"
    path.write_text(textwrap.dedent("""
        version: 1
        stack: alias
        containers:
          a: &base {image: busybox, env: {A: "1"}}
          b: *base
          c: {<<: *base, image: other}
    """).lstrip())
    spec = load(path, read_secrets=False)
    assert spec.containers["b"].env == {"A": "1"} and spec.containers["c"].image == "other"


SPEC_HEAD = "version: 1\nstack: big\n"


@pytest.mark.parametrize("filler", ["x", "é"], ids=["ascii", "two-byte-utf8"])
def test_a_spec_larger_than_8_mib_is_refused(tmp_path, filler):
    path = tmp_path / "quayform.yaml"
    size = 8 * 1024 * 1024 + 1024
    comment = "# " + filler * ((size - len(SPEC_HEAD) - 3) // len(filler.encode()) + 1) + "\n"
    path.write_text(SPEC_HEAD + comment, encoding="utf-8")
    assert path.stat().st_size > 8 * 1024 * 1024
    code, stderr, _ = run_measured([sys.executable, "-m", "quayform", "validate"], tmp_path, HANG_TIMEOUT)
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and lines[0].startswith("Error: quayform.yaml:"), stderr
    assert "larger than 8 MiB" in lines[0], lines


def test_a_spec_just_under_8_mib_is_read(tmp_path):
    path = tmp_path / "quayform.yaml"
    comment = "# " + "x" * (8 * 1024 * 1024 - 1024) + "\n"
    path.write_text(SPEC_HEAD + comment)
    assert load(path, read_secrets=False).stack == "big"


# --- 6. PostgreSQL names (validate) ------------------------------------------------------------------

PG_HEAD = """
    version: 1
    stack: names
    containers:
      pgsql: {image: postgres}
    postgres:
      main: {container: pgsql}
"""


def pg_spec(tmp_path: Path, body: str, head: str = PG_HEAD) -> Path:
    return write_spec(tmp_path, textwrap.dedent(head).lstrip("\n") + textwrap.dedent(body).lstrip("\n"))


def test_a_user_named_like_the_default_admin_role_is_refused(tmp_path):
    path = pg_spec(tmp_path, """
        users:
          postgres: {server: main}
    """)
    [line] = problem_lines(path, read_secrets=False)
    assert line.startswith(f"{path}:8: users.postgres: 'postgres' "), line
    assert "admin" in line


def test_a_user_named_like_a_custom_admin_role_is_refused(tmp_path):
    path = pg_spec(tmp_path, """
        users:
          boss: {server: main}
          app: {server: main, name: boss}
    """, head=PG_HEAD.replace("{container: pgsql}", "{container: pgsql, admin_user: boss}"))
    lines = problem_lines(path, read_secrets=False)
    assert any(line.startswith(f"{path}:8: users.boss: 'boss' ") and "admin" in line for line in lines), lines
    assert any(line.startswith(f"{path}:9: users.app.name: 'boss' ") and "admin" in line for line in lines), lines


@pytest.mark.parametrize("name", ["public", "none", "pg_monitor", "pg_x", "pg_read_all_data"])
def test_reserved_role_names_are_refused(tmp_path, name):
    path = pg_spec(tmp_path, f"""
        users:
          app: {{server: main, name: {name}}}
    """)
    [line] = problem_lines(path, read_secrets=False)
    assert line.startswith(f"{path}:8: users.app.name: '{name}' "), line
    assert "reserve" in line


@pytest.mark.parametrize("name", ["public", "none", "pg_x"])
def test_reserved_role_names_are_refused_as_keys_too(tmp_path, name):
    path = pg_spec(tmp_path, f"""
        users:
          {name}: {{server: main}}
    """)
    [line] = problem_lines(path, read_secrets=False)
    assert line.startswith(f"{path}:8: users.{name}: '{name}' "), line


@pytest.mark.parametrize("name", ["template0", "template1"])
def test_template_databases_are_refused(tmp_path, name):
    other = "template1" if name == "template0" else "template0"
    path = pg_spec(tmp_path, f"""
        databases:
          app: {{server: main, name: {name}}}
          {other}: {{server: main}}
    """)
    lines = problem_lines(path, read_secrets=False)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{path}:8: databases.app.name: '{name}' ") and "template" in lines[0], lines
    assert lines[1].startswith(f"{path}:9: databases.{other}: '{other}' ") and "template" in lines[1], lines


def test_names_over_63_bytes_are_refused_and_62_bytes_accepted(tmp_path):
    too_long, fits = "é" * 32, "é" * 31
    assert (len(too_long.encode()), len(fits.encode())) == (64, 62)
    path = pg_spec(tmp_path, f"""
        databases:
          long: {{server: main, name: {too_long}}}
          short: {{server: main, name: {fits}}}
        users:
          long: {{server: main, name: {too_long}}}
          short: {{server: main, name: {fits}}}
    """)
    lines = problem_lines(path, read_secrets=False)
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{path}:8: databases.long.name: ") and "64 bytes" in lines[0] and "63" in lines[0]
    assert lines[1].startswith(f"{path}:11: users.long.name: ") and "64 bytes" in lines[1] and "63" in lines[1]


def test_62_byte_and_odd_but_legal_names_are_accepted(tmp_path):
    path = pg_spec(tmp_path, f"""
        databases:
          a: {{server: main, name: {'é' * 31}}}
          b: {{server: main, name: 'a"b'}}
          c: {{server: main, name: "c'd"}}
          d: {{server: main, name: 'e\\f'}}
          e: {{server: main, name: "x=y z"}}
          template2: {{server: main}}
        users:
          a: {{server: main, name: {'é' * 31}}}
          postgresql: {{server: main}}
          publicity: {{server: main}}
    """)
    spec = load(path, read_secrets=False)
    assert spec.databases["a"].name == "é" * 31 and spec.databases["d"].name == "e\\f"


# --- 7. SASLprep ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, prepared", [
    ("password", "password"),
    ("pa ss\tword\x7f!", "pa ss\tword\x7f!"),  # ASCII is used exactly as typed, controls included
    ("pass\u00adword", "password"),  # soft hyphen: mapped to nothing
    # U+200B is in both RFC 3454 tables B.1 (mapped to nothing) and C.1.2 (non-ASCII spaces); PostgreSQL's
    # pg_saslprep (src/common/saslprep.c, shared by the server and libpq) tests the spaces first: a space.
    ("pass\u200bword", "pass word"),
    ("pass\u200cword\u2060", "password"),  # zero-width non-joiner, word joiner: mapped to nothing
    ("pass\u00adword-x9", "password-x9"),
    ("a\u00a0b", "a b"),  # no-break space: a space
    ("a\u2003b\u3000c", "a b c"),  # other non-ASCII spaces too
    ("\u2168", "IX"),  # NFKC: ROMAN NUMERAL NINE
    ("\ufb01x", "fix"),  # NFKC: the fi ligature
    ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFKC composes
    ("\u00e9t\u00e9", "\u00e9t\u00e9"),  # already normal: unchanged
], ids=["ascii", "ascii-controls", "soft-hyphen", "zero-width-space", "zero-width-non-joiner", "soft-hyphen-x9", "nbsp", "wide-spaces",
        "roman-nine", "ligature", "compose", "normal"])
def test_saslprep_maps_and_normalises(typed, prepared):
    assert saslprep(typed) == prepared


@pytest.mark.parametrize("password", [
    "\u00e9\u0001x",  # an ASCII control next to non-ASCII: prohibited (C.2.1)
    "\u00e9\u200ex",  # LEFT-TO-RIGHT MARK: prohibited (C.8)
    "\u00e9\ue000",  # private use: prohibited (C.3)
    "\u0221x",  # unassigned in Unicode 3.2 (A.1)
    "\u0627a",  # RandALCat then LCat: breaks the bidi rule
    "\u06271",  # RandALCat first, not last
], ids=["control", "lrm", "private-use", "unassigned", "bidi-mixed", "bidi-not-last"])
def test_saslprep_failure_uses_the_password_unchanged(password):
    assert saslprep(password) == password


def test_saslprep_keeps_valid_right_to_left_passwords():
    assert saslprep("\u0627\u0628\u0629") == "\u0627\u0628\u0629"
    assert saslprep("\u0627 1 \u0628") == "\u0627 1 \u0628"


def test_verifiers_are_made_from_the_saslprepped_password():
    salt = b"fixed-salt-16byt"
    typed = "pass\u00adword-x9"
    assert scram_verifier(typed, salt=salt) == scram_verifier("password-x9", salt=salt)
    assert password_matches("password-x9", scram_verifier(typed), "u")
    assert password_matches("pass word-x9", scram_verifier("pass\u200bword-x9"), "u")
    assert not password_matches(typed, scram_verifier("pass\u200bword-x9"), "u")
    assert password_matches("\u2168", scram_verifier("IX"), "u")
    assert not password_matches("pass-word-x9", scram_verifier(typed), "u")  # an ASCII hyphen is a character
    bidi = "\u0627a"
    assert scram_verifier(bidi, salt=salt) != scram_verifier("a", salt=salt)
    assert password_matches(bidi, scram_verifier(bidi), "u")


@pytest.mark.parametrize("name, quoted", [("app", '"app"'), ('we"ird', '"we""ird"'), ("Ünï code", '"Ünï code"')])
def test_the_hint_for_a_kept_database_is_sql_that_names_it(name, quoted):
    """Item 17: the DROP DATABASE a user is told to run must be an identifier, not a string literal."""
    from quayform.changes import LiveObject
    from quayform.kinds.postgres.database import KIND

    hint = KIND.orphan_reason(LiveObject("databases", None, name, name, {}))
    assert f"DROP DATABASE {quoted}" in hint
    assert f"'{name}'" not in hint
