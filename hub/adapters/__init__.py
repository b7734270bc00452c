"""Adapters: the outside world (XML, PDF, couriers) behind the protocols the domain owns."""
