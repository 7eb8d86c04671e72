/* After Process, the record page follows the record until it has settled, then shows the outcome. */
(function () {
  var box = document.querySelector("[data-follow]");
  if (!box) return;
  var url = box.getAttribute("data-follow");
  var tries = 0;
  function look() {
    tries += 1;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        box.querySelector(".follow-state").textContent = status.state_label;
        if (status.settled) {
          var here = new URL(window.location.href);
          here.searchParams.delete("follow");
          window.location.replace(here.toString());
        } else if (tries < 120) {
          setTimeout(look, 1000);
        }
      })
      .catch(function () { if (tries < 120) setTimeout(look, 2000); });
  }
  setTimeout(look, 500);
})();
