"""Known issues, pinned: each test asserts today's (wrong) behaviour of one entry in docs/spec.md.

When a fix lands, its test here fails: delete the test and the entry together, and add a
regression test that asserts the right behaviour (tests/unit/test_docs.py keeps the two lists
in step).
"""

from __future__ import annotations

