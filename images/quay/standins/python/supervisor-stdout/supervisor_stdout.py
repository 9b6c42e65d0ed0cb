"""quayform stand-in for ``supervisor_stdout``: puts the output of Quay's services on the
container's stdout.

Quay's supervisord.conf declares an event listener for PROCESS_LOG events whose command is
``supervisor_stdout`` and whose ``result_handler`` is ``supervisor_stdout:event_handler``.
The two halves run in different processes:

* ``main()`` is the listener process. It speaks supervisord's event-listener protocol on its
  stdin/stdout (announce READY, read a header line with ``len:N`` and the payload, answer
  ``RESULT <n>`` and n bytes) and answers every event with its own payload. Careful: the
  ``len`` supervisord 4 sends counts the payload's characters (it measures the str before
  encoding it), while the length of a RESULT counts bytes; the two differ as soon as a log
  line holds non-ASCII text, and a listener that mixes them up gets out of step and is
  dropped by supervisord ("violated the eventlistener protocol").
* ``event_handler(event, result)`` is called inside supervisord with that answer, and writes
  each log line to supervisord's stdout (the container log) as ``<program> <channel> | line``.
"""

import io
import sys


def _fields(line):
    """'a:1 b:2' -> {'a': '1', 'b': '2'} (tokens without a colon are ignored)."""
    fields = {}
    for token in line.split():
        key, sep, value = token.partition(":")
        if sep:
            fields[key] = value
    return fields


def _as_text(data):
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return data


def main():
    # Text mode over stdin so that read(n) counts characters like supervisord does; newline=""
    # keeps the payload byte-for-byte, surrogateescape keeps undecodable bytes intact.
    requests = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="")
    replies = sys.stdout.buffer
    while True:
        replies.write(b"READY\n")
        replies.flush()
        header = requests.readline()
        if not header:
            return 0
        payload = requests.read(int(_fields(header).get("len", "0")))
        data = payload.encode("utf-8", "surrogateescape")
        replies.write(b"RESULT " + str(len(data)).encode("ascii") + b"\n" + data)
        replies.flush()


def event_handler(event, result):
    head, _, body = _as_text(result).partition("\n")
    fields = _fields(head)
    prefix = "%s %s | " % (fields.get("processname", "-"), fields.get("channel", "-"))
    lines = body.splitlines() or [""]
    sys.stdout.write("".join(prefix + line + "\n" for line in lines))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
