"""Search attributes the order workflows carry for operators in the Web UI.

No personal data here: ids and statuses only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SALES_CHANNEL = SearchAttributeKey.for_keyword("SalesChannel")
HOLD_REASON = SearchAttributeKey.for_keyword("HoldReason")

ALL_KEYS = (ORDER_STATUS, CUSTOMER_ID, SALES_CHANNEL, HOLD_REASON)
