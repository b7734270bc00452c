"""Hub users of a company or an office, their roles and grants (issue 4)."""
