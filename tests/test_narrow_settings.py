"""Issue 17 point 2: hub/app.py hands each domain service the settings it reads (sections,
single values, offices and the tariff by code); no domain package sees the whole HubConfig."""

from __future__ import annotations

from pathlib import Path

import hub

# The domain layer of .importlinter
DOMAIN = (
    "companies",
    "coupons",
    "cashdesk",
    "bank",
    "settlement",
    "fk",
    "notify",
    "users",
    "reports",
    "audit",
    "outbox",
)


def test_no_domain_package_names_hub_config():
    root = Path(hub.__file__).parent
    naming = [
        str(p.relative_to(root)) for name in DOMAIN for p in (root / name).rglob("*.py") if "HubConfig" in p.read_text()
    ]
    assert naming == []
