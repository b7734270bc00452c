"""hub.xmlsafe.parse_xml: hostile XML is refused, with a message naming what was refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.errors import ClientError
from hub.xmlsafe import XmlRefused, _refuse_entities_and_depth, parse_xml
from tests.support.signing import envelope, reparse

LIMITS = {"bytes_max": 100_000, "depth_max": 64}

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<r>&e;</r>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def refused(data: bytes, **limits) -> XmlRefused:
    with pytest.raises(XmlRefused) as caught:
        parse_xml(data, **{**LIMITS, **limits})
    return caught.value


def test_soap_envelope_parses():
    root = reparse(envelope())
    assert root.tag == "{http://schemas.xmlsoap.org/soap/envelope/}Envelope"


def test_refusal_is_a_client_error_with_code_invalid_request():
    error = refused(b"nonsense")
    assert isinstance(error, ClientError)
    assert error.code == "InvalidRequest"


def test_external_entity_is_refused_and_nothing_is_read():
    error = refused(XXE)
    assert error.reason == "dtd"
    assert "DOCTYPE" in error.message
    assert "root:" not in error.message


def test_external_dtd_subset_is_never_opened(tmp_path):
    probe = tmp_path / "probe.dtd"
    probe.write_text("<<< not a DTD")  # were it read, libxml2 would fail on it: "malformed"
    for data in (
        f'<!DOCTYPE r SYSTEM "file://{probe}"><r/>'.encode(),
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "file://{probe}"> %p;]><r/>'.encode(),
    ):
        assert refused(data).reason == "dtd"


def test_billion_laughs_is_refused():
    error = refused(BILLION_LAUGHS)
    assert error.reason == "dtd"
    assert "DTD" in error.message


def test_a_dtd_without_entities_is_refused():
    assert refused(b"<!DOCTYPE r [<!ELEMENT r ANY>]><r/>").reason == "dtd"


def test_a_doctype_alone_is_refused_as_dtd():
    assert refused(b"<!DOCTYPE r>").reason == "dtd"


def test_a_utf16_doctype_is_refused_as_dtd():
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>'
    assert refused(data.encode("utf-16")).reason == "dtd"


def test_oversize_is_refused_before_parsing():
    error = refused(b"<r>" + b"x" * 200 + b"</r>", bytes_max=100)
    assert error.reason == "size"
    assert "207 bytes; the limit is 100 bytes" in error.message


def test_ten_thousand_levels_are_refused_as_too_deep():
    error = refused(b"<a>" * 10_000 + b"</a>" * 10_000, bytes_max=1_000_000)
    assert error.reason == "depth"
    assert "deeper than 64 levels" in error.message


def test_depth_limit_is_exact():
    parse_xml(b"<a>" * 64 + b"</a>" * 64, **LIMITS)
    assert refused(b"<a>" * 65 + b"</a>" * 65).reason == "depth"


# A tree's shape: an element is the list of its children; text, comments and processing
# instructions between them count for no level.
_SHAPES = st.recursive(st.just([]), lambda children: st.lists(children, max_size=4), max_leaves=30)
_BETWEEN = st.sampled_from((b"", b"text", b"<!-- note -->", b"<?pi x?>", b"&amp;"))


def _depth(shape: list) -> int:
    return 1 + max((_depth(child) for child in shape), default=0)


@settings(max_examples=300, deadline=None)
@given(shape=_SHAPES, depth_max=st.integers(1, 8), between=_BETWEEN)
def test_depth_is_refused_exactly_wherever_the_deepest_element_is(shape, depth_max, between):
    def xml(element: list) -> bytes:
        return b"<e>" + between + b"".join(xml(child) + between for child in element) + b"</e>"

    data = b"<?xml version='1.0'?>" + between.replace(b"text", b"").replace(b"&amp;", b"") + xml(shape)
    if _depth(shape) > depth_max:
        assert refused(data, depth_max=depth_max).reason == "depth"
    else:
        assert parse_xml(data, bytes_max=100_000, depth_max=depth_max).tag == "e"


def test_a_deep_branch_after_a_shallow_one_is_refused():
    shallow, deep = b"<a/>" * 50, b"<a>" * 64 + b"</a>" * 64
    assert refused(b"<r>" + shallow + deep + shallow + b"</r>").reason == "depth"
    parse_xml(b"<r>" + shallow + b"<a>" * 63 + b"</a>" * 63 + shallow + b"</r>", **LIMITS)


@pytest.mark.parametrize("depth_max", [256, 5_000, 10**9])
def test_a_limit_beyond_the_parser_s_holds_as_far_as_the_parser_goes(depth_max):
    """libxml2 parses 256 levels and no more; a configured limit above that is still a valid
    setting: documents up to 256 levels parse, deeper ones are refused as too deep."""
    parse_xml(b"<a>" * 256 + b"</a>" * 256, bytes_max=100_000, depth_max=depth_max)
    error = refused(b"<a>" * 257 + b"</a>" * 257, depth_max=depth_max)
    assert error.reason == "depth"
    assert error.message == "The document nests elements deeper than 256 levels."  # the limit that held


def test_an_entity_left_in_the_tree_is_refused_by_its_reference():
    """Unreachable through `parse_xml` (a document that declares an entity has a DTD, and an
    undeclared one is not well-formed), so the last check runs on a tree that has one."""
    root = etree.fromstring(b"<r><a/></r>")
    root[0].append(etree.Entity("foo"))
    with pytest.raises(XmlRefused) as caught:
        _refuse_entities_and_depth(root, 64)
    assert caught.value.reason == "entity"
    assert caught.value.message == "The document refers to the entity &foo; (entities are refused)."


def test_non_xml_is_refused_with_line_number():
    error = refused(b"hello, world")
    assert error.reason == "malformed"
    assert "not well-formed XML at line 1, column 1" in error.message


def test_unclosed_element_names_its_line():
    assert "at line 3" in refused(b"<a>\n<b>\n</a>").message


def test_undefined_entity_is_refused():
    assert refused(b"<r>&foo;</r>").reason == "malformed"


def test_text_is_not_accepted_as_bytes():
    with pytest.raises(TypeError):
        parse_xml("<r/>", **LIMITS)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_are_refused(data):
    try:
        parse_xml(data, **LIMITS)
    except XmlRefused:
        pass
