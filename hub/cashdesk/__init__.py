"""The cash desk (Kasa): payments tied to cases, receipts (KP), void, day close and the daily cash report."""
