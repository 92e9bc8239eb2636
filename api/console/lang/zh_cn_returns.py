"""Chinese for returns and refunds: the order page's part and the Returns page."""

MESSAGES: dict[str, str] = {
    # The order page's part
    "Returns and refunds": "退货与退款",
    "Refunds": "退款",
    "Refund": "退款",
    "Refunded": "已退",
    "Refund or exchange": "退款或换货",
    "Decided by": "决定人",
    "restockable": "可重新入库",
    "damaged": "损坏",
    "missing": "缺失",
    "not received yet": "尚未收到",
    "exchange order": "换货订单",
    "No returns.": "没有退货。",
    "No refunds.": "没有退款。",
    "Open a return": "发起退货",
    "Give a refund": "发起退款",
    "One line each: SKU, quantity": "每行一条：SKU、数量",
    "or lines, one each: SKU, quantity": "或按商品行，每行一条：SKU、数量",
    "Resolution": "处理方式",
    "Return": "退货",
    "Exchange": "换货",
    "Store credit": "店铺余额",
    "Nothing": "不处理",
    # Statuses of a return or a refund
    "requested": "待决定",
    "closed": "已结束",
    "succeeded": "成功",
    "Succeeded": "成功",
    "Failed": "失败",
    # Messages
    "Check the form's fields:": "请检查表单字段：",
    "No such order or return.": "没有该订单或退货。",
    "Return opened:": "已发起退货：",
    "Refund recorded:": "已记录退款：",
    "Return approved:": "已批准退货：",
    "Return rejected:": "已拒绝退货：",
    # The reports page
    "Return rate per SKU": "各 SKU 退货率",
    "Return rate": "退货率",
    "Returned": "退回",
    "Delivered": "已送达",
    "Returns per reason": "按原因的退货",
    "Share of units delivered": "占送达件数比例",
    "Refunds asked in the range": "期间内发起的退款",
    "Pending": "处理中",
    "with a return": "有退货",
    "without a return": "无退货",
    "Currency": "币种",
    "Units returned / units delivered, of the orders received in the range:": (
        "退回件数 / 送达件数（期间内收到的订单）："
    ),
    # The Returns page
    "Newest first. A return outside its channel's return window waits here for a decision.": (
        "最新的在前。超出渠道退货期限的退货在此等待决定。"
    ),
}
