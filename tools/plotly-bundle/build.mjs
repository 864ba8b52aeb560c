// Builds ../../vendor/plotly/plotly.min.js from entry.js with plotly.js's own esbuild settings
// (its esbuild-config.js: IIFE with the global Plotly, maplibre-gl's CSS inlined, ES2016),
// minified, with the bundled packages' licence comments at the end.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

import { build } from 'esbuild';
import { environmentPlugin } from 'esbuild-plugin-environment';
import InlineCSSPlugin from 'esbuild-plugin-inline-css';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'vendor', 'plotly', 'plotly.min.js');
const plotly = JSON.parse(readFileSync(join(here, 'node_modules', 'plotly.js', 'package.json')));
const traces = [...readFileSync(join(here, 'entry.js'), 'utf8')
    .matchAll(/require\('plotly\.js\/lib\/(\w+)'\)/g)].map((m) => m[1]).filter((t) => t !== 'core');

mkdirSync(dirname(out), { recursive: true });
await build({
    entryPoints: [join(here, 'entry.js')],
    outfile: out,
    format: 'iife',
    globalName: 'Plotly',
    bundle: true,
    minify: true,
    legalComments: 'eof',
    plugins: [InlineCSSPlugin(), environmentPlugin({ NODE_DEBUG: false })],
    alias: { regl: '@plotly/regl', stream: 'stream-browserify' },
    define: { global: 'window', 'define.amd': 'false' },
    target: 'es2016',
    banner: {
        js: `/*! plotly.js v${plotly.version}, partial bundle: scatter, ${traces.join(', ')}.\n` +
            ' * Copyright 2012-2026, Plotly, Inc. Licensed under the MIT license.\n' +
            ' * Built by tools/plotly-bundle of Borough Dashboards. */',
    },
    footer: { js: 'window.Plotly = Plotly;' },
    logLevel: 'warning',
});

const bytes = readFileSync(out);
const sha = createHash('sha256').update(bytes).digest('hex');
console.log(`${out}: ${bytes.length} bytes, ${gzipSync(bytes, { level: 9 }).length} gzipped, ` +
            `sha256 ${sha}`);
