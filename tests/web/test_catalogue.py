"""Every text the sign-in, desk-record, kiosk-enrolment and bureau pages show is in the
catalogue: keys written in the templates and the Python, and keys built from a stored value
(an outcome, an end reason, a timeline event, an audit action, a presence status)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.db.models import AccountRole, AuditAction, OfferResult, Outcome
from server.i18n import CATALOGUE, VILLAGE_PREFIXES
from server.supervisor import ENROLMENT_ERRORS, NOTICES
from signaling.messages import EndReason

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "server" / "templates"
KEY = r"[a-z_]+\.[a-z_]+"
IN_TEMPLATE = re.compile(rf"""\bt\(\s*["']({KEY})["']|["']({KEY})["']\s*(?:,|\])""")
IN_PYTHON = re.compile(r"""["']((?:auth|supervisor|village|lawyer|index)\.[a-z_]+)["']""")
TIMELINE = (
    "requested",
    "offered",
    "answered",
    "joined",
    "left",
    "citation_shown",
    "citation_pushed",
    "notes_saved",
    "outcome",
    "ended",
    "rated",
    *(f"offer_{r.value}" for r in OfferResult),
)
BUILT = [
    *(f"outcome.{o.value}" for o in Outcome),
    *(f"reason.{r.value}" for r in EndReason),
    *(f"event.{kind}" for kind in TIMELINE),
    *(f"audit.{a.value.replace('.', '_')}" for a in AuditAction),
    *(f"presence.{p}" for p in ("offline", "online", "on_duty", "waiting", "in_call")),
    *(f"account_role.{r.value}" for r in AccountRole),
    *(f"supervisor.notice_{n}" for n in NOTICES),
    *ENROLMENT_ERRORS.values(),
]


def _template_keys() -> set[str]:
    keys: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        for written, listed in IN_TEMPLATE.findall(path.read_text()):
            keys.add(written or listed)
    return keys


def test_every_key_written_in_a_template_or_the_server_exists() -> None:
    used = _template_keys()
    for name in ("auth.py", "supervisor.py", "pages.py"):
        found = IN_PYTHON.findall((ROOT / "server" / name).read_text())
        used |= {k for k in found if not k.endswith((".html", ".js"))}  # file names
    assert len(used) > 150
    absent = sorted(k for k in used if k not in CATALOGUE["zh"])
    assert absent == []


@pytest.mark.parametrize("key", BUILT)
def test_every_key_built_from_a_value_exists(key: str) -> None:
    assert key in CATALOGUE["zh"]


def test_the_kiosk_speaks_mongolian_too() -> None:
    kiosk = [k for k in _template_keys() if k.startswith(VILLAGE_PREFIXES)]
    assert "village.rate_very_good" in kiosk and "village.enrol_title" in kiosk
    for key in (*kiosk, "error.revoked", "village.enrol_revoked", "village.rate_thanks"):
        assert key in CATALOGUE["mn"], key
