"""Who may act for what: a signed client acts only for its kind's services (checked
by the endpoint) and for the offices or company of its config entry (here)."""

from __future__ import annotations

from hub.errors import NotAuthorized


def require_office(client, office_code: str) -> None:
    if office_code not in client.offices:
        raise NotAuthorized(f"client {client.id} does not act for office {office_code}")


def require_company(client, nip: str) -> None:
    if client.company_nip != nip:
        raise NotAuthorized(f"client {client.id} does not act for company {nip}")
