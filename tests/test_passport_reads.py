"""The hand-written detail read returns exactly what the ORM queryset returns."""

import pytest

from passports import selectors
from passports.access import Viewer

pytestmark = pytest.mark.django_db


def test_hand_written_detail_read_equals_the_orm_for_every_viewer_and_identifier(world):
    published = world.passport()
    draft = world.passport(publish=False)
    viewers = {
        "anonymous": Viewer.anonymous(),
        "owner": Viewer.for_user(world.owner),
        "granted": Viewer.for_user(world.users["legitimate_interest"]),
        "staff": Viewer(is_staff=True),
    }
    for label, viewer in viewers.items():
        for passport in (published, draft):
            for identifier in (
                passport.internal_id,
                passport.batterypass_id,
                str(passport.uuid),
                f"urn:uuid:{passport.uuid}",
            ):
                orm = selectors.passport_rows(viewer, selectors.identifier_q(identifier), 1)
                raw = selectors.passport_row(viewer, identifier)
                assert (raw is None) == (not orm), (label, identifier)
                if orm:
                    assert raw == orm[0], (label, identifier)
    assert selectors.passport_row(Viewer.anonymous(), "no-such-id") is None
