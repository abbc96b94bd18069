from pathlib import Path

from portal.roles_doc import capability_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_it_keeps_the_documented_capability_map_equal_to_the_code():
    assert capability_table() in DOC.read_text(), (
        "docs/architecture.md's role → capability table differs from portal/roles.py; "
        "regenerate it with portal.roles_doc.capability_table()"
    )
