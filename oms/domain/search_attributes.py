"""Search attributes the order workflows carry for operators in the Web UI.

No personal data here: ids and statuses only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

ORDER_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SALES_CHANNEL = SearchAttributeKey.for_keyword("SalesChannel")
# The first reason of the current hold (empty when none); every reason in HoldReasons.
HOLD_REASON = SearchAttributeKey.for_keyword("HoldReason")
HOLD_REASONS = SearchAttributeKey.for_keyword_list("HoldReasons")
ORDER_TOTAL = SearchAttributeKey.for_float("OrderTotal")
SLA_DEADLINE = SearchAttributeKey.for_datetime("SlaDeadline")
ORDER_LATE = SearchAttributeKey.for_bool("OrderLate")

ALL_KEYS = (
    ORDER_STATUS,
    CUSTOMER_ID,
    SALES_CHANNEL,
    HOLD_REASON,
    HOLD_REASONS,
    ORDER_TOTAL,
    SLA_DEADLINE,
    ORDER_LATE,
)

# As the Temporal CLI spells the types (``--search-attribute Name=Type``).
SA_TYPE_NAMES = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.BOOL: "Bool",
}
