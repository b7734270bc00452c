"""Journals for the offices' finance-accounting (FK) systems: files, and PostJournal."""
