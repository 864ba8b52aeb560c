"""Borough Dashboards: London EV charge points, residents' needs and ward profiles."""
