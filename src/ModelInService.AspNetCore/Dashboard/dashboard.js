// ModelInService monitor dashboard: plain JS, inline SVG, no external resources.
// Every drawn number is also written to data-* attributes (data-distance, data-status, ...) so tests can compare
// what the page shows with the JSON API.
(function () {
  'use strict';
  var API = document.body.getAttribute('data-api');
  var SVG = 'http://www.w3.org/2000/svg';
  var COLORS = { Drifted: '#d1495b', Stable: '#2e9d5b', InsufficientData: '#e09b1a', NoReference: '#8a94a6' };
  var REF = '#8a94a6';
  // ?scope=cluster opens on the cluster view (a link or bookmark to it); the buttons switch.
  var state = { window: null, windows: [], scope: /[?&]scope=cluster(&|$)/.test(location.search) ? 'cluster' : 'local' };

  function el(tag, attrs, parent, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { if (attrs[k] !== undefined && attrs[k] !== null) { e.setAttribute(k, attrs[k]); } }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function s(tag, attrs, parent, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs || {}) { if (attrs[k] !== undefined && attrs[k] !== null) { e.setAttribute(k, attrs[k]); } }
    if (text !== undefined) { e.textContent = text; }
    if (parent) { parent.appendChild(e); }
    return e;
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) { return '\u2013'; }
    digits = digits === undefined ? 3 : digits;
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) { return v.toExponential(2); }
    if (a >= 1000) { return Math.round(v).toLocaleString('en-US'); }
    return String(Number(v.toPrecision(digits)));
  }

  function pct(v) { return v === null || v === undefined ? '\u2013' : (v * 100).toFixed(1) + '%'; }

  function attr(v) { return v === null || v === undefined ? '' : String(v); }

  function getJson(path) {
    return fetch(API + path, { credentials: 'same-origin', headers: { Accept: 'application/json' } }).then(function (r) {
      if (!r.ok) { throw new Error(path + ': HTTP ' + r.status); }
      return r.json();
    });
  }

  function tile(parent, key, value, bad, name) {
    var t = el('div', { 'class': 'tile', 'data-tile': name }, parent);
    el('div', { 'class': 'k' }, t, key);
    el('div', { 'class': 'v' + (bad ? ' bad' : '') }, t, value);
  }

  // Axes frame: returns scales. box = {w, h, l, r, t, b}
  function frame(svg, box, x0, x1, y0, y1, yTicks) {
    var pw = box.w - box.l - box.r, ph = box.h - box.t - box.b;
    var sx = function (x) { return box.l + (x1 === x0 ? pw / 2 : (x - x0) / (x1 - x0) * pw); };
    var sy = function (y) { return box.t + ph - (y1 === y0 ? 0 : (y - y0) / (y1 - y0) * ph); };
    s('line', { x1: box.l, y1: box.t + ph, x2: box.l + pw, y2: box.t + ph, stroke: '#c5cbd6' }, svg);
    s('line', { x1: box.l, y1: box.t, x2: box.l, y2: box.t + ph, stroke: '#c5cbd6' }, svg);
    (yTicks || []).forEach(function (y) {
      s('line', { x1: box.l, y1: sy(y), x2: box.l + pw, y2: sy(y), stroke: '#eef0f4' }, svg);
      s('text', { x: box.l - 4, y: sy(y) + 3, 'text-anchor': 'end' }, svg, fmt(y, 2));
    });
    return { sx: sx, sy: sy, pw: pw, ph: ph };
  }

  function line(svg, xs, ys, sc, color, dash, width) {
    var pts = [];
    for (var i = 0; i < xs.length; i++) { pts.push(sc.sx(xs[i]).toFixed(1) + ',' + sc.sy(ys[i]).toFixed(1)); }
    return s('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': width || 2, 'stroke-dasharray': dash || null }, svg);
  }

  function legend(svg, x, y, items) {
    items.forEach(function (it, i) {
      s('line', { x1: x + i * 80, y1: y, x2: x + i * 80 + 14, y2: y, stroke: it[1], 'stroke-width': 2, 'stroke-dasharray': it[2] || null }, svg);
      s('text', { x: x + i * 80 + 18, y: y + 3 }, svg, it[0]);
    });
  }

  function cdfChart(parent, d, color) {
    var box = { w: 270, h: 150, l: 30, r: 8, t: 16, b: 22 };
    var svg = s('svg', { width: box.w, height: box.h, viewBox: '0 0 ' + box.w + ' ' + box.h, 'data-chart': 'cdf', 'data-points': d.points.length, role: 'img' }, parent);
    s('title', {}, svg, 'Cumulative distribution: reference vs window');
    var x0 = d.points[0], x1 = d.points[d.points.length - 1];
    var sc = frame(svg, box, x0, x1, 0, 1, [0, 0.5, 1]);
    [x0, (x0 + x1) / 2, x1].forEach(function (x, i) {
      s('text', { x: sc.sx(x), y: box.h - 6, 'text-anchor': i === 0 ? 'start' : i === 2 ? 'end' : 'middle' }, svg, fmt(x));
    });
    line(svg, d.points, d.reference, sc, REF, '4 3', 2).setAttribute('data-series', 'reference');
    line(svg, d.points, d.current, sc, color, null, 2).setAttribute('data-series', 'current');
    legend(svg, box.l + 4, 8, [['reference', REF, '4 3'], ['window', color]]);
  }

  function barChart(parent, d, color) {
    var box = { w: 270, h: 150, l: 30, r: 8, t: 16, b: 22 };
    var n = d.categories.length;
    var svg = s('svg', { width: box.w, height: box.h, viewBox: '0 0 ' + box.w + ' ' + box.h, 'data-chart': 'bars', 'data-points': n, role: 'img' }, parent);
    s('title', {}, svg, 'Category shares: reference vs window');
    var top = Math.max.apply(null, d.reference.concat(d.current).concat([0.01]));
    var sc = frame(svg, box, 0, n, 0, top, [0, top / 2, top]);
    var gw = sc.pw / n;
    d.categories.forEach(function (c, i) {
      var bw = Math.max(2, gw / 2 - 3);
      s('rect', { x: sc.sx(i) + 2, y: sc.sy(d.reference[i]), width: bw, height: sc.sy(0) - sc.sy(d.reference[i]), fill: REF, 'data-series': 'reference' }, svg);
      s('rect', { x: sc.sx(i) + 2 + bw, y: sc.sy(d.current[i]), width: bw, height: sc.sy(0) - sc.sy(d.current[i]), fill: color, 'data-series': 'current' }, svg);
      s('text', { x: sc.sx(i) + gw / 2, y: box.h - 6, 'text-anchor': 'middle' }, svg, c.length > 8 ? c.slice(0, 7) + '\u2026' : c);
    });
    legend(svg, box.l + 4, 8, [['reference', REF], ['window', color]]);
  }

  function historyChart(parent, times, h, color) {
    var box = { w: 270, h: 150, l: 34, r: 8, t: 16, b: 22 };
    var values = h ? h.distances : [];
    var drawn = values.filter(function (v) { return v !== null; }).length;
    var svg = s('svg', { width: box.w, height: box.h, viewBox: '0 0 ' + box.w + ' ' + box.h, 'data-chart': 'history', 'data-points': drawn, role: 'img' }, parent);
    s('title', {}, svg, 'Distance over time with the threshold');
    var top = Math.max.apply(null, values.filter(function (v) { return v !== null; }).concat([h && h.threshold || 0, 1e-3])) * 1.15;
    var sc = frame(svg, box, 0, Math.max(1, times.length - 1), 0, top, [0, top / 2, top]);
    if (h && h.threshold !== null) {
      s('line', { x1: box.l, x2: box.w - box.r, y1: sc.sy(h.threshold), y2: sc.sy(h.threshold), stroke: '#d1495b', 'stroke-dasharray': '5 3', 'data-threshold': h.threshold }, svg);
    }
    if (h && h.exitThreshold !== null) {
      s('line', { x1: box.l, x2: box.w - box.r, y1: sc.sy(h.exitThreshold), y2: sc.sy(h.exitThreshold), stroke: '#e09b1a', 'stroke-dasharray': '2 3' }, svg);
    }
    var xs = [], ys = [];
    function flush() { if (xs.length > 1) { line(svg, xs, ys, sc, color, null, 2); } else if (xs.length === 1) { s('circle', { cx: sc.sx(xs[0]), cy: sc.sy(ys[0]), r: 2, fill: color }, svg); } xs = []; ys = []; }
    values.forEach(function (v, i) { if (v === null) { flush(); } else { xs.push(i); ys.push(v); } });
    flush();
    if (times.length > 0) {
      var t = function (iso) { var d = new Date(iso); return ('0' + d.getUTCHours()).slice(-2) + ':' + ('0' + d.getUTCMinutes()).slice(-2); };
      s('text', { x: box.l, y: box.h - 6 }, svg, t(times[0]));
      s('text', { x: box.w - box.r, y: box.h - 6, 'text-anchor': 'end' }, svg, t(times[times.length - 1]) + ' UTC');
    }
    legend(svg, box.l + 4, 8, [['distance', color], ['threshold', '#d1495b', '5 3']]);
    if (drawn === 0) { s('text', { x: box.l + sc.pw / 2, y: box.t + sc.ph / 2, 'text-anchor': 'middle' }, svg, 'not enough data yet'); }
  }

  function batchChart(parent, buckets) {
    var box = { w: 240, h: 90, l: 30, r: 6, t: 6, b: 18 };
    var svg = s('svg', { width: box.w, height: box.h, 'data-chart': 'batch-sizes', 'data-points': buckets.length }, parent);
    var top = Math.max.apply(null, buckets.map(function (b) { return b.count; }).concat([1]));
    var sc = frame(svg, box, 0, buckets.length, 0, top, [0, top]);
    var bw = sc.pw / Math.max(1, buckets.length);
    buckets.forEach(function (b, i) {
      s('rect', { x: sc.sx(i) + 1, y: sc.sy(b.count), width: Math.max(1, bw - 2), height: sc.sy(0) - sc.sy(b.count), fill: '#2f6fde', 'data-count': b.count }, svg);
      s('text', { x: sc.sx(i) + bw / 2, y: box.h - 4, 'text-anchor': 'middle' }, svg, b.range);
    });
  }

  function renderModel(root, report, history, figures) {
    var sec = el('section', {
      'class': 'model', 'data-model': report.model, 'data-status': report.status, 'data-window': report.window,
      'data-predictions': report.predictions, 'data-drifted-features': report.driftedFeatures,
      'data-violations': report.violations.length, 'data-total-requests': figures.totalRequests,
      'data-batches': figures.batches, 'data-cache-hit-rate': attr(figures.cache && figures.cache.hitRate)
    }, root);
    var h = el('h2', {}, sec, report.model + ' ');
    el('span', { 'class': 'badge ' + report.status }, h, report.status.replace('-', ' '));
    el('span', { 'class': 'muted' }, h, 'window ' + report.window + ' \u00b7 ' + new Date(report.start).toISOString().slice(11, 16) + '\u2013' + new Date(report.end).toISOString().slice(11, 16) + ' UTC');

    var tiles = el('div', { 'class': 'tiles' }, sec);
    var judged = report.features.filter(function (f) { return f.status === 'Drifted' || f.status === 'Stable'; }).length;
    tile(tiles, 'Predictions (window)', fmt(report.predictions), false, 'predictions');
    tile(tiles, 'Per minute', fmt(report.predictionsPerMinute), false, 'rate');
    tile(tiles, 'Drifted features', report.driftedFeatures + ' / ' + judged, report.driftedFeatures > 0, 'drifted');
    tile(tiles, 'Dataset drift', report.datasetDrift ? 'yes' : 'no', report.datasetDrift, 'dataset-drift');
    tile(tiles, 'Violations', String(report.violations.length), report.violations.length > 0, 'violations');
    tile(tiles, 'Requests (process)', fmt(figures.totalRequests), false, 'requests');
    tile(tiles, 'Latency p50 / p99', fmt(figures.latencyMs.p50) + ' / ' + fmt(figures.latencyMs.p99) + ' ms', false, 'latency');
    tile(tiles, 'Queue wait p95', fmt(figures.queueWaitMs.p95) + ' ms', false, 'queue-wait');
    tile(tiles, 'Mean batch size', fmt(figures.meanBatchSize), false, 'batch-size');
    tile(tiles, 'Queue depth', fmt(figures.queueDepth), false, 'queue-depth');
    tile(tiles, 'Cache hit rate', figures.cache ? pct(figures.cache.hitRate) : 'off', false, 'cache');
    tile(tiles, 'Model version', fmt(figures.version), false, 'version');

    var row = el('div', { 'class': 'row' }, sec);
    var outcomes = el('div', { 'class': 'box' }, row);
    el('h3', {}, outcomes, 'Requests by outcome');
    var ot = el('table', {}, outcomes);
    Object.keys(figures.requests).forEach(function (k) { var tr = el('tr', {}, ot); el('td', {}, tr, k); el('td', { 'data-outcome': k }, tr, fmt(figures.requests[k])); });
    if (figures.batches > 0) {
      var bb = el('div', { 'class': 'box' }, row);
      el('h3', {}, bb, 'Batch sizes (last ' + figures.batchSizeHistogram.reduce(function (a, b) { return a + b.count; }, 0) + ' batches)');
      batchChart(bb, figures.batchSizeHistogram);
    }
    if (report.outcomes.count > 0) {
      var ob = el('div', { 'class': 'box' }, row);
      el('h3', {}, ob, 'Outcomes (' + report.outcomes.count + ')');
      el('div', {}, ob, 'accuracy ' + pct(report.outcomes.accuracy) + ' \u00b7 ECE ' + fmt(report.outcomes.expectedCalibrationError) + ' \u00b7 MAE ' + fmt(report.outcomes.meanAbsoluteError));
    }

    if (report.violations.length > 0) {
      var vb = el('div', { 'class': 'box', 'data-section': 'violations' }, sec);
      el('h3', {}, vb, 'Data-quality violations');
      var vt = el('table', {}, vb);
      var hr = el('tr', {}, vt);
      ['rule', 'feature', 'observed', 'expected', 'n', 'message'].forEach(function (c) { el('th', {}, hr, c); });
      report.violations.forEach(function (v) {
        var tr = el('tr', { 'data-rule': v.rule, 'data-feature': attr(v.feature) }, vt);
        [v.rule, v.feature || '\u2013', fmt(v.observed), fmt(v.expected), fmt(v.sampleSize), v.message].forEach(function (c) { el('td', {}, tr, c); });
      });
    }

    if (report.versionNote) {
      // The window spans several model versions, or not the reference's: drift of the outputs may be the model change.
      var mv = el('div', { 'class': 'box', 'data-section': 'model-versions' }, sec);
      el('h3', {}, mv, 'Model versions in the window');
      el('div', { 'class': 'v bad' }, mv, report.versionNote);
    }

    var byName = {};
    (history.features || []).forEach(function (f) { byName[f.name] = f; });
    var grid = el('div', { 'class': 'features' }, sec);
    report.features.forEach(function (f) {
      var color = COLORS[f.status] || REF;
      var hist = byName[f.name];
      var card = el('article', {
        'class': 'feature ' + f.status, 'data-feature': f.name, 'data-status': f.status, 'data-kind': f.kind,
        'data-distance': attr(f.distance), 'data-threshold': attr(f.threshold), 'data-count': f.count,
        'data-history-points': hist ? hist.distances.filter(function (v) { return v !== null; }).length : 0
      }, grid);
      var h4 = el('h4', {}, card, f.name);
      el('span', { 'class': 'role' }, h4, f.role + ' \u00b7 ' + f.kind);
      el('span', { 'class': 'badge ' + f.status }, h4, f.status);
      el('span', { 'class': 'dist' }, h4, f.metric + ' ' + fmt(f.distance) + ' / threshold ' + fmt(f.threshold));
      var charts = el('div', { 'class': 'charts' }, card);
      if (f.distribution && f.distribution.points) { cdfChart(charts, f.distribution, color); }
      else if (f.distribution && f.distribution.categories) { barChart(charts, f.distribution, color); }
      else { el('div', { 'class': 'muted' }, charts, 'no distribution (no reference or no data in this window)'); }
      historyChart(charts, history.times || [], hist, color);
      el('div', { 'class': 'stats' }, card, 'n ' + fmt(f.count) + ' \u00b7 missing ' + fmt(f.missing) +
        (f.kind === 'numeric' ? ' \u00b7 mean ' + fmt(f.mean) + ' \u00b1 ' + fmt(f.standardDeviation) + ' \u00b7 range ' + fmt(f.min) + ' \u2026 ' + fmt(f.max) : '') +
        (f.calibratedThreshold !== null ? ' \u00b7 calibrated threshold ' + fmt(f.calibratedThreshold) : ''));
    });
  }

  function renderWindows() {
    var nav = document.getElementById('windows');
    nav.textContent = '';
    state.windows.forEach(function (w) {
      var b = el('button', { type: 'button', 'class': w === state.window ? 'on' : null, 'data-window': w }, nav, w);
      b.addEventListener('click', function () { state.window = w; load(); });
    });
  }

  // "this replica" or "all replicas": offered when a model has a cluster view (ModelInService.Redis).
  function renderScopes(offered) {
    var nav = document.getElementById('scopes');
    nav.textContent = '';
    if (!offered) { state.scope = 'local'; return; }
    [['local', 'this replica'], ['cluster', 'all replicas']].forEach(function (s) {
      var b = el('button', { type: 'button', 'class': s[0] === state.scope ? 'on' : null, 'data-scope': s[0] }, nav, s[1]);
      b.addEventListener('click', function () { state.scope = s[0]; load(); });
    });
  }

  function load() {
    var root = document.getElementById('models');
    return getJson('/models').then(function (list) {
      if (list.models.length === 0) {
        root.textContent = '';
        el('p', { 'class': 'muted' }, root, 'No model uses monitoring (call .UseMonitoring() after AddModel).');
        return;
      }
      var names = [];
      list.models.forEach(function (m) { m.windows.forEach(function (w) { if (names.indexOf(w.name) < 0) { names.push(w.name); } }); });
      state.windows = names;
      if (!state.window || names.indexOf(state.window) < 0) { state.window = names[0]; }
      renderWindows();
      renderScopes(list.models.some(function (m) { return (m.scopes || []).indexOf('cluster') >= 0; }));
      return Promise.all(list.models.map(function (m) {
        var w = m.windows.some(function (x) { return x.name === state.window; }) ? state.window : m.windows[0].name;
        var base = '/models/' + encodeURIComponent(m.name);
        var scope = state.scope === 'cluster' && (m.scopes || []).indexOf('cluster') >= 0 ? '&scope=cluster' : '';
        // One model's failure is shown in its place; it does not blank the others.
        return Promise.all([getJson(base + '/report?window=' + w + scope), getJson(base + '/history?window=' + w + scope), getJson(base + '/metrics')])
          .then(function (r) { return { model: m.name, parts: r }; }, function (e) { return { model: m.name, error: String(e.message || e) }; });
      })).then(function (all) {
        root.textContent = '';
        all.forEach(function (r) {
          if (r.error) {
            var sec = el('section', { 'class': 'model', 'data-model': r.model, 'data-error': 'true' }, root);
            el('h2', {}, sec, r.model + ' ');
            el('p', { 'class': 'badge drifted' }, sec, r.error);
          } else {
            renderModel(root, r.parts[0], r.parts[1], r.parts[2]);
          }
        });
        document.getElementById('updated').textContent = 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC';
        document.body.setAttribute('data-rendered', 'true');
      });
    }).catch(function (e) {
      root.textContent = '';
      el('p', { 'class': 'badge drifted', 'data-error': 'true' }, root, String(e.message || e));
      document.body.setAttribute('data-rendered', 'error');
    });
  }

  load();
  setInterval(load, 30000);
})();
