/* EV charging page (/ev): draws the device table from compact rows, turns table and chart button
   clicks into small updates, and downloads charts as PNG or SVG. */
(function () {
    "use strict";

    function el(type, props, children) {
        const p = Object.assign({}, props || {});
        if (children !== undefined) { p.children = children; }
        return {type: type, namespace: "dash_html_components", props: p};
    }

    /* The first triggering input that was actually clicked (new buttons report 0 clicks). */
    function clicked() {
        const ctx = window.dash_clientside.callback_context;
        const hit = (ctx.triggered || []).find(function (t) { return t.value; });
        if (!hit) { return null; }
        return JSON.parse(hit.prop_id.slice(0, hit.prop_id.lastIndexOf(".")));
    }

    function selectedDevice(query) {
        return new URLSearchParams(query || "").get("device");
    }

    function header(column, data) {
        const key = column[0], label = column[1], numeric = column[2];
        const current = data.sort === key;
        const order = current ? (data.desc ? "descending" : "ascending") : "none";
        const arrow = {descending: " \u25bc", ascending: " \u25b2", none: ""}[order];
        return el("Th", {scope: "col", className: numeric ? "num" : undefined,
                         "aria-sort": order}, [
            el("Button", {id: {type: "ev-sort", col: key}, n_clicks: 0,
                          className: "sort-button"},
               [label, el("Span", {"aria-hidden": "true"}, arrow)])
        ]);
    }

    function row(r, selected) {
        const cells = [
            el("Th", {scope: "row"}, [
                el("Button", {id: {type: "ev-device", index: r[0]}, n_clicks: 0,
                              className: "link-button"},
                   [r[1], el("Span", {className: "visually-hidden"}, " (show details)")]),
                el("Span", {className: "device-id"}, r[2])
            ]),
            el("Td", {}, r[3]), el("Td", {}, r[4]), el("Td", {}, r[5]),
            el("Td", {className: "num"}, r[6]), el("Td", {className: "num"}, r[7]),
            el("Td", {className: "num"}, r[8])
        ];
        return el("Tr", {className: r[2] === selected ? "is-selected" : undefined,
                         "aria-current": r[2] === selected ? "true" : undefined}, cells);
    }

    /* Bytes from URL-safe base64 (as dashboard.figures.ev._b64 writes them). */
    function bytes(b64) {
        const text = atob((b64 || "").replace(/-/g, "+").replace(/_/g, "/"));
        const out = new Uint8Array(text.length);
        for (let i = 0; i < text.length; i++) { out[i] = text.charCodeAt(i); }
        return out;
    }

    function floats(b64) {
        const raw = bytes(b64);
        return new Float32Array(raw.buffer, 0, raw.length >> 2);
    }

    /* The selected rows, in order: from a list of uint16 rows or from a bit set. */
    function rowsOf(selection, total) {
        if (selection.rows !== undefined) {
            const raw = bytes(selection.rows);
            return new Uint16Array(raw.buffer, 0, raw.length >> 1);
        }
        const bits = bytes(selection.bits), out = [];
        for (let i = 0; i < total; i++) {
            if (bits[i >> 3] & (1 << (i & 7))) { out.push(i); }
        }
        return out;
    }

    /* Device positions by URL, fetched once per page (the URL changes with the content). */
    const fetched = {}, fetching = {};

    function loadPoints(url) {
        if (!fetching[url]) {
            fetching[url] = fetch(url, {credentials: "same-origin"}).then(function (r) {
                if (!r.ok) { throw new Error("device positions: HTTP " + r.status); }
                return r.json();
            }).then(function (all) { fetched[url] = all; return all; });
        }
        return fetching[url];
    }

    function draw(selection, points, figure) {
        const lon = floats(points.lon), lat = floats(points.lat);
        const speed = bytes(points.speed), rows = rowsOf(selection, lon.length);
        const names = selection.names || null;
        const parts = points.traces.map(function () {
            return {lon: [], lat: [], row: [], text: []};
        });
        const ring = {lon: [], lat: [], size: []};
        for (let k = 0; k < rows.length; k++) {
            const i = rows[k], s = speed[i], part = parts[s];
            part.lon.push(lon[i]); part.lat.push(lat[i]); part.row.push(i);
            if (names) { part.text.push(names[k]); }
            if (points.ringSizes[s]) {
                ring.lon.push(lon[i]); ring.lat.push(lat[i]);
                ring.size.push(points.ringSizes[s]);
            }
        }
        const data = figure.data.slice();
        points.traces.forEach(function (t, s) {
            data[t] = Object.assign({}, data[t], {
                lon: parts[s].lon, lat: parts[s].lat, customdata: parts[s].row,
                text: parts[s].text,
                hovertemplate: (names ? "<b>%{text}</b><br>" : "") + points.labels[s] +
                    "<br>Click for details<extra></extra>"
            });
        });
        data[points.ring] = Object.assign({}, data[points.ring], {
            lon: ring.lon, lat: ring.lat,
            marker: Object.assign({}, data[points.ring].marker, {size: ring.size})
        });
        return Object.assign({}, figure, {data: data});
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        ev: {
            /* Fill the map's device traces with the selected devices: lon/lat as float arrays,
               the device's row in customdata, names for hover labels when the server sent them
               (small selections). points: every device, fetched once from its URL (or given
               inline); selection: which rows. */
            drawPoints: function (selection, points, figure) {
                if (!selection || !points || !figure) { return window.dash_clientside.no_update; }
                const loaded = points.url ? fetched[points.url] : points;
                if (loaded) { return draw(selection, loaded, figure); }
                return loadPoints(points.url).then(function (all) {
                    return draw(selection, all, figure);
                });
            },

            /* Table children, status, and whether Previous / Next are disabled. */
            renderTable: function (data, query) {
                if (!data) { return [null, "", true, true]; }
                const last = data.page >= data.pages - 1;
                if (data.message) {
                    return [el("P", {className: "hint table-message"}, data.message), "",
                            true, true];
                }
                const selected = selectedDevice(query);
                const table = el("Table", {className: "data devices"}, [
                    el("Caption", {}, [data.caption + " ",
                                       el("Span", {className: "sim-inline"}, "(simulated)")]),
                    el("Thead", {}, el("Tr", {}, data.columns.map(function (c) {
                        return header(c, data);
                    }))),
                    el("Tbody", {}, data.rows.map(function (r) { return row(r, selected); }))
                ]);
                return [table, data.status, data.page <= 0, last];
            },

            /* A device name clicked in the table: tell the server, bring the details into view. */
            pickDevice: function () {
                const id = clicked();
                if (!id) { return window.dash_clientside.no_update; }
                const section = document.getElementById("ev-device-section");
                if (section) {
                    section.scrollIntoView({block: "start"});
                    section.focus({preventScroll: true});
                }
                return {index: id.index, at: Date.now()};
            },

            /* A column heading clicked: tell the server which column. */
            pickSort: function () {
                const id = clicked();
                return id ? {col: id.col, at: Date.now()} : window.dash_clientside.no_update;
            },

            /* A {type: "ev-image", graph, format} button: download that chart as PNG or SVG. */
            downloadImage: function () {
                const id = clicked();
                const host = id && document.getElementById(id.graph);
                const graph = host && host.querySelector(".js-plotly-plot");
                if (!graph || !window.Plotly) { return window.dash_clientside.no_update; }
                const heading = document.querySelector("h1");
                const place = (heading ? heading.textContent : "").toLowerCase()
                    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
                // The image states what it shows: the section, the chart's title (place and
                // period), its caption, whether usage is simulated, the sources and the link.
                const text = function (node) {
                    return node ? node.textContent.replace(/\s+/g, " ").trim() : "";
                };
                const block = host.closest(".chart-block");
                const section = block && block.querySelector("h3");
                const caption = block && block.querySelector(".caption");
                const simulated = block && block.querySelector(".sim-label");
                const sources = document.querySelector(".ev-page > .caption:last-child")
                    || Array.from(document.querySelectorAll(".caption")).filter(function (c) {
                        return text(c).indexOf("Sources:") === 0;
                    })[0];
                const lines = [text(heading) + (section ? ": " + text(section) : ""), text(caption)];
                if (simulated) {
                    lines.push("Simulated usage: resampled from real Dundee and Perth charging " +
                               "sessions; London usage data is not published.");
                }
                lines.push(text(sources));
                lines.push("Borough Dashboards: " + window.location.href);
                window.boroughDashboards.downloadChart(graph, {
                    format: id.format, lines: lines,
                    filename: ["borough-dashboards", id.graph, place].filter(Boolean).join("-")
                });
                return window.dash_clientside.no_update;
            }
        }
    });
})();
