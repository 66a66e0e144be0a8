"""Pieces of the composition root: the remembered subscription filter."""

from pgflex_gui.app import SubscriptionFilteredInventory
from tests.ui.fakes import SUB_A, SUB_B, TENANT, FakeInventory


def test_the_subscription_filter_is_read_at_each_listing() -> None:
    wanted: list[str] = [SUB_B.upper()]  # ids compare case-insensitively
    inventory = SubscriptionFilteredInventory(FakeInventory(), lambda: tuple(wanted))

    assert [s.subscription_id for s in inventory.list_subscriptions(TENANT)] == [SUB_B]
    wanted.clear()  # an empty filter shows every subscription
    assert {s.subscription_id for s in inventory.list_subscriptions(TENANT)} == {SUB_A, SUB_B}
    # Everything else goes to the real inventory untouched.
    assert [t.tenant_id for t in inventory.list_tenants()] == [TENANT]
