"""A deliberately plain EV map and trend page: the reference the callback benchmark compares with.

Written the way most Dash tutorials do it, and kept out of the app on purpose: every simulated
session is read into one pandas frame at start, each filter change filters that frame and
rebuilds whole figures (a ``px.choropleth_map`` with the full ward GeoJSON embedded, a
``px.scatter_map`` of the devices with hover names and a monthly ``px.line``), and the figures
are sent whole every time. It serves the same data as the app: the same simulated sessions
cache, the same device table and the same 2022 wards. Run it with

    gunicorn bench.baseline_app:server -b 127.0.0.1:8060
"""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import plotly.express as px
from dash import Dash, Input, Output, dcc, html

from dashboard.data import schema
from dashboard.data import usage
from dashboard.core.config import Config

CONFIG = Config.from_env()
LONDON = {"lat": 51.49, "lon": -0.1}
SPEEDS = ["slow", "fast", "rapid", "ultra", "unknown"]


def load_sessions(config: Config) -> pd.DataFrame:
    """Every simulated session with its device's borough, ward and speed, and its start month."""
    folder = usage.ensure_sessions(config)
    files = sorted(Path(folder).glob("*.parquet"))
    sessions = pd.concat([pd.read_parquet(f, columns=["device_id", "start", "kwh"])
                          for f in files], ignore_index=True)
    sessions["device_id"] = sessions["device_id"].astype(str)
    sessions = sessions.merge(DEVICES[["device_id", "borough_code", "ward2022_code",
                                       "speed_class"]], on="device_id", how="left")
    sessions["month"] = sessions["start"].dt.strftime("%Y-%m")
    return sessions


DEVICES = pd.read_parquet(schema.chargepoints_path(CONFIG.data_dir))
WARDS = gpd.read_parquet(schema.layer_path(CONFIG.data_dir, "ward2022"))
GEOJSON = json.loads(WARDS.to_json())
BOROUGHS = gpd.read_parquet(schema.layer_path(CONFIG.data_dir, "borough"))
SESSIONS = load_sessions(CONFIG)
MONTHS = sorted(SESSIONS["month"].unique())

app = Dash(__name__, title="Baseline EV page")
server = app.server

app.layout = html.Div([
    html.H1("EV charging (baseline)"),
    html.Label("Borough", htmlFor="borough"),
    dcc.Dropdown(id="borough", placeholder="All of London",
                 options=[{"label": n, "value": c} for c, n in
                          sorted(zip(BOROUGHS["code"], BOROUGHS["name"]), key=lambda x: x[1])]),
    html.Label("Ward", htmlFor="ward"),
    dcc.Dropdown(id="ward", placeholder="All wards"),
    html.Label("From", htmlFor="from"),
    dcc.Dropdown(id="from", options=MONTHS, value=MONTHS[-12], clearable=False),
    html.Label("To", htmlFor="to"),
    dcc.Dropdown(id="to", options=MONTHS, value=MONTHS[-1], clearable=False),
    dcc.Checklist(id="speed", options=SPEEDS, value=[]),
    dcc.Graph(id="map", style={"height": "600px"}),
    dcc.Graph(id="trend"),
])


@app.callback(Output("ward", "options"), Input("borough", "value"))
def ward_options(borough):
    wards = WARDS if not borough else WARDS[WARDS["borough_code"] == borough]
    return [{"label": n, "value": c} for c, n in zip(wards["code"], wards["name"])]


def filtered(borough, ward, first, last, speeds):
    """The sessions and devices matching the filters."""
    s, d = SESSIONS, DEVICES
    if borough:
        s, d = s[s["borough_code"] == borough], d[d["borough_code"] == borough]
    if ward:
        s, d = s[s["ward2022_code"] == ward], d[d["ward2022_code"] == ward]
    if speeds:
        s, d = s[s["speed_class"].isin(speeds)], d[d["speed_class"].isin(speeds)]
    s = s[(s["month"] >= first) & (s["month"] <= last)]
    return s, d


@app.callback(Output("map", "figure"),
              Input("borough", "value"), Input("ward", "value"), Input("from", "value"),
              Input("to", "value"), Input("speed", "value"))
def update_map(borough, ward, first, last, speeds):
    s, d = filtered(borough, ward, first, last, speeds)
    per_ward = s.groupby("ward2022_code").size().reset_index(name="sessions")
    fig = px.choropleth_map(per_ward, geojson=GEOJSON, locations="ward2022_code",
                            featureidkey="properties.code", color="sessions",
                            color_continuous_scale="YlGnBu", map_style="white-bg",
                            center=LONDON, zoom=9 if borough else 8.7, opacity=0.7)
    points = px.scatter_map(d, lat="lat", lon="lon", hover_name="name", color="speed_class",
                            hover_data=["operator", "max_kw"])
    fig.add_traces(points.data)
    fig.update_layout(margin=dict(l=0, r=0, t=0, b=0))
    return fig


@app.callback(Output("trend", "figure"),
              Input("borough", "value"), Input("ward", "value"), Input("from", "value"),
              Input("to", "value"), Input("speed", "value"))
def update_trend(borough, ward, first, last, speeds):
    s, _ = filtered(borough, ward, first, last, speeds)
    monthly = s.groupby("month").agg(sessions=("kwh", "size"), kwh=("kwh", "sum")).reset_index()
    return px.line(monthly, x="month", y="sessions", markers=True,
                   title="Charging sessions per month (simulated)")


# Dash registers its script paths when it first renders the index page, per process. A fresh
# gunicorn worker whose first requests are the browser's parallel script downloads can answer
# some of them with 500 ("dash is not a registered library"), so render the index once here, in
# the master, before the workers are forked.
server.test_client().get("/")

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8060)
