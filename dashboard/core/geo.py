"""The boundary layers the browser draws, each under a content-hashed URL.

Kept apart from ``app`` so that ``runtime`` can build them without importing the app factory.
"""
from __future__ import annotations

from pathlib import Path

from dashboard.core.served import Packed, fingerprinted
from dashboard.data import schema

GEO_ROUTE = "/geo/"


class GeoAssets:
    """Web GeoJSON layers served under content-hashed URLs, cacheable for a year.

    The browser fetches each layer once; a new pipeline run changes the hash and so the URL.
    """

    def __init__(self, data_dir: Path):
        self.files: dict[str, Packed] = {}  # name -> the layer's bytes
        self.urls: dict[str, str] = {}
        for layer in schema.LAYERS:
            path = schema.web_layer_path(data_dir, layer)
            if path.exists():
                name, packed = fingerprinted(layer, path.read_bytes())
                self.files[name] = packed
                self.urls[layer] = GEO_ROUTE + name

    def url(self, layer: str) -> str:
        return self.urls[layer]
