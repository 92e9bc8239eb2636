"""Fake-order (brushing, 刷单) risk: features known at intake, rule points, an unsupervised
model, the score, the labelled data generator and its evaluation (docs/intelligence-risk.md).

Pure parts only, apart from ``gather`` (which asks a :class:`~oms.risk.gather.Source` for
the earlier orders: PostgreSQL live, an in-memory index in evaluation). scikit-learn is
imported only where a model is trained or loaded, never at import time.
"""
