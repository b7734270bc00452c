"""Fee coupon hub: prepaid fee coupons and cash desk payments for Polish vehicle and driver registries."""

__version__ = "0.1.0"
