#!/bin/bash
# Entrypoint of quayform-test/postgres:15, modelled on the official image:
#  - "postgres [ARGS]" (the default) or "-OPTION ...": initialise $PGDATA on
#    first start, then run the server as user postgres;
#  - anything else (psql, pg_isready, bash, ...) is executed as given.
# Environment:
#  POSTGRES_PASSWORD          superuser password (required unless
#                             POSTGRES_HOST_AUTH_METHOD=trust)
#  POSTGRES_USER              superuser name (default: postgres)
#  POSTGRES_DB                database created on first start (default: $POSTGRES_USER)
#  POSTGRES_HOST_AUTH_METHOD  auth for TCP connections (default: scram-sha-256)
#  POSTGRES_INITDB_ARGS       extra initdb arguments (word-split)
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
export PGDATA

as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

# The data directory may be a fresh (root-owned) volume or bind mount.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 3777 /var/run/postgresql
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        echo "docker-entrypoint: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        echo "  (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust to allow logins without one)" >&2
        exit 1
    fi

    initdb_args=(--username="$POSTGRES_USER" --encoding=UTF8 --locale=C.UTF-8
                 --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD")
    pwfile=""
    if [ -n "${POSTGRES_PASSWORD:-}" ]; then
        # The password reaches initdb through a private file, never argv.
        pwfile=$(mktemp /tmp/pgpass.XXXXXX)
        trap 'rm -f "$pwfile"' EXIT
        if [ "$(id -u)" = 0 ]; then
            chown postgres:postgres "$pwfile"
        fi
        chmod 600 "$pwfile"
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        initdb_args+=(--pwfile="$pwfile")
    fi
    # shellcheck disable=SC2206
    initdb_args+=(${POSTGRES_INITDB_ARGS:-})

    echo "docker-entrypoint: initialising database in $PGDATA"
    as_postgres initdb "${initdb_args[@]}" >/dev/null
    if [ -n "$pwfile" ]; then
        rm -f "$pwfile"
    fi

    {
        echo
        echo "# added by docker-entrypoint"
        echo "host all all all $POSTGRES_HOST_AUTH_METHOD"
    } >>"$PGDATA/pg_hba.conf"
    {
        echo
        echo "# added by docker-entrypoint"
        echo "listen_addresses = '*'"
        echo "password_encryption = scram-sha-256"
        echo "jit = off"
        echo "unix_socket_directories = '/var/run/postgresql'"
    } >>"$PGDATA/postgresql.conf"

    if [ "$POSTGRES_DB" != postgres ]; then
        db_ident=${POSTGRES_DB//\"/\"\"}
        user_ident=${POSTGRES_USER//\"/\"\"}
        echo "CREATE DATABASE \"$db_ident\" OWNER \"$user_ident\";" |
            as_postgres postgres --single -j -D "$PGDATA" postgres >/dev/null
    fi
    echo "docker-entrypoint: initialisation done"
fi

if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
fi
exec "$@"
