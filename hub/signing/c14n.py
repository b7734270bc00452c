"""Exclusive XML canonicalization as the profile uses it, and the one place that reads its
`ec:InclusiveNamespaces PrefixList`.

Java and .NET stacks (WSS4J inside CXF and Metro, WCF) write
`<ec:InclusiveNamespaces PrefixList="wsse soap o"/>` inside SignedInfo's CanonicalizationMethod
and inside each Reference's exc-c14n Transform, and have no switch to leave it out. The prefixes
listed there are canonicalized as inclusive c14n would: the in-scope declaration of each is
written on the signed element even where exclusive c14n would drop it. So:

- `prefix_list` reads and checks it (at most one InclusiveNamespaces, nothing else, a
  whitespace-separated list of NCNames or `#default`);
- `canonicalize` is exclusive c14n honouring it, for the digests, the signed SignedInfo and
  the replay key (hub.signing.verify and hub.signing.sign compute every signed byte with it);
- `signature_schema` is the XML Signature schema (signxml's copy of it), plus the exc-c14n
  namespace, whose `InclusiveNamespaces` element that schema does not declare
  (CanonicalizationMethod's content is a *strict* wildcard: every such element is refused).

signxml, the oracle of the differential tests (tests/signing/oracle.py), is made to read the
PrefixList through `prefix_list` too, so both compute the same bytes.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from pathlib import Path

from lxml import etree

from hub import ns
from hub.signing.faults import InvalidSecurity

INCLUSIVE_NAMESPACES = f"{{{ns.EXC_C14N}}}InclusiveNamespaces"
DEFAULT_PREFIX = "#default"  # the default namespace (xmlns="..."), in a PrefixList
_XML_SPACE = re.compile(r"[ \t\r\n]+")
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._\-]*\Z")  # ASCII NCNames: every prefix a stack writes

# The exc-c14n schema (W3C, xml-exc-c14n section 3), importing signxml's XML Signature schema.
_SCHEMA = f"""<schema xmlns="{ns.XSD}" targetNamespace="{ns.EXC_C14N}" elementFormDefault="qualified">
  <import namespace="{ns.DS}" schemaLocation="{{xmldsig}}"/>
  <element name="InclusiveNamespaces">
    <complexType><attribute name="PrefixList" type="string" use="required"/></complexType>
  </element>
</schema>"""


def prefix_list(c14n_element: etree._Element) -> list[str] | None:
    """The PrefixList of a CanonicalizationMethod or Transform element, or None without one.

    Raises InvalidSecurity when the element holds anything but one InclusiveNamespaces, or the
    list is not prefixes: what is not understood is not signed data the hub can vouch for."""
    children = list(c14n_element.iterchildren(etree.Element))
    if not children:
        return None
    what = f"ds:{etree.QName(c14n_element).localname} {c14n_element.get('Algorithm')}"
    if len(children) > 1 or children[0].tag != INCLUSIVE_NAMESPACES:
        names = ", ".join(etree.QName(c).text for c in children)
        raise InvalidSecurity(f"{what} holds {names}; only one ec:InclusiveNamespaces is allowed there.")
    text = children[0].get("PrefixList")
    if text is None:
        raise InvalidSecurity(f"The ec:InclusiveNamespaces of {what} has no PrefixList.")
    prefixes = [p for p in _XML_SPACE.split(text) if p]  # str.split() would also split at U+00A0
    for prefix in prefixes:
        if prefix != DEFAULT_PREFIX and not _NCNAME.match(prefix):
            raise InvalidSecurity(
                f"The ec:InclusiveNamespaces PrefixList {text!r} of {what} names {prefix!r}, "
                f"which is not a namespace prefix (nor {DEFAULT_PREFIX})."
            )
    return prefixes


def canonicalize(element: etree._Element, prefixes: list[str] | None) -> bytes:
    """Exclusive c14n (without comments) of `element` where it stands, with the in-scope
    declarations of `prefixes` kept: exactly the bytes a reference's digest covers.

    lxml canonicalizes a subtree on a stand-in root that carries every namespace declared on
    the element's ancestors, which is what serialising the element alone and parsing it again
    gives (signxml's way, and this function's until the fast path) without the two copies;
    tests/signing/test_differential.py holds the two, and xmlsec1, to the same bytes."""
    canonical: bytes = etree.tostring(
        element, method="c14n", exclusive=True, with_comments=False, inclusive_ns_prefixes=prefixes
    )
    if prefixes and DEFAULT_PREFIX in prefixes:
        return with_default_namespace(element, canonical)
    return canonical


# A canonical form's markup: a processing instruction (skipped), or a start or end tag whose
# attribute values are double-quoted and hold no '"' (c14n escapes it); text holds no '<'.
_MARKUP = re.compile(rb'<\?.*?\?>|<(/?)([^ >]+)((?: [^ =]+="[^"]*")*)>', re.DOTALL)
_ATTRIBUTE = re.compile(rb' [^ =]+="[^"]*"')
_DEFAULT_DECLARATION = b' xmlns="'


def with_default_namespace(element: etree._Element, canonical: bytes) -> bytes:
    """`canonical` (lxml's exclusive c14n of `element`) with `#default` in the PrefixList honoured.

    lxml passes libxml2 only the listed prefixes its document already knows as names, so
    `#default` never arrives and the default namespace is treated as exclusive c14n treats it:
    declared only where an element uses it. Listed, it is treated as inclusive c14n treats it
    (W3C xml-exc-c14n, 3): each element declares its in-scope default namespace, or xmlns=""
    for none, where the nearest output ancestor's differs (the apex: where it is not empty).
    xmlsec1 and WSS4J compute it so. Every other declaration stays as lxml wrote it; only the
    xmlns="..." of each start tag (written first, c14n's order) is set again."""
    elements = element.iter(etree.Element)  # document order: the order of the start tags
    rendered = [""]  # the default namespace each open element rendered
    pieces, done = [], 0
    for markup in _MARKUP.finditer(canonical):
        closing, name, attributes = markup.groups()
        if name is None:  # a processing instruction
            continue
        if closing:
            rendered.pop()
            continue
        default = next(elements).nsmap.get(None) or ""
        declaration = b""
        if default != rendered[-1]:
            declaration = _DEFAULT_DECLARATION + _attribute_value(default) + b'"'
        rendered.append(default)
        kept = b"".join(a for a in _ATTRIBUTE.findall(attributes) if not a.startswith(_DEFAULT_DECLARATION))
        pieces += [canonical[done : markup.start()], b"<", name, declaration, kept, b">"]
        done = markup.end()
    pieces.append(canonical[done:])
    return b"".join(pieces)


def _attribute_value(text: str) -> bytes:
    """An attribute value escaped as c14n escapes it."""
    for raw, escaped in (
        ("&", "&amp;"), ("<", "&lt;"), ('"', "&quot;"), ("\t", "&#x9;"), ("\n", "&#xA;"), ("\r", "&#xD;"),
    ):  # fmt: skip
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


@functools.lru_cache(maxsize=1)
def signature_schema() -> etree.XMLSchema:
    """XML Signature (signxml's copy) plus ec:InclusiveNamespaces, to validate a ds:Signature."""
    xmldsig = importlib.resources.files("signxml.schemas").joinpath("xmldsig1-schema.xsd")
    return etree.XMLSchema(etree.fromstring(_SCHEMA.replace("{xmldsig}", Path(str(xmldsig)).as_uri())))
