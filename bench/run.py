#!/usr/bin/env python3
"""quayform's benchmark: one command, see bench/README.md.

    python bench/run.py [--sizes 10,50,100] [--repeat 3] [--peers compose,limit] [--json OUT]

The same file is also the raw-SDK limit's entry point (run as a subprocess by the harness,
so the limit is timed whole-process too):

    python bench/run.py --limit-phase {apply,check,change,destroy} --n N --stack S [--rev R]

Only the standard library is imported here, so the limit's process pays for nothing but
the interpreter, docker-py and its own work.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    if "--limit-phase" in sys.argv[1:]:
        import limit

        return limit.main(sys.argv[1:])
    import harness

    return harness.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
