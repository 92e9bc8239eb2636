"""Historical orders brought in from another system (``oms import orders``): readers for
each export format, validation rules with codes, the set-based writer, the start of open
orders at the stage they reached, and the reconciliation (``oms import verify``).
See docs/migration.md."""
