"""The audit trail: who did what to which subject, kept beside the effect."""
