"""The `hub` command (contract section 9). Commands only translate: parse options,
call a service of the `Hub`, print text or `--json`."""
