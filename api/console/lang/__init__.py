"""The console's Chinese catalog, one module per page or part (``zh_cn_<part>.py``, each
with ``MESSAGES``: English text to Chinese). ``api.console.i18n`` merges them."""
