"""What the tests share: servers they start, data they make, clients they sign with.

Test modules and conftest files import from here and never from each other; a helper two
test modules need lives in this package. Every server a test starts binds port 0 (or lets
the OS pick) and says where it listens; every child process's output goes to a file or a
draining thread; every wait polls a condition with a deadline (`waiting.wait_until`)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "config"
IN_CI = os.environ.get("CI", "").lower() == "true"
