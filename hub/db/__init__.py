"""Persistence: the engine, transactions, idempotency records and migrations."""
