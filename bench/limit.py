"""The raw-SDK limit: the same stack as the benchmark spec, made with the fewest engine calls.

Run as its own process so that its time, like quayform's, includes interpreter start and
imports:  python bench/run.py --limit-phase {apply,check,change,destroy} --n N --stack S [--rev R]

docker-py's low-level APIClient (API version pinned, so no /version round trip) and a
ThreadPoolExecutor of 8 threads. Calls per phase:

  apply    1 network create, then per container (in parallel): volume create, container
           create, container start; a dependent container (i % 10 == 9) is created in
           parallel but started only after its dependency i-1 has been started.  3N + 1
  check    one `containers(all=True, filters=label)` list; exit 1 unless N are running.  1
  change   remove (force) + create + start of container c0 with the new env.  3
  destroy  per container: stop (short timeout; the SIGTERM trap makes it quick), remove,
           remove its volume; then remove the network.  3N + 1 (the network removal is
           retried, like quayform does, only when dockerd reports a stale endpoint; exit 3
           if it never goes away)

The objects are named <stack>-c<i>, <stack>-v<i>, <stack>-net and labelled
io.quayform-bench.limit=<stack> (never io.quayform.stack, so quayform leaves them alone).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import Future, ThreadPoolExecutor

import docker

LABEL = "io.quayform-bench.limit"
IMAGE = "quayform-test/busybox:1"
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
THREADS = 8
STOP_TIMEOUT = 2  # seconds; the trap makes the container exit on SIGTERM at once anyway
NETWORK_ATTEMPTS = 5
EXIT_STALE_NETWORK = 3  # destroy did everything, but the engine kept the network (see remove_network)
CHANGED = 0       # the container whose env the one-container change edits


def depends_on(i: int) -> int | None:
    """The benchmark's dependency rule: container i waits for i-1 when i % 10 == 9."""
    return i - 1 if i % 10 == 9 else None


def container_name(stack: str, i: int) -> str:
    return f"{stack}-c{i}"


def volume_name(stack: str, i: int) -> str:
    return f"{stack}-v{i}"


def network_name(stack: str) -> str:
    return f"{stack}-net"


def client() -> docker.APIClient:
    return docker.APIClient(version="1.41", timeout=300, max_pool_size=THREADS + 2,
                            **docker.utils.kwargs_from_env())


def _create(api: docker.APIClient, stack: str, i: int, rev: str) -> str:
    net = network_name(stack)
    created = api.create_container(
        IMAGE, command=COMMAND, name=container_name(stack, i),
        environment={"BENCH_REV": rev}, labels={LABEL: stack},
        host_config=api.create_host_config(binds=[f"{volume_name(stack, i)}:/data"]),
        networking_config=api.create_networking_config({net: api.create_endpoint_config(aliases=[f"c{i}"])}),
    )
    return created["Id"]


def apply(api: docker.APIClient, stack: str, n: int, rev: str) -> None:
    labels = {LABEL: stack}
    api.create_network(network_name(stack), driver="bridge", labels=labels)
    futures: list[Future] = []

    def one(i: int) -> None:
        api.create_volume(volume_name(stack, i), labels=labels)
        cid = _create(api, stack, i, rev)
        dep = depends_on(i)
        if dep is not None:
            futures[dep].result()  # submitted earlier, so already running or done: no deadlock
        api.start(cid)

    with ThreadPoolExecutor(THREADS) as pool:
        for i in range(n):
            futures.append(pool.submit(one, i))
        for future in futures:
            future.result()


def check(api: docker.APIClient, stack: str, n: int) -> bool:
    found = api.containers(all=True, filters={"label": f"{LABEL}={stack}"})
    return len(found) == n and all(c.get("State") == "running" for c in found)


def change(api: docker.APIClient, stack: str, rev: str) -> None:
    api.remove_container(container_name(stack, CHANGED), force=True)
    api.start(_create(api, stack, CHANGED, rev))


def destroy(api: docker.APIClient, stack: str, n: int) -> bool:
    def one(i: int) -> None:
        name = container_name(stack, i)
        api.stop(name, timeout=STOP_TIMEOUT)
        api.remove_container(name)
        api.remove_volume(volume_name(stack, i))

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(one, i) for i in range(n)]:
            future.result()
    return remove_network(api, network_name(stack))


def remove_network(api: docker.APIClient, name: str) -> bool:
    """Remove the network; False if dockerd 20.10 keeps a stale endpoint on it (moby/moby#43286).

    A stop followed at once by a remove can race with the daemon's own network cleanup and leave
    an endpoint behind that only a dockerd restart clears. Retrying costs calls only when it happens.
    """
    for attempt in range(NETWORK_ATTEMPTS):
        try:
            api.remove_network(name)
            return True
        except docker.errors.APIError as exc:
            if "active endpoints" not in str(exc):
                raise
        time.sleep(0.2 * (attempt + 1))
    return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run.py --limit-phase")
    parser.add_argument("--limit-phase", required=True, choices=["apply", "check", "change", "destroy"])
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--rev", default="0")
    args = parser.parse_args(argv)
    api = client()
    if args.limit_phase == "apply":
        apply(api, args.stack, args.n, args.rev)
    elif args.limit_phase == "check":
        if not check(api, args.stack, args.n):
            print(f"limit check: stack {args.stack} does not have {args.n} running containers")
            return 1
    elif args.limit_phase == "change":
        change(api, args.stack, args.rev)
    elif not destroy(api, args.stack, args.n):
        print(f"limit destroy: the engine refuses to remove {network_name(args.stack)}: it has a stale "
              "endpoint (moby/moby#43286); only a dockerd restart clears it")
        return EXIT_STALE_NETWORK
    return 0
