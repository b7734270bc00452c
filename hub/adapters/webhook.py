"""Webhook POSTs over HTTP(S) with urllib3 (hub.notify.couriers.WebhookPoster): to an
address the target check returned, with the host name in Host and in TLS (SNI and the
certificate's name), so nothing resolves the name again between the check and the
connection."""

from __future__ import annotations

import certifi
import urllib3

from hub.notify.targets import WebhookTarget
from hub.outbox import Transient


class HttpPoster:
    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s

    def post(self, target: WebhookTarget, body: bytes, headers: dict[str, str]) -> int:
        """The answer's status from the first of the checked addresses that takes the
        connection; no redirects, no proxy, no retries of its own (the outbox retries)."""
        problem = "no address"
        for address in target.addresses:
            options: dict = {"timeout": urllib3.Timeout(total=self.timeout_s), "retries": False, "maxsize": 1}
            if target.scheme == "https":
                options |= {"server_hostname": target.host, "cert_reqs": "CERT_REQUIRED", "ca_certs": certifi.where()}
                pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(address, target.port, **options)
            else:
                pool = urllib3.HTTPConnectionPool(address, target.port, **options)
            try:
                with pool:
                    return pool.urlopen(
                        "POST", target.path, body=body, headers=headers, redirect=False, assert_same_host=False
                    ).status
            except urllib3.exceptions.NewConnectionError as error:
                problem = f"{type(error).__name__}"
                continue  # the next address, as a browser would
            except urllib3.exceptions.HTTPError as error:
                raise Transient(f"{target.url} unreachable: {type(error).__name__}") from None
        raise Transient(f"{target.url} unreachable: {problem}")
