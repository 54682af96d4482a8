// A waiting session's page opens JupyterLab as soon as the session runs (docs/sessions.md).
// It asks the API every second (the portal's login cookie is enough); when the session runs it goes to
// the session's address, where the proxy shows "starting" until JupyterLab listens. Any other change
// (its place in the queue, its estimate, or an end) reloads the page, which shows the new facts.
(function () {
  "use strict";
  var panel = document.getElementById("session-wait");
  if (!panel) {
    return;
  }
  var seen = null;
  function look() {
    fetch(panel.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (session) {
        if (session === null) {
          return;
        }
        var job = session.job;
        if (job.state === "running") {
          window.location.assign(panel.dataset.openUrl);
          return;
        }
        var now = [job.state, job.queue_position, job.estimated_start].join("|");
        if (seen !== null && now !== seen) {
          window.location.reload();
          return;
        }
        seen = now;
      })
      .catch(function () {})
      .finally(function () {
        window.setTimeout(look, 1000);
      });
  }
  look();
})();
