/* The dashboard's history chart: net market value, daily P&L and drawdown on one time axis (Chart.js). */
(function () {
  "use strict";

  var BLUE = "#1d4ed8", GREEN = "#15803d", RED = "#b42318", GRID = "#e6eaf0", TEXT = "#5b6778";

  function compactMoney(value) {
    var size = Math.abs(value), text;
    if (size >= 1e9) text = (size / 1e9).toFixed(size >= 1e10 ? 0 : 1) + "B";
    else if (size >= 1e6) text = (size / 1e6).toFixed(size >= 1e7 ? 0 : 1) + "M";
    else if (size >= 1e3) text = (size / 1e3).toFixed(size >= 1e4 ? 0 : 1) + "k";
    else text = size.toFixed(0);
    return (value < 0 ? "-$" : "$") + text;
  }

  var money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });

  function signedMoney(value) {
    if (value === null || value === undefined) return "—";
    var text = money.format(Math.abs(value));
    return (value < 0 ? "-" : value > 0 ? "+" : "") + text;
  }

  function start() {
    var data = document.getElementById("history-data");
    var canvas = document.getElementById("history-chart");
    if (!data || !canvas || !window.Chart) return;
    var s = JSON.parse(data.textContent);
    var asPct = Boolean(s.has_equity);
    var drawdown = asPct
      ? s.drawdown_pct.map(function (v) { return v === null ? null : v * 100; })
      : s.drawdown;

    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 11;
    window.Chart.defaults.color = TEXT;

    var chart = new window.Chart(canvas, {
      data: {
        labels: s.dates,
        datasets: [
          {
            type: "line", label: "Net market value", data: s.value, yAxisID: "yValue",
            borderColor: BLUE, borderWidth: 1.5, pointRadius: 0, pointHitRadius: 4, tension: 0
          },
          {
            type: "bar", label: "Daily P&L", data: s.daily_pnl, yAxisID: "yPnl",
            backgroundColor: s.daily_pnl.map(function (v) { return v !== null && v < 0 ? RED : GREEN; }),
            barPercentage: 1.0, categoryPercentage: 0.9
          },
          {
            type: "line", label: asPct ? "Drawdown (% of equity)" : "Drawdown", data: drawdown, yAxisID: "yDrawdown",
            borderColor: RED, backgroundColor: "rgba(180, 35, 24, 0.14)", fill: "origin",
            borderWidth: 1, pointRadius: 0, pointHitRadius: 4, tension: 0
          }
        ]
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { ticks: { maxTicksLimit: 8, maxRotation: 0, autoSkip: true }, grid: { display: false } },
          yDrawdown: {
            position: "left", stack: "history", stackWeight: 1.2, offset: true, max: 0,
            grid: { color: GRID }, border: { display: false },
            ticks: { maxTicksLimit: 3, callback: function (v) { return asPct ? v.toFixed(0) + "%" : compactMoney(v); } },
            title: { display: true, text: "Drawdown" }
          },
          yPnl: {
            position: "left", stack: "history", stackWeight: 1.4, offset: true,
            grid: { color: GRID }, border: { display: false },
            ticks: { maxTicksLimit: 4, callback: compactMoney }, title: { display: true, text: "Daily P&L" }
          },
          yValue: {
            position: "left", stack: "history", stackWeight: 3, offset: true,
            grid: { color: GRID }, border: { display: false },
            ticks: { maxTicksLimit: 5, callback: compactMoney }, title: { display: true, text: "Value" }
          }
        },
        plugins: {
          legend: { position: "top", align: "end", labels: { boxWidth: 10, boxHeight: 10 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var v = ctx.parsed.y;
                if (ctx.dataset.yAxisID === "yDrawdown" && asPct) return " Drawdown: " + (v === null ? "—" : v.toFixed(2) + "%");
                if (ctx.dataset.yAxisID === "yValue") return " " + ctx.dataset.label + ": " + money.format(v);
                return " " + ctx.dataset.label + ": " + signedMoney(v);
              }
            }
          }
        }
      }
    });
    canvas.dataset.ready = "true";
    return chart;
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
