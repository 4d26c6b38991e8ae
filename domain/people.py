"""People named in words: a display name where Curfew knows one, never a bare GUID."""

from __future__ import annotations

import re
from collections.abc import Mapping

_OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def person(aad_object_id: str | None, names: Mapping[str, str]) -> str:
    """ "Dana Scientist"; a person Curfew has not met yet: "someone Curfew has not met (id …0020)"."""
    if not aad_object_id:
        return "nobody"
    name = names.get(aad_object_id.lower())
    if name:
        return name
    return f"someone Curfew has not met (id …{aad_object_id[-4:]})"


def actor(who: str, names: Mapping[str, str]) -> str:
    """Who did something, from the audit trail: a person by name; "curfew" or "operator:…" as they are."""
    return person(who, names) if _OBJECT_ID.match(who) else who
