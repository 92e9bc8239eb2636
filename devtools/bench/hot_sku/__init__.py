"""The hot-SKU benchmark: ``python -m devtools.bench.hot_sku --help`` (``run``)."""
