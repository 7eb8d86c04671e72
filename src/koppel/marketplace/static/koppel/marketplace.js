/* A connection's marketplace invoices per period: turnover up, costs per group down, the payout a line. */
(function () {
  var data = JSON.parse(document.getElementById("marketplace-chart").textContent);
  var canvas = document.getElementById("chart-periods");
  if (!window.Chart || !canvas) return;
  var bars = data.datasets.map(function (set) {
    return { type: "bar", label: set.label, data: set.data, backgroundColor: set.color, stack: "amounts" };
  });
  bars.push({ type: "line", label: data.payout.label, data: data.payout.data, borderColor: "#0b5cad", backgroundColor: "#0b5cad", fill: false, tension: 0, pointRadius: 6, pointStyle: "rectRot", order: -1 });
  new Chart(canvas, {
    data: { labels: data.labels, datasets: bars },
    options: {
      animation: false,
      responsive: true,
      scales: { x: { stacked: true }, y: { stacked: true } },
      plugins: { legend: { position: "bottom" } },
    },
  });
})();
