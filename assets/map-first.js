/* Map first: while a page's map is being drawn for the first time, the charts below the fold
   wait, so that the map is not held up by plotting they do on the same thread. plotly.js runs
   on the browser's main thread and MapLibre draws the map in frames between other work: six
   charts plotted as soon as plotly.js arrives hold the first frames of the map back.

   Every dcc.Graph plots through Plotly.react; this wraps it when plotly.js defines
   window.Plotly. A first plot of a chart (not a map) waits when a map's first plot is still
   being drawn and the chart is not near the viewport. The charts that wait are plotted, in page
   order, as soon as any of these happens:
   - every map being drawn has drawn its traces (MapLibre's first "idle" with their data, or
     the map's Plotly.react settled, or WAIT_MS after it began),
   - WAIT_MS have passed since the chart began to wait,
   - the chart comes within MARGIN of the viewport (scrolling),
   - the user presses a pointer or a key, or moves keyboard focus, anywhere on the page,
   - the page is about to print.
   The figures, the layout and what the server sends do not change; nothing waits once a chart
   has been plotted, so later updates (filters, patches) are drawn at once. */
(function () {
    "use strict";

    const WAIT_MS = 1500;
    const MARGIN = 200;  // pixels
    const MAP_TYPES = ["choroplethmap", "scattermap", "densitymap", "choroplethmapbox",
                       "scattermapbox", "densitymapbox"];

    let drawingMaps = 0;
    const waiting = [];  // {gd, start}: first plots held back, in the order they were asked for

    function traces(figure) {
        const data = Array.isArray(figure) ? figure : figure && figure.data;
        return Array.isArray(data) ? data : [];
    }

    function isMap(figure) {
        return traces(figure).some(function (t) { return MAP_TYPES.indexOf(t.type) >= 0; });
    }

    function nearViewport(gd) {
        const box = gd.getBoundingClientRect();
        return box.top < window.innerHeight + MARGIN && box.bottom > -MARGIN;
    }

    const observer = "IntersectionObserver" in window ? new IntersectionObserver(function (seen) {
        seen.forEach(function (entry) {
            if (entry.isIntersecting) { release(entry.target); }
        });
    }, {rootMargin: MARGIN + "px 0px"}) : null;

    /* Plot the waiting charts (all of them, or the one in gd), in the order they asked. */
    function release(gd) {
        waiting.slice().forEach(function (item) {
            if (gd && item.gd !== gd) { return; }
            waiting.splice(waiting.indexOf(item), 1);
            if (observer) { observer.unobserve(item.gd); }
            clearTimeout(item.timer);
            item.start();
        });
    }

    function releaseAll() { release(null); }

    function wait(gd) {
        return new Promise(function (resolve) {
            const item = {gd: gd, start: resolve};
            item.timer = setTimeout(function () { release(gd); }, WAIT_MS);
            waiting.push(item);
            if (observer) { observer.observe(gd); }
        });
    }

    /* A map's first plot: charts may wait until MapLibre has drawn it once. */
    function watchMap(gd, plotted) {
        drawingMaps += 1;
        let done = false;
        const finish = function () {
            if (done) { return; }
            done = true;
            drawingMaps -= 1;
            if (drawingMaps === 0) { releaseAll(); }
        };
        setTimeout(finish, WAIT_MS);
        Promise.resolve(plotted).then(finish, finish);
        // The call's promise settles a little after the map has drawn its traces. Sooner:
        // MapLibre's first "idle" (everything loaded and rendered) once the traces' GeoJSON
        // sources are in its style; the idle at "load", before plotly.js adds them, is not it.
        const sub = gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
        const map = sub && sub.map;
        if (!map) { return; }
        const idle = function () {
            const sources = (map.getStyle() || {}).sources || {};
            const drawn = Object.keys(sources).some(function (id) {
                return sources[id].type === "geojson";
            });
            if (drawn || done) {
                map.off("idle", idle);
                finish();
            }
        };
        map.on("idle", idle);
    }

    function wrap(Plotly) {
        const react = Plotly.react;
        if (typeof react !== "function" || react.mapFirst) { return; }
        const wrapped = function (gd, figure) {
            const args = arguments, self = this;
            const first = gd && !gd._fullLayout;
            if (first && isMap(figure)) {
                const plotted = react.apply(self, args);
                watchMap(gd, plotted);
                return plotted;
            }
            if (first && drawingMaps > 0 && !nearViewport(gd)) {
                return wait(gd).then(function () {
                    return gd.isConnected ? react.apply(self, args) : undefined;
                });
            }
            return react.apply(self, args);
        };
        wrapped.mapFirst = true;
        Plotly.react = wrapped;
    }

    /* plotly.js is loaded by the first dcc.Graph, after this script: wrap it when it arrives. */
    if (window.Plotly) {
        wrap(window.Plotly);
    } else {
        const before = Object.getOwnPropertyDescriptor(window, "Plotly");
        let plotly;
        Object.defineProperty(window, "Plotly", {
            configurable: true, enumerable: true,
            get: function () { return before && before.get ? before.get() : plotly; },
            set: function (value) {
                if (before && before.set) { before.set(value); }
                plotly = value;
                if (value) { wrap(value); }
            }
        });
    }

    ["pointerdown", "focusin", "keydown"].forEach(function (type) {
        document.addEventListener(type, releaseAll, {capture: true, passive: true});
    });
    window.addEventListener("beforeprint", releaseAll);
})();
