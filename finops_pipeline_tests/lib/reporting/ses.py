"""Reading sent mail back from the sandbox's SES (moto's ``/moto-api/data.json``, server mode)."""

import email
import json
import urllib.request
from email import policy
from typing import Any


def sent_messages(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=30) as answer:
        data = json.load(answer)
    return list(data.get("ses", {}).get("RawMessage", []))


def sent_message(url: str, message_id: str) -> tuple[dict[str, Any], email.message.EmailMessage]:
    found = [m for m in sent_messages(url) if m["id"] == message_id]
    assert len(found) == 1, f"message {message_id} sent {len(found)} times"
    raw = found[0]["raw_data"]
    parsed = email.message_from_bytes(
        raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw, policy=policy.default
    )
    return found[0], parsed
