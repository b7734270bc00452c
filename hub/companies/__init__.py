"""Leasing companies: their prepaid accounts and virtual top-up account numbers."""
