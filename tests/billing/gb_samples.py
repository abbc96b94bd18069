"""Small Green Button documents built in the tests, for the cases the real samples lack."""

from __future__ import annotations

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
BASE = "https://dc.example.com/espi/1_1/resource/RetailCustomer/9"


def usage_point(number: int, title: str = "", kind: int = 0) -> str:
    return f"""<entry><id>urn:uuid:up-{number}</id>
  <link rel="self" href="{BASE}/UsagePoint/{number}"/>
  <link rel="up" href="{BASE}/UsagePoint"/>
  <link rel="related" href="{BASE}/UsagePoint/{number}/MeterReading"/>
  <title>{title or f"Premise {number}"}</title>
  <content><UsagePoint xmlns="{ESPI}"><ServiceCategory><kind>{kind}</kind></ServiceCategory>
  </UsagePoint></content></entry>"""


def meter_reading(point: int, meter: str, reading_type: str) -> str:
    return f"""<entry><id>urn:uuid:mr-{point}-{meter}</id>
  <link rel="self" href="{BASE}/UsagePoint/{point}/MeterReading/{meter}"/>
  <link rel="up" href="{BASE}/UsagePoint/{point}/MeterReading"/>
  <link rel="related" href="{BASE}/UsagePoint/{point}/MeterReading/{meter}/IntervalBlock"/>
  <link rel="related" href="https://dc.example.com/espi/1_1/resource/ReadingType/{reading_type}"/>
  <title>Meter {meter}</title>
  <content><MeterReading xmlns="{ESPI}"/></content></entry>"""


def reading_type(
    name: str, *, uom=72, multiplier: int | None = 0, flow=1, accumulation=4, prefix="espi"
) -> str:
    fields = f"<{prefix}:accumulationBehaviour>{accumulation}</{prefix}:accumulationBehaviour>"
    fields += f"<{prefix}:flowDirection>{flow}</{prefix}:flowDirection>"
    if multiplier is not None:
        fields += f"<{prefix}:powerOfTenMultiplier>{multiplier}</{prefix}:powerOfTenMultiplier>"
    fields += f"<{prefix}:uom>{uom}</{prefix}:uom>"
    return f"""<entry><id>urn:uuid:rt-{name}</id>
  <link rel="self" href="https://dc.example.com/espi/1_1/resource/ReadingType/{name}"/>
  <content><{prefix}:ReadingType xmlns:{prefix}="{ESPI}">{fields}</{prefix}:ReadingType>
  </content></entry>"""


def interval_block(point: int, meter: str, readings: list[tuple], block: int = 1) -> str:
    """readings: (start epoch, duration or None, value)."""
    body = ""
    for start, duration, value in readings:
        length = f"<duration>{duration}</duration>" if duration is not None else ""
        body += (
            f"<IntervalReading><timePeriod>{length}<start>{start}</start></timePeriod>"
            f"<value>{value}</value></IntervalReading>"
        )
    return f"""<entry><id>urn:uuid:ib-{point}-{meter}-{block}</id>
  <link rel="self" href="{BASE}/UsagePoint/{point}/MeterReading/{meter}/IntervalBlock/{block}"/>
  <link rel="up" href="{BASE}/UsagePoint/{point}/MeterReading/{meter}/IntervalBlock"/>
  <content><IntervalBlock xmlns="{ESPI}">{body}</IntervalBlock></content></entry>"""


def feed(*entries: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="{ATOM}">'
        f"<id>urn:uuid:feed</id><title>Test feed</title>{''.join(entries)}</feed>"
    ).encode()


JAN_1_2026 = 1767225600  # 2026-01-01T00:00:00Z


def hourly(count: int, value: int = 1000, start: int = JAN_1_2026) -> list[tuple]:
    return [(start + 3600 * hour, 3600, value) for hour in range(count)]


def simple_feed(readings: list[tuple], **type_fields) -> bytes:
    return feed(
        usage_point(1),
        meter_reading(1, "01", "1"),
        reading_type("1", **type_fields),
        interval_block(1, "01", readings),
    )
