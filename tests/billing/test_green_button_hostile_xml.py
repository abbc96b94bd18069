"""Hostile XML is refused before the parser spends work on it, and nothing of it is read."""

import pytest

from billing.intervals import read_interval_file
from billing.intervals.safe_xml import HostileXml, MalformedXml, parse_untrusted_xml
from tests.billing import gb_samples as gb

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol3;</title></feed>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!-- a comment first, to hide the DOCTYPE from a naive check -->
<!DOCTYPE feed [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&secret;</title></feed>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feed SYSTEM "http://127.0.0.1:9/evil.dtd">
<feed xmlns="http://www.w3.org/2005/Atom"/>"""

UNDECLARED_ENTITY = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>"""


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (BILLION_LAUGHS, "declares entities"),
        (EXTERNAL_ENTITY, "declares entities"),
        (EXTERNAL_DTD, "DTDs are not accepted"),
        (BILLION_LAUGHS.decode().encode("utf-16"), "declares entities"),
    ],
)
def test_doctypes_and_entities_are_refused(document, reason):
    with pytest.raises(HostileXml, match=reason):
        parse_untrusted_xml(document, max_bytes=1_000_000)


def test_an_undeclared_entity_is_not_well_formed():
    with pytest.raises(MalformedXml):
        parse_untrusted_xml(UNDECLARED_ENTITY, max_bytes=1_000_000)


def test_deep_nesting_is_refused_while_streaming():
    document = b"<a>" * 5000 + b"</a>" * 5000

    with pytest.raises(HostileXml, match="nests deeper than 64"):
        parse_untrusted_xml(document, max_bytes=1_000_000)


def test_an_oversized_document_is_refused_by_its_size_alone():
    # Not even well-formed: the size check comes before any parsing.
    with pytest.raises(HostileXml, match="over the 100-byte limit"):
        parse_untrusted_xml(b"<" * 101, max_bytes=100)


def test_the_file_reader_refuses_an_oversized_file_before_sniffing_it():
    with pytest.raises(ValueError, match="over the 50-byte limit"):
        read_interval_file(gb.simple_feed(gb.hourly(3)), max_bytes=50)


def test_a_reader_refuses_hostile_green_button_files():
    with pytest.raises(HostileXml):
        read_interval_file(BILLION_LAUGHS, filename="usage.xml")


def test_broken_xml_is_refused_as_malformed():
    with pytest.raises(MalformedXml, match="not well-formed"):
        read_interval_file(gb.simple_feed(gb.hourly(3))[:-20])


def test_a_benign_document_parses():
    root = parse_untrusted_xml(gb.simple_feed(gb.hourly(1)), max_bytes=1_000_000)

    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
