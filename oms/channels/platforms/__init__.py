"""One module per sales platform: a pure mapping from its native order to ours."""
