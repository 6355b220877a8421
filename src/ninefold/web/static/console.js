/* ninefold console: charts (uPlot) from the JSON endpoints; no inline scripts (CSP). */
(function () {
  "use strict";

  function width(el) { return Math.max(280, el.clientWidth || 600); }

  function dashedLine(u, value, color, scaleKey) {
    var ctx = u.ctx, y = u.valToPos(value, scaleKey || "y", true);
    ctx.save();
    ctx.strokeStyle = color; ctx.setLineDash([6, 4]); ctx.lineWidth = 2;
    ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke();
    ctx.restore();
  }

  function annotations(list) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx;
      list.forEach(function (a) {
        var x = u.valToPos(a.t, "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) { return; }
        ctx.save();
        ctx.strokeStyle = a.kind === "incident" ? "#b3261e" : "#1f5fbf";
        ctx.lineWidth = 2; ctx.setLineDash(a.kind === "incident" ? [] : [3, 3]);
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.restore();
      });
    }] } };
  }

  function timeChart(el, data) {
    var budget = el.dataset.kind === "budget";
    var ys = budget ? data.remaining.map(function (v) { return v === null ? null : v * 100; })
                    : data.sli.map(function (v) { return v === null ? null : v * 100; });
    var target = budget ? 0 : data.objective * 100;
    var opts = {
      width: width(el), height: 240,
      series: [{}, { label: budget ? "budget left %" : "SLI %", stroke: budget ? "#1e7a3c" : "#1a4fa8",
                     width: 2, fill: budget ? "rgba(30,122,60,.12)" : undefined,
                     value: function (u, v) { return v === null ? "—" : v.toFixed(3) + "%"; } }],
      axes: [{}, { values: function (u, vals) { return vals.map(function (v) { return v + "%"; }); }, size: 60 }],
      scales: { y: budget ? { range: function (u, lo, hi) { return [Math.min(lo, 0), Math.max(hi, 100)]; } }
                          : { range: function (u, lo, hi) { return [Math.min(lo, target) - 0.05, Math.max(hi, target) + 0.05]; } } },
      plugins: [annotations(data.annotations || []),
                { hooks: { draw: [function (u) { dashedLine(u, target, "#b3261e"); }] } }]
    };
    el.textContent = "";
    return new window.uPlot(opts, [data.t, ys], el);
  }

  function burnChart(el) {
    var labels = el.dataset.windows.split(",");
    var rates = el.dataset.rates.split(",").map(function (v) { return v === "" ? null : parseFloat(v); });
    var page = parseFloat(el.dataset.page), ticket = parseFloat(el.dataset.ticket);
    var xs = labels.map(function (_, i) { return i; });
    var top = Math.max(page * 1.2, Math.max.apply(null, rates.map(function (v) { return v || 0; })) * 1.1);
    var opts = {
      width: width(el), height: 220,
      series: [{ value: function (u, v) { return labels[v] || ""; } },
               { label: "burn rate", stroke: "#b4490a", fill: "rgba(180,73,10,.35)", width: 1,
                 paths: window.uPlot.paths.bars({ size: [0.6, 60] }), points: { show: false },
                 value: function (u, v) { return v === null ? "—" : v.toFixed(2) + "×"; } }],
      scales: { x: { time: false, range: [-0.5, labels.length - 0.5] }, y: { range: [0, top] } },
      axes: [{ values: function (u, vals) { return vals.map(function (v) { return labels[v] || ""; }); }, splits: function () { return xs; } },
             { values: function (u, vals) { return vals.map(function (v) { return v + "×"; }); } }],
      plugins: [{ hooks: { draw: [function (u) { dashedLine(u, page, "#b3261e"); dashedLine(u, ticket, "#8a6100"); }] } }]
    };
    el.textContent = "";
    return new window.uPlot(opts, [xs, rates], el);
  }

  function drawCharts() {
    if (!window.uPlot) { return; }
    var cache = {};
    document.querySelectorAll(".chart[data-kind]").forEach(function (el) {
      if (el.dataset.kind === "burn") { burnChart(el); el.dataset.drawn = "1"; return; }
      var url = el.dataset.series;
      cache[url] = cache[url] || fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); });
      cache[url].then(function (data) { timeChart(el, data); el.dataset.drawn = "1"; })
        .catch(function () { el.textContent = "Chart data could not be loaded."; });
    });
  }

  // htmx does not swap error answers: say what went wrong instead of doing nothing.
  document.addEventListener("htmx:responseError", function (evt) {
    var box = document.getElementById("live-error");
    if (!box) { return; }
    var text = "The action failed (" + evt.detail.xhr.status + ").";
    try { text = JSON.parse(evt.detail.xhr.responseText).detail || text; } catch (e) { /* not JSON */ }
    box.textContent = text;
    box.hidden = false;
  });

  document.addEventListener("DOMContentLoaded", drawCharts);
})();
