"""Chinese for the stock page: levels, movements and the CSV import."""

MESSAGES: dict[str, str] = {
    "Warehouse": "仓库",
    "SKU": "SKU",
    "On hand": "在库",
    "Reserved": "已预留",
    "Available": "可用",
    "SKU starts with": "SKU 前缀",
    "Short: backordered above available": "缺货：待补货数量超过可用库存",
    "Units of this SKU that backordered orders wait for, over every warehouse": (
        "缺货订单在等待的该 SKU 数量（所有仓库合计）"
    ),
    "Backordered (SKU)": "待补货（SKU）",
    "Last sync (UTC)": "最近同步（UTC）",
    "History": "历史",
    "orders": "个订单",
    "available in all": "所有仓库可用",
    "never synced": "从未同步",
    "Movements": "库存变动",
    "Last movements": "最近的库存变动",
    "When (UTC)": "时间（UTC）",
    "Last sync per source": "各来源最近同步",
    "Source": "来源",
    "Newest level (UTC)": "最新库存时间（UTC）",
    "The newest as_of among the levels each source applied that still stand.": (
        "每个来源已应用且仍然有效的库存中最新的 as_of。"
    ),
    "No level was synced yet.": "尚未同步任何库存。",
    "Import levels from a CSV file": "从 CSV 文件导入库存",
    "A header row naming warehouse_id,sku,on_hand,as_of, then one absolute level a line (as_of: ISO 8601 with its offset). A level older than the one held is ignored.": (
        "第一行为列名 warehouse_id,sku,on_hand,as_of，之后每行一个绝对库存数量"
        "（as_of：带时区偏移的 ISO 8601 时间）。早于现有库存时间的数据将被忽略。"
    ),
    "File": "文件",
    "file name": "文件名",
    "Apply the valid rows when some are invalid": "部分行无效时仍应用有效行",
    "Import": "导入",
    "Recent imports": "最近的导入",
    "By": "操作人",
    "Started (UTC)": "开始时间（UTC）",
    "Applied": "已应用",
    "Rejected": "已拒绝",
    "rows": "行",
    "checking": "校验中",
    "applying": "应用中",
    "done": "已完成",
    "failed": "失败",
    "interrupted": "已中断",
    "Applying the levels in one transaction.": "正在一个事务中应用库存。",
    "The import stopped with the process that ran it: nothing was applied. Import the file again.": (
        "执行导入的进程已停止，未应用任何数据。请重新导入该文件。"
    ),
    "The import failed: nothing was applied.": "导入失败，未应用任何数据。",
    "Nothing was applied: some rows are invalid. Correct them, or import again with the valid rows applied.": (
        "未应用任何数据：部分行无效。请修正这些行，或重新导入并选择应用有效行。"
    ),
    "Stale": "过期",
    "ignored: as old as or older than the level held": "已忽略：不比现有库存新",
    "Superseded": "被取代",
    "ignored: a newer level in the file": "已忽略：文件中有更新的数据",
    "Shortfalls": "不足",
    "applied as what is reserved; alerted": "按已预留数量应用，并已告警",
    "Time": "用时",
    "The levels are applied, but the shortfall alerts could not be raised.": (
        "库存已应用，但未能发出库存不足告警。"
    ),
    "Rejected rows": "被拒绝的行",
    "Ignored rows": "被忽略的行",
    "Applied levels": "已应用的库存",
    "Line": "行号",
    "Value": "值",
    "Why": "原因",
    "Shortfall": "不足数量",
    "More not shown:": "未显示的其余条数：",
    "Choose a CSV file to import.": "请选择要导入的 CSV 文件。",
    "The source may hold letters, digits and . _ : - only (128 at most).": (
        "来源只能包含字母、数字和 . _ : -（最多 128 个字符）。"
    ),
    "The file cannot be imported: it must be a CSV file in UTF-8 whose first line names the columns warehouse_id,sku,on_hand,as_of.": (
        "无法导入该文件：文件必须是 UTF-8 编码的 CSV，且第一行为列名 "
        "warehouse_id,sku,on_hand,as_of。"
    ),
    "The file is too large.": "文件过大。",
}
