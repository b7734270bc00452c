"""A plain zeep client over HTTP, as docs/integration/python-zeep.md tells an integrator to
set it up, and its three pitfalls shown as the hub and zeep report them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import zeep
from zeep.exceptions import Fault, SignatureVerificationFailed
from zeep.wsse.signature import BinarySignature

from hub import ns
from tests.support.factories import NIP, OPERATOR
from tests.support.signing import require_tool
from tests.support.soap import redeem_fields

from .zeep_recipe import HubSecurity

RECIPE = Path(__file__).with_name("zeep_recipe.py")
DOC = Path(__file__).resolve().parents[2] / "docs" / "integration" / "python-zeep.md"


@pytest.fixture
def keys(running_hub):
    from zeep.wsse import signature

    require_tool(signature.xmlsec is not None, "the xmlsec Python package (pip install xmlsec)")
    return running_hub.config_dir / "keys"


def client(running_hub, wsse):
    return zeep.Client(running_hub.url + "/soap/office?wsdl", wsse=wsse)


def test_the_recipe_verifies_redeems_and_checks_the_hubs_answers(running_hub, coupon, keys):
    wsse = HubSecurity(str(keys / "pojazd-1465.key"), str(keys / "pojazd-1465.crt"), str(keys / "hub.crt"))
    office = client(running_hub, wsse)
    check = office.service.VerifyCoupon(CouponId=coupon, OfficeCode="1465")
    assert (check.Valid, check.Amount) == (True, Decimal("161.50"))
    redeemed = office.service.RedeemCoupon(**redeem_fields(coupon))
    assert redeemed.CapturedAmount == Decimal("161.50")
    assert running_hub.hub.companies.account(NIP, actor=OPERATOR).posted_grosze == 500_00 - 161_50
    with pytest.raises(Fault) as fault:  # a fault is signed too, and checked before zeep raises it
        office.service.RedeemCoupon(**redeem_fields(coupon))
    assert fault.value.code.endswith("Client.CouponNotRedeemable")


def test_pitfall_1_no_timestamp(running_hub, coupon, keys):
    wsse = HubSecurity(str(keys / "pojazd-1465.key"), str(keys / "pojazd-1465.crt"), str(keys / "hub.crt"))
    wsse.apply = wsse.signer.apply  # as zeep does by itself: no Timestamp
    with pytest.raises(Fault, match="no wsu:Timestamp") as fault:
        client(running_hub, wsse).service.VerifyCoupon(CouponId=coupon, OfficeCode="1465")
    assert fault.value.code == "wsse:InvalidSecurity"


def test_pitfall_2_sha1_by_default(running_hub, coupon, keys):
    wsse = HubSecurity(str(keys / "pojazd-1465.key"), str(keys / "pojazd-1465.crt"), str(keys / "hub.crt"))
    wsse.signer = BinarySignature(str(keys / "pojazd-1465.key"), str(keys / "pojazd-1465.crt"))  # zeep's defaults
    with pytest.raises(Fault, match="rsa-sha1 is not allowed") as fault:
        client(running_hub, wsse).service.VerifyCoupon(CouponId=coupon, OfficeCode="1465")
    assert fault.value.code == "wsse:UnsupportedAlgorithm"


def test_pitfall_3_answers_checked_with_the_clients_own_certificate(running_hub, coupon, keys):
    wsse = HubSecurity(str(keys / "pojazd-1465.key"), str(keys / "pojazd-1465.crt"), str(keys / "pojazd-1465.crt"))
    with pytest.raises(SignatureVerificationFailed):
        client(running_hub, wsse).service.VerifyCoupon(CouponId=coupon, OfficeCode="1465")


def test_the_python_page_quotes_the_recipe_verbatim():
    code = RECIPE.read_text()
    recipe = code[code.index("from datetime") :]
    assert recipe in DOC.read_text(), f"{DOC} must quote {RECIPE} from its first import on"
    assert ns.OFFICE in DOC.read_text() or "soap/office" in DOC.read_text()
