"""The passport row is declared once (selectors.ROW_COLUMNS); its three readers agree:
the fast path, the ORM, and an instance."""

import pytest

from passports import access, selectors, services
from passports.models import BatteryPassport
from registry.querysets import Requester

pytestmark = pytest.mark.django_db


def test_the_fast_detail_read_equals_the_orm_for_every_viewer_and_identifier(world):
    published = world.passport()
    draft = world.passport(publish=False)
    viewers = {
        "anonymous": Requester.anonymous(),
        "owner": access.requester_for(world.owner),
        "granted": access.requester_for(world.users["legitimate_interest"]),
        "staff": Requester(sees_everything=True),
    }
    for label, requester in viewers.items():
        for passport in (published, draft):
            for identifier in (
                passport.internal_id,
                passport.batterypass_id,
                str(passport.uuid),
                str(passport.uuid).upper(),
                f"urn:uuid:{passport.uuid}",
            ):
                orm = selectors.passport_row_orm(requester, identifier)
                fast = selectors.passport_row(requester, identifier)
                assert fast == orm, (label, identifier)
                assert (orm is None) == (label in ("anonymous", "granted") and passport is draft)
                if orm:
                    assert [type(v) for v in fast.values()] == [type(v) for v in orm.values()]
    assert selectors.passport_row(Requester.anonymous(), "no-such-id") is None


def test_an_instance_gives_the_same_row_as_the_orm(world):
    original = world.passport()
    successor = services.passport_repurpose(
        passport=original,
        new_status="repurposed",
        battery_identifier="2L-ROW",
        economic_operator=world.operator,
    )
    staff = Requester(sees_everything=True)
    for passport in (original, successor):
        (orm,) = selectors.passport_rows(staff, selectors.identifier_q(passport.internal_id))
        instance = BatteryPassport.objects.get(pk=passport.pk)
        assert selectors.row_of(instance, documents=True) == orm
    assert orm["predecessor__internal_id"] == original.internal_id
