"""The baseline for bench/soap.py: the smallest honest spyne service answering a
VerifyCoupon-shaped request, unsigned, no database. Served by gunicorn with the
same worker count as the hub, so the ratio hub/baseline shows what signing,
verification, validation and the database cost.

    gunicorn -w 2 -b 127.0.0.1:8301 bench.baseline_app:app
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


class Baseline(ServiceBase):
    @operation("VerifyCoupon", VerifyCouponRequest, VerifyCouponResponse)
    def VerifyCoupon(ctx, req):
        return VerifyCouponResponse(CouponId=req.CouponId, Valid="true", Status="ISSUED")


app = WsgiApplication(
    Application([Baseline], tns=NS, in_protocol=Soap11(validator="lxml"), out_protocol=Soap11())
)
