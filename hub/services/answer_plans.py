"""spyne's answers written from a plan made once per response class.

spyne writes an answer member by member through generic handlers: for each member of each
object it looks up the member's serialisation attributes, its handler and its namespace,
and runs a coroutine per complex type. The contract's answers are plain: complex types whose
members are strings or other such complex types, some repeated. For those a plan, read once
off the class with spyne's own rules, writes the same elements in the same order: a member
that is None is left out, or written `xsi:nil="true"` when it is required (spyne's
`null_to_parent`); a repeated member is written once per item. In-process that took a
VerifyCoupon from 1.74 to 1.66 ms of CPU (BENCHMARKS.md, run 15). Anything a plan does not
cover (a member type with its own handler, such as the PDF's bytes or the bank's integers; a
default, a format, a polymorphic or excluded member; a value of an unexpected type) is left
to spyne, whole: `write` answers False and leaves nothing written.
tests/services/test_answer_plans.py holds the plans to spyne's output, byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from spyne import ComplexModelBase, Unicode
from spyne.const.xml import DEFAULT_NS

from hub import ns

SpyneClass = Any  # a spyne model class: spyne has no type hints
_NIL = {f"{{{ns.XSI}}}nil": "true"}


class _Unplanned(Exception):
    """A value the plan does not cover: spyne writes the whole answer instead."""


@dataclass(frozen=True)
class _Member:
    attribute: str
    tag: str  # {namespace}name, as spyne names it
    required: bool  # min_occurs > 0: None is written as xsi:nil
    repeated: bool  # max_occurs > 1: one element per item
    plan: _Plan | None  # a complex member's plan; None for a string


@dataclass(frozen=True)
class _Plan:
    model: SpyneClass
    members: tuple[_Member, ...]


class AnswerPlans:
    """The plans of one spyne protocol's response classes, each made on first use (the
    endpoint makes its answers' before its first request)."""

    def __init__(self, protocol) -> None:
        self._protocol = protocol
        self._plans: dict[SpyneClass, _Plan | None] = {}

    def write(self, cls: SpyneClass, inst: object, parent: etree._Element, namespace: str, name: str) -> bool:
        """Appends `inst`, an answer of response class `cls`, to `parent` as `{namespace}name`
        (renamed as spyne's `complex_to_parent` renames it): True; False, with nothing appended,
        when spyne must write it."""
        plan = self.plan(cls)
        if plan is None:
            return False
        own_namespace = cls.Attributes.sub_ns
        if own_namespace not in (None, DEFAULT_NS):
            namespace = own_namespace
        element = etree.SubElement(parent, f"{{{namespace}}}{cls.Attributes.sub_name or name}")
        try:
            _write_members(plan, inst, element)
        except _Unplanned:
            parent.remove(element)
            return False
        return True

    def plan(self, cls: SpyneClass) -> _Plan | None:
        if cls not in self._plans:
            self._plans[cls] = None  # a class that holds itself is left to spyne
            self._plans[cls] = self._made(cls)
        return self._plans[cls]

    def _made(self, cls: SpyneClass) -> _Plan | None:
        """`cls`'s plan: its members' elements as spyne's `_get_members_etree` names and writes
        them; None when one of them is not a plain string or a planned complex type."""
        protocol = self._protocol
        if not self._plain(cls) or protocol.serialization_handlers[cls] != protocol.complex_to_parent:
            return None
        if getattr(cls, "__extends__", None) is not None:
            return None
        members = []
        for attribute, member in cls._type_info.items():
            attrs = protocol.get_cls_attrs(member)
            if not self._plain(member) or attrs.exc or attrs.default is not None:
                return None
            namespace = cls.get_namespace() if member.Attributes.sub_ns is None else member.Attributes.sub_ns
            name = member.Attributes.sub_name or attribute
            handler = protocol.serialization_handlers[member]
            if namespace is DEFAULT_NS:
                return None
            if handler == protocol.modelbase_to_parent and self._plain_string(member, attrs):
                plan = None
            elif handler == protocol.complex_to_parent and issubclass(member, ComplexModelBase):
                plan = self.plan(member)
                if plan is None:
                    return None
            else:
                return None
            occurs = member.Attributes  # as `_get_members_etree` reads them, not the protocol's attributes
            members.append(
                _Member(attribute, f"{{{namespace}}}{name}", occurs.min_occurs > 0, occurs.max_occurs > 1, plan)
            )
        return _Plan(cls.__orig__ or cls, tuple(members))

    def _plain(self, cls: SpyneClass) -> bool:
        """Not polymorphic here, and no sub-protocol of its own."""
        return not self._protocol.polymorphic and self._protocol.get_cls_attrs(cls).prot is None

    def _plain_string(self, member: SpyneClass, attrs) -> bool:
        """A string written as it is: spyne's `unicode_to_unicode` with no encoding or format."""
        protocol = self._protocol
        return (
            issubclass(member, Unicode)
            and protocol._to_unicode_handlers[member] == protocol.unicode_to_unicode
            and attrs.encoding is None
            and attrs.format is None
            and attrs.str_format is None
        )


def _write_members(plan: _Plan, inst: object, element: etree._Element) -> None:
    if type(inst) is not plan.model:
        raise _Unplanned
    for member in plan.members:
        value = getattr(inst, member.attribute, None)
        if member.repeated and value is not None:
            if not isinstance(value, list | tuple):
                raise _Unplanned
            for item in value:
                _write_one(member, item, element)
        elif value is not None or member.required:
            _write_one(member, value, element)


def _write_one(member: _Member, value: object, parent: etree._Element) -> None:
    """As spyne does: a string or a nil made on its own, then appended (its namespace prefix
    is chosen there, as spyne's is); a complex member made in place."""
    if value is None:
        parent.append(etree.Element(member.tag, _NIL))
    elif member.plan is None:
        if type(value) is not str:
            raise _Unplanned
        element = etree.Element(member.tag)
        element.text = value
        parent.append(element)
    else:
        _write_members(member.plan, value, etree.SubElement(parent, member.tag))
