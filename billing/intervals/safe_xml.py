"""Parsing XML that came from outside: refuse the hostile shapes before spending work on them.

Order matters: the size is checked before anything else, the prolog is scanned for a DOCTYPE
(entity declarations, external DTDs) before the parser sees a byte, and the depth is checked
while the parser streams, so a deeply nested document is abandoned at the first level too many.
The parser itself never resolves entities, never loads a DTD and never touches the network.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

DEFAULT_MAX_DEPTH = 64
_CHUNK_BYTES = 64 * 1024

# Whatever may come before the root element: whitespace, the XML declaration, processing
# instructions and comments. A DOCTYPE can only sit here.
_PROLOG = re.compile(r"\A\ufeff?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.DOTALL)


class HostileXml(ValueError):
    """The document is refused for safety (size, DTD/entities, nesting) before it is parsed."""


class MalformedXml(ValueError):
    """The document is not well-formed XML."""


def _prolog_text(data: bytes) -> str:
    """The document's start decoded just enough to scan its prolog, whatever its encoding."""
    head = data[: 64 * 1024]
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32-le"),
        (codecs.BOM_UTF32_BE, "utf-32-be"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, errors="replace")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", errors="replace")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", errors="replace")
    # Every other encoding XML allows without a BOM is ASCII-compatible for markup.
    return head.decode("latin-1")


def _refuse_doctype(data: bytes) -> None:
    text = _prolog_text(data)
    after_prolog = text[_PROLOG.match(text).end() :]
    if after_prolog.startswith("<!DOCTYPE"):
        if "<!ENTITY" in after_prolog:
            raise HostileXml("the document declares entities in a DOCTYPE (refused)")
        raise HostileXml("the document has a DOCTYPE; DTDs are not accepted")


def parse_untrusted_xml(
    data: bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH
) -> etree._Element:
    """Parse ``data`` safely and return its root element.

    Raises HostileXml for documents refused for safety, MalformedXml for documents that are not
    well-formed."""
    if len(data) > max_bytes:
        raise HostileXml(f"the document is {len(data)} bytes, over the {max_bytes}-byte limit")
    _refuse_doctype(data)
    parser = etree.XMLPullParser(
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    try:
        for offset in range(0, len(data), _CHUNK_BYTES):
            parser.feed(data[offset : offset + _CHUNK_BYTES])
            for event, _element in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth > max_depth:
                        raise HostileXml(f"the document nests deeper than {max_depth} elements")
                else:
                    depth -= 1
        root = parser.close()
    except etree.XMLSyntaxError as error:
        if "Excessive depth" in str(error):  # libxml2's own cap, met within one fed chunk
            raise HostileXml(f"the document nests deeper than {max_depth} elements") from error
        raise MalformedXml(f"not well-formed XML: {error}") from error
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileXml("the document has a DOCTYPE; DTDs are not accepted")
    return root
