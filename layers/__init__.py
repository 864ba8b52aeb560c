"""Boundary and point layers: loading, simplifying, spatial assignment. Knows nothing of Dash."""
