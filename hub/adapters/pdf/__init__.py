"""PDFs drawn with reportlab: coupons, receipts (KP), cash reports and reports."""
