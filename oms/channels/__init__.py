"""Sales channels: the platforms orders come from, in their own formats.

``canonical`` is the shape every platform adapter maps to; ``platforms/`` holds one pure
module per platform (its field and status tables as data, its money conversion, its
webhook signature). Nothing here does I/O.
"""
