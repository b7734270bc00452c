"""Fee coupons: issue in batches (holds), verify, redeem (capture), reverse, cancel, expire."""
