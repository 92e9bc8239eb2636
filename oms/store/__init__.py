"""The store: the one place that holds SQL for the OMS's tables.

Each module owns its table (or a group of tables that are written together) and offers
typed functions; the API, the activities, the worker and the CLIs call those and never
build or run a statement themselves (``tests/unit/test_sql_ownership.py`` checks it).
Functions that take an ``AsyncConnection`` run in the caller's transaction, so a step that
must lock rows and write several tables stays one transaction; those that take an
``AsyncEngine`` open their own connection the way the statement needs (a transaction, a
plain read, or one autocommit statement).

``docs/architecture.md`` names each module and the tables it owns.
"""
