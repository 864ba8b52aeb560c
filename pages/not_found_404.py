"""The page shown for any address the app does not know."""
import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", title="Page not found - Borough Dashboards")


def layout(**_query):
    return html.Div(className="not-found", children=[
        html.H1("Page not found"),
        html.P("If you typed the web address, check it is correct. If you pasted it, check you "
               "copied the entire address."),
        html.P(["You can go to the ", dcc.Link("overview", href="/"), ", the ",
                dcc.Link("EV charging", href="/ev"), " page, or ",
                dcc.Link("find a ward profile", href="/ward"), "."]),
    ])
