"""Dispatch planning: ``planner`` (the constraint-aware planner, pure functions over plain
values), ``inputs`` (its inputs for an event, read in bulk) and ``precedence`` (which of
overlapping events a vehicle is committed to). Import from those modules."""
