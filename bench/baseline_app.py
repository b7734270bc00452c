"""The unsigned baseline for bench/soap.py: the smallest honest spyne service answering
VerifyCoupon- and RedeemCoupon-shaped requests, unsigned, no database. Served by gunicorn
with the hub's worker settings, so the ratio hub/baseline shows what signing,
verification, validation and the database cost. bench/signed_baseline_app.py wraps the
same service in the hub's signature checks.

    gunicorn -k gthread -w 2 --threads 4 --worker-connections 4 --keep-alive 0 \
        -b 127.0.0.1:8301 bench.baseline_app:app
"""

import gc

from spyne import Application, ComplexModel, ServiceBase, Unicode
from spyne import const as spyne_const
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from hub.services.spyne_base import operation

NS = "urn:hub:office:v1"


def text_message(name: str, *fields: str) -> type[ComplexModel]:
    """A message of `fields` in order, every one text: the baseline only parses and writes them."""
    return type(name, (ComplexModel,), {"__namespace__": NS, "_type_info": [(field, Unicode) for field in fields]})


VerifyCouponRequest = text_message("VerifyCouponRequest", "CouponId", "OfficeCode")
VerifyCouponResponse = text_message("VerifyCouponResponse", "CouponId", "Valid", "Status")
RedeemCouponRequest = text_message(
    "RedeemCouponRequest", "RequestId", "CouponId", "OfficeCode", "CaseNumber", "CaseType"
)
RedeemCouponResponse = text_message(
    "RedeemCouponResponse", "RedemptionId", "CouponId", "CapturedAmount", "ReleasedAmount"
)


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

# As in the hub (hub/services/endpoint.py, hub/cli/serve.py): spyne's gc.collect() after a request
# once a second is off, and what the worker has loaded is frozen out of later collections, so the
# ratios measure the work, not a collector the hub does not run.
spyne_const.MIN_GC_INTERVAL = float("inf")
gc.freeze()
