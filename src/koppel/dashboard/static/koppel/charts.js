/* The picture of a connection: orders per day by outcome (stacked bars) and the total booked per day. */
(function () {
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var outcomes = document.getElementById("chart-outcomes");
  var booked = document.getElementById("chart-booked");
  if (!window.Chart || !outcomes) return;
  new Chart(outcomes, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.datasets.map(function (set) {
        return { label: set.label, data: set.data, backgroundColor: set.color, stack: "orders" };
      }),
    },
    options: {
      animation: false,
      responsive: true,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  new Chart(booked, {
    type: "line",
    data: {
      labels: data.labels,
      datasets: [{ label: data.booked.label, data: data.booked.data, borderColor: "#0b5cad", fill: false, tension: 0.2 }],
    },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } }, plugins: { legend: { position: "bottom" } } },
  });
})();
