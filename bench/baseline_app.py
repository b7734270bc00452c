"""The unsigned baseline for bench/soap.py: the smallest honest spyne service answering
VerifyCoupon- and RedeemCoupon-shaped requests, unsigned, no database. Served by gunicorn
with the hub's worker settings, so the ratio hub/baseline shows what signing,
verification, validation and the database cost. bench/signed_baseline_app.py wraps the
same service in the hub's signature checks.

    gunicorn -k gthread -w 2 --threads 4 --keep-alive 0 -b 127.0.0.1:8301 bench.baseline_app:app
"""

from spyne import Application, ComplexModel, ServiceBase, Unicode
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub.services.spyne_base import operation

NS = "urn:hub:office:v1"


class VerifyCouponRequest(ComplexModel):
    __namespace__ = NS
    _type_info = [("CouponId", Unicode), ("OfficeCode", Unicode)]


class VerifyCouponResponse(ComplexModel):
    __namespace__ = NS
    _type_info = [("CouponId", Unicode), ("Valid", Unicode), ("Status", Unicode)]


class RedeemCouponRequest(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("RequestId", Unicode),
        ("CouponId", Unicode),
        ("OfficeCode", Unicode),
        ("CaseNumber", Unicode),
        ("CaseType", Unicode),
    ]


class RedeemCouponResponse(ComplexModel):
    __namespace__ = NS
    _type_info = [
        ("RedemptionId", Unicode),
        ("CouponId", Unicode),
        ("CapturedAmount", Unicode),
        ("ReleasedAmount", Unicode),
    ]


class Baseline(ServiceBase):
    @operation("VerifyCoupon", VerifyCouponRequest, VerifyCouponResponse)
    def VerifyCoupon(ctx, req):
        return VerifyCouponResponse(CouponId=req.CouponId, Valid="true", Status="ISSUED")

    @operation("RedeemCoupon", RedeemCouponRequest, RedeemCouponResponse)
    def RedeemCoupon(ctx, req):
        return RedeemCouponResponse(
            RedemptionId=req.RequestId, CouponId=req.CouponId, CapturedAmount="161.50", ReleasedAmount="0.00"
        )


app = WsgiApplication(Application([Baseline], tns=NS, in_protocol=Soap11(validator="lxml"), out_protocol=Soap11()))
