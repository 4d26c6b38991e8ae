"""What a person reads when something Curfew depends on is down or refuses: the failure's own
message and what to do about it, never "something went wrong"."""

from __future__ import annotations

from compute.port import FleetError

NOT_SAVED = (
    "I could not save that; nothing changed. Curfew's database did not answer; try again in a minute, "
    "and if it keeps failing tell your Curfew admin."
)
DOCTOR = "ask your admin to run `python app.py doctor`"


def fleet_answer(error: FleetError) -> str:
    """The chat answer for an Azure failure: who failed, its message, and the next step."""
    message = str(error).rstrip(".")
    match error.code:
        case "forbidden":
            return f"Azure refused: {message}. Nothing changed; {DOCTOR}, which shows what Curfew may not do."
        case "unavailable":
            return f"Azure is not answering: {message}. Nothing changed; if it persists, {DOCTOR}."
        case "throttled":
            return f"Azure is busy: {message}. Nothing changed."
        case "not_found" | "busy" | "invalid":
            return f"Azure refused: {message}. Nothing changed."
    return f"Azure failed: {message}. Nothing changed; if it persists, {DOCTOR}."
