/* Chart downloads that say what they show. Every page's "Download chart (PNG / SVG)" buttons
   call window.boroughDashboards.downloadChart: it draws a copy of the chart with a header of
   plain lines (what, where, when, source, the link that reopens the view) above the plot, so an
   image pasted into a report carries its own provenance. The chart's own title, if it has one,
   becomes the second line of that header. */
(function () {
    "use strict";

    const LINE = 18;           // pixels per header line
    const CHAR = 6.5;          // average width of an 11 px character
    const TITLE_ROOM = 50;     // pixels of top margin a chart title takes

    function plain(html) {
        return String(html || "").replace(/<br\s*\/?>/gi, " ").replace(/<[^>]+>/g, " ")
            .replace(/\s+/g, " ").trim();
    }

    /* Split each line at spaces so that it fits the image; the first line is larger. */
    function wrap(lines, width) {
        const room = Math.max(40, Math.floor((width - 16) / CHAR)), out = [];
        lines.forEach(function (line, i) {
            const limit = i === 0 ? Math.floor(room * 0.8) : room;
            let rest = line;
            while (rest.length > limit) {
                let cut = rest.lastIndexOf(" ", limit);
                if (cut < limit / 2) { cut = limit; }
                out.push([i, rest.slice(0, cut)]);
                rest = rest.slice(cut).trim();
            }
            out.push([i, rest]);
        });
        return out;
    }

    function downloadChart(gd, options) {
        if (!gd || !window.Plotly || !gd._fullLayout) { return; }
        const layout = JSON.parse(JSON.stringify(gd.layout || {}));
        const own = layout.title && (typeof layout.title === "string" ? layout.title
                                     : layout.title.text);
        const lines = (options.lines || []).slice();
        if (own) {
            layout.title = {text: ""};
            lines.splice(1, 0, plain(own));
        }
        const width = gd.offsetWidth, height = gd.offsetHeight;
        const shown = wrap(lines.filter(Boolean), width);
        const extra = LINE * shown.length + 12;
        const size = gd._fullLayout._size;   // the plot area and margins, in pixels
        // The title's own room at the top goes (it is in the header now); what else sits
        // above the plot, such as a legend, keeps its room.
        const top = own ? Math.max(size.t - TITLE_ROOM, 12) : size.t;
        layout.margin = Object.assign({}, layout.margin || {},
                                      {l: size.l, r: size.r, t: top + extra, b: size.b,
                                       autoexpand: false});
        layout.width = width;
        layout.height = height + extra - (size.t - top);
        layout.annotations = (layout.annotations || []).concat(shown.map(function (item, k) {
            const first = item[0] === 0;
            return {text: first ? "<b>" + item[1] + "</b>" : item[1],
                    xref: "paper", yref: "paper", x: (8 - size.l) / size.w, y: 1,
                    xanchor: "left", yanchor: "bottom", align: "left", showarrow: false,
                    yshift: top + extra - 6 - LINE * (k + 1),
                    font: {size: first ? 14 : 11, color: "#0b0c0c"}};
        }));
        const png = options.format === "png";
        return window.Plotly.toImage({data: gd.data, layout: layout, config: {}},
                                     {format: options.format, width: width,
                                      height: layout.height, scale: png ? 2 : 1})
            .then(function (url) {
                const a = document.createElement("a");
                a.href = url;
                a.download = options.filename + "." + options.format;
                document.body.appendChild(a);
                a.click();
                a.remove();
            });
    }

    window.boroughDashboards = Object.assign({}, window.boroughDashboards,
                                             {downloadChart: downloadChart, plain: plain});
})();
