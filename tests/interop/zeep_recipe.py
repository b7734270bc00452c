"""Calling the hub with plain zeep: the recipe of docs/integration/python-zeep.md, verbatim
(a test checks that the page quotes this file, and tests/interop/test_zeep.py runs it)."""

from datetime import UTC, datetime, timedelta

import xmlsec
from zeep.wsse import utils
from zeep.wsse.signature import BinarySignature


class HubSecurity:
    """zeep `wsse=` plugin: Timestamp + RSA-SHA256/SHA-256 signature out, hub's signature checked in."""

    def __init__(self, key_file, cert_file, hub_cert_file, ttl=timedelta(minutes=5)):
        sha256 = {"signature_method": xmlsec.Transform.RSA_SHA256, "digest_method": xmlsec.Transform.SHA256}
        # Pitfall 2: BinarySignature signs with RSA-SHA1 and SHA-1 unless told otherwise.
        self.signer = BinarySignature(key_file, cert_file, **sha256)
        # Pitfall 3: BinarySignature checks answers with the certificate it was given, i.e. the
        # client's own. Answers are signed by the hub: check them with a second instance that
        # holds the hub's certificate (its key file is not used for checking).
        self.answer_check = BinarySignature(key_file, hub_cert_file, **sha256)
        self.ttl = ttl

    def apply(self, envelope, headers):
        # Pitfall 1: zeep adds no wsu:Timestamp, and the hub requires a signed one.
        created = datetime.now(UTC)
        utils.get_security_header(envelope).append(
            utils.WSU.Timestamp(
                utils.WSU.Created(utils.get_timestamp(created, zulu_timestamp=True)),
                utils.WSU.Expires(utils.get_timestamp(created + self.ttl, zulu_timestamp=True)),
            )
        )
        return self.signer.apply(envelope, headers)  # signs the Body and the Timestamp

    def verify(self, envelope):
        return self.answer_check.verify(envelope)
