/* Ward pickers follow the borough picker in the browser: the options of every ward layer and
   borough come once from a cached file (see dashboard/core/ward_lists.py), so changing the borough
   sends no list of wards. */
(function () {
    "use strict";

    const loaded = {};

    function load(url) {
        if (!loaded[url]) {
            loaded[url] = fetch(url, {credentials: "same-origin"}).then(function (response) {
                if (!response.ok) { throw new Error("ward lists: HTTP " + response.status); }
                return response.json();
            }).catch(function (error) {
                delete loaded[url];  // try again on the next change
                throw error;
            });
        }
        return loaded[url];
    }

    window.dash_clientside = Object.assign({}, window.dash_clientside, {
        wardOptions: {
            /* The options of each layer in source.layers for the borough (none chosen: London;
               a code the lists lack: no wards, as the server would say). */
            follow: function (borough, source) {
                const noUpdate = window.dash_clientside.no_update;
                if (!source || !source.url) {
                    return (source && source.layers || [null]).map(function () { return noUpdate; });
                }
                return load(source.url).then(function (lists) {
                    return source.layers.map(function (layer) {
                        const byBorough = lists[layer] || {};
                        return borough ? (byBorough[borough] || []) : (byBorough[""] || []);
                    });
                }, function () {
                    return source.layers.map(function () { return noUpdate; });
                });
            }
        }
    });
}());
