"""The one hardened XML parser of the hub.

Every byte of XML that comes from outside (SOAP requests, responses of the systems the hub calls,
bank statements) is parsed here and nowhere else. Hostile XML is refused before any business or
security code sees it:

| refused            | how                                                                 |
| ------------------ | ------------------------------------------------------------------- |
| too large          | `len(data) > bytes_max`, before the parser runs                     |
| DOCTYPE / DTD      | docinfo after parsing; entities are never resolved, so XXE and      |
|                    | billion laughs expand nothing (libxml2 may stop first, on entity    |
|                    | amplification: any syntax error in a document with a DOCTYPE is     |
|                    | reported as the DTD refusal)                                        |
| external resources | a resolver that answers every load with nothing: libxml2 2.14       |
|                    | (lxml 6.1) still OPENS local files named by an external DTD subset  |
|                    | or an external parameter entity, even with load_dtd=False and       |
|                    | no_network=True (seen with strace)                                  |
| entity references  | any `Entity` node left in the tree                                  |
| too deep           | one XPath after parsing; libxml2 itself stops at 256 levels without |
|                    | huge_tree, reported the same way (a limit above 256 holds at 256)   |
| not well-formed    | lxml's syntax error, with its line and column                       |
"""

from __future__ import annotations

import functools
from typing import BinaryIO

from lxml import etree

from hub.errors import XmlRefused


class _NoExternalResources(etree.Resolver):
    """Answers every external load (DTD subset, parameter entity) with an empty document."""

    def resolve(self, system_url, public_id, context):
        return self.resolve_string(b"", context)


# The hardening both parsers share. Every option is written out so that a change of lxml's
# defaults cannot loosen it.
_HARDENED = {
    "attribute_defaults": False,
    "dtd_validation": False,
    "load_dtd": False,
    "no_network": True,
    "recover": False,
    "huge_tree": False,
    "remove_blank_text": False,
    "strip_cdata": True,
    "compact": True,
    "resolve_entities": False,
}


def new_parser() -> etree.XMLParser:
    """A fresh hardened parser; lxml parsers must not be shared between threads."""
    parser = etree.XMLParser(
        encoding=None, ns_clean=False, remove_comments=False, remove_pis=False, collect_ids=False, **_HARDENED
    )
    parser.resolvers.add(_NoExternalResources())
    return parser


def iterparse(stream: BinaryIO, events: tuple[str, ...], tag: tuple[str, ...] | None = None) -> etree.iterparse:
    """The incremental twin of `new_parser` for documents too large to hold (bank
    statements): the same hardening, every option written out."""
    parser = etree.iterparse(
        stream, events=events, tag=tag, remove_comments=True, remove_pis=True, html=False, **_HARDENED
    )
    parser.resolvers.add(_NoExternalResources())
    return parser


def parse_xml(data: bytes, *, bytes_max: int, depth_max: int) -> etree._Element:
    """Parse untrusted bytes into an element tree, or raise XmlRefused naming what was refused."""
    if not isinstance(data, bytes):
        raise TypeError("parse_xml takes bytes, so that the size limit counts what arrived")
    if len(data) > bytes_max:
        raise XmlRefused(f"The XML document is {len(data)} bytes; the limit is {bytes_max} bytes.", "size")
    depth_max = min(depth_max, _PARSER_DEPTH_MAX)  # the limit that holds, and the one a refusal names
    root = _parse(data, depth_max)
    _refuse_dtd(root)
    _refuse_entities_and_depth(root, depth_max)
    return root


def _parse(data: bytes, depth_max: int) -> etree._Element:
    try:
        return etree.fromstring(data, parser=new_parser())
    except etree.XMLSyntaxError as exc:
        # libxml2 stops by itself at 256 levels without huge_tree: report it as the depth limit.
        if "Excessive depth" in str(exc):
            raise _too_deep(depth_max) from None
        # libxml2 may stop inside a DTD first (e.g. "entity amplification" for billion laughs).
        if any(marker in data for marker in _DOCTYPE_MARKERS):
            raise _dtd_refused() from None
        line, column = exc.position
        last = exc.error_log.last_error
        what = last.message if last is not None else exc.msg
        raise XmlRefused(
            f"The document is not well-formed XML at line {line}, column {column}: {what}", "malformed"
        ) from None


def _refuse_dtd(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _dtd_refused()


_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(codec) for codec in ("ascii", "utf-16-le", "utf-16-be"))


def _dtd_refused() -> XmlRefused:
    return XmlRefused("The document has a DOCTYPE (DTD); DTDs and entity declarations are refused.", "dtd")


def _refuse_entities_and_depth(root: etree._Element, depth_max: int) -> None:
    """Entities and depth, each in one walk libxml2 makes in C (no recursion, so no Python
    stack limit; a request's ~16 µs in a Python walk over its elements is ~3 µs, and a hostile
    megabyte's ~100 ms ~10 ms). `depth_max` is at most `_PARSER_DEPTH_MAX` (`parse_xml`)."""
    if _deeper_than(depth_max)(root):
        raise _too_deep(depth_max)
    entity = next(root.iter(etree.Entity), None)
    if entity is not None:
        raise XmlRefused(f"The document refers to the entity {entity.text} (entities are refused).", "entity")


# libxml2 parses no document deeper than this without `huge_tree` (`_parse` reports it as the
# depth limit): a limit above it checks nothing more, and an XPath of thousands of steps would
# exceed libxml2's recursion limit (any `xml_depth_max` is a valid setting).
_PARSER_DEPTH_MAX = 256


@functools.cache
def _deeper_than(depth_max: int) -> etree.XPath:
    """Whether the document has an element below `depth_max` levels (its root's is level 1):
    the elements one level down from the last, level by level, from the document's node.
    An XPath evaluates under a lock of its own, so threads may share it."""
    return etree.XPath("boolean(" + "/*" * (depth_max + 1) + ")")


def _too_deep(depth_max: int) -> XmlRefused:
    return XmlRefused(f"The document nests elements deeper than {depth_max} levels.", "depth")
