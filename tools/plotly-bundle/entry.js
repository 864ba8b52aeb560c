// The plotly.js the app loads: its core (which includes scatter) and the trace types the pages
// draw. tests/unit/test_repo.py checks this list against the figures in dashboard/ and pages/.
'use strict';

var Plotly = require('plotly.js/lib/core');

Plotly.register([
    require('plotly.js/lib/bar'),
    require('plotly.js/lib/heatmap'),
    require('plotly.js/lib/scattermap'),
    require('plotly.js/lib/choroplethmap'),
]);

module.exports = Plotly;
