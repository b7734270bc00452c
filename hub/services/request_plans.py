"""spyne's request objects read from a plan made once per request class.

spyne reads a request member by member through generic handlers: for each child element it
looks up the member, its attributes and its handler, checks for `xsi:nil` and `xsi:type`,
and converts the text. The contract's requests, validated against the XSD before spyne sees
them (hub.services.endpoint), are plain: complex types whose members are strings. For those a
plan, read once off the class with spyne's own rules, sets the same members from the same
elements: an element's text (or "" for an empty one), its local name naming the member, a
later element of the same name overwriting an earlier one, a comment or an element that names
no member passed over, as spyne does with no validator. In-process that took a VerifyCoupon's
request from 31.5 to 9 µs of CPU (BENCHMARKS.md, run 23). Anything a plan does not cover (an
attribute anywhere, `xsi:nil` and `xsi:type` among them; a processing instruction; a member
that is repeated, complex, typed other than a plain string, read-only or empty-is-none) is
left to spyne, whole: `read` answers None. tests/services/test_request_plans.py holds the
plans to spyne's objects.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from spyne import Unicode

SpyneClass = Any  # a spyne model class: spyne has no type hints


class RequestPlans:
    """The plans of one spyne protocol's request classes, each made on first use."""

    def __init__(self, protocol) -> None:
        self._protocol = protocol
        self._plans: dict[SpyneClass, frozenset[str] | None] = {}

    def read(self, ctx, cls: SpyneClass, element: etree._Element) -> object | None:
        """`element` read as spyne's `from_element` reads it into an instance of `cls`; None
        when spyne must read it."""
        members = self.plan(cls)
        if members is None or element.attrib:
            return None
        values = {}
        for child in element:
            tag = child.tag
            if type(tag) is not str:
                if isinstance(child, etree._Comment):
                    continue
                return None  # a processing instruction or an entity: spyne's own way
            if child.attrib:
                return None
            name = tag.rpartition("}")[2]
            if name in members:
                values[name] = child.text or ""
        inst = cls.get_deserialization_instance(ctx)
        for name, value in values.items():
            setattr(inst, name, value)
        return inst

    def plan(self, cls: SpyneClass) -> frozenset[str] | None:
        """The names of the members `cls`'s plan reads; None when spyne reads the class."""
        if cls not in self._plans:
            self._plans[cls] = self._made(cls)
        return self._plans[cls]

    def _made(self, cls: SpyneClass) -> frozenset[str] | None:
        """The names of `cls`'s members, every one a plain string read as spyne reads it
        (`complex_from_element`, `unicode_from_element`); None when one is not."""
        protocol = self._protocol
        attrs = protocol.get_cls_attrs(cls)
        if protocol.validator is not None or protocol.polymorphic or attrs.prot is not None:
            return None  # spyne validates, or reads a member's subclass, or the class reads itself
        if attrs._xml_tag_body_as is not None or cls._type_info_alt:
            return None  # a member in the element's text, or known by another name
        if protocol.deserialization_handlers[cls] != protocol.complex_from_element:
            return None
        members = cls.get_flat_type_info(cls)
        for member in members.values():
            member_attrs = protocol.get_cls_attrs(member)
            if not (
                issubclass(member, Unicode)
                and protocol.deserialization_handlers[member] == protocol.unicode_from_element
                and protocol._from_unicode_handlers[member] == protocol.unicode_from_bytes
                and member_attrs.max_occurs == 1
                and not member_attrs.read_only
                and not member_attrs.empty_is_none
                and member_attrs.prot is None
            ):
                return None
        return frozenset(members)
