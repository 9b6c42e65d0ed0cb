#!/bin/bash
# Entrypoint of quayform-test/redis:7:
#  - "-OPTION ..." runs redis-server with the image defaults plus those
#    options (later options override earlier ones);
#  - "redis-server ..." started as root runs as user redis, after making
#    /data (possibly a fresh root-owned volume) writable for it;
#  - anything else (redis-cli, bash, ...) is executed as given.
set -euo pipefail

if [ "${1:0:1}" = '-' ]; then
    set -- redis-server --bind 0.0.0.0 --protected-mode no --dir /data "$@"
fi
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
    mkdir -p /data
    find /data \! -user redis -exec chown redis:redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups -- "$@"
fi
exec "$@"
