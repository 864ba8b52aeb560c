"""Pure figure builders: (data, filter state) -> plotly figure or ``dash.Patch``.

One module per subject (``maps``, and one per page: ``ev``, ``needs``, ``ward``). Nothing here
reads files or runs queries, so every builder is testable without a server.
"""
from dashboard.figures.maps import (  # noqa: F401  (the shared toolkit)
    FONT, LONDON_CENTRE, LONDON_ZOOM, MapValues, base_layout, choropleth_map, empty_figure,
    fit_extent, graph_config, patch_choropleth, zoom_for_extent,
)
