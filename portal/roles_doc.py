"""The role → capability table of docs/architecture.md, generated from portal/roles.py (a
test keeps the document equal to it)."""

from portal.roles import CAPABILITIES, Cap, Role


def capability_table() -> str:
    caps = [v for k, v in vars(Cap).items() if not k.startswith("_")]
    lines = [
        "| capability | " + " | ".join(f"`{r.value}`" for r in Role) + " |",
        "|---|" + "|".join(":-:" for _ in Role) + "|",
    ]
    for cap in caps:
        marks = " | ".join("✓" if cap in CAPABILITIES[r] else "" for r in Role)
        lines.append(f"| `{cap}` | {marks} |")
    return "\n".join(lines)
