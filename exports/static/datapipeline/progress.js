/* Live progress of the Data pipeline screen: polls progress.json and updates the page in place. */
(function () {
  "use strict";
  var ACTIVE = ["STARTED", "CANCELLATION_REQUESTED"];
  var ACTIVE_INTERVAL_MS = 1500;  // while an export runs
  var IDLE_INTERVAL_MS = 5000;    // otherwise: only to notice an export started elsewhere

  function setText(root, field, value) {
    var el = root && root.querySelector('[data-field="' + field + '"]');
    if (el && value !== undefined && value !== null) { el.textContent = String(value); }
    return el;
  }

  function setStatus(el, status) {
    if (!el) { return; }
    el.textContent = status;
    el.className = el.className.replace(/dp-status-[a-z_]+/g, "") + " dp-status-" + status.toLowerCase();
  }

  function formatTime(iso) {
    return iso ? iso.replace("T", " ").replace("Z", "") : "—";
  }

  function update(panel, body) {
    var job = body.job;
    if (!job) { return; }
    var title = document.getElementById("dp-progress-title");
    if (title) { title.textContent = body.active ? "Running export" : "Last export"; }
    var summary = panel.querySelector(".dp-progress-summary");
    if (summary && summary.classList.contains("dp-empty")) {
      // The first export of this installation started in another tab: reload once to draw it.
      window.location.reload();
      return;
    }
    var link = panel.querySelector(".dp-job-link");
    if (link) { link.textContent = job.jobId; link.href = body.detailsUrl; }
    setStatus(panel.querySelector('.dp-progress-summary [data-field="status"]'), job.status);
    setText(summary, "writtenRows", job.statistics.writtenRows);
    setText(summary, "duration", body.duration);
    (body.progress || []).forEach(function (row) {
      var tr = panel.querySelector('tr[data-entity="' + row.entity + '"]');
      if (!tr) { return; }
      setText(tr, "rows", row.rows);
      if (row.total !== null && row.total !== undefined) {
        var total = setText(tr, "total", row.total);
        if (!total) {
          tr.querySelector(".dp-rows").insertAdjacentHTML("beforeend", ' / <span data-field="total"></span>');
          setText(tr, "total", row.total);
        }
      }
      setText(tr, "state", row.state);
    });
    var jobRow = document.querySelector('#dp-jobs tr[data-job-id="' + job.jobId + '"]');
    if (jobRow) {
      setStatus(jobRow.querySelector('[data-field="status"]'), job.status);
      setText(jobRow, "completed", formatTime(job.completedTime));
      setText(jobRow, "duration", body.duration);
      setText(jobRow, "writtenRows", job.statistics.writtenRows);
      setText(jobRow, "exportedEntities", job.statistics.exportedEntities);
      if (ACTIVE.indexOf(job.status) < 0) {
        var cancel = jobRow.querySelector(".dp-cancel");
        if (cancel) { cancel.remove(); }
      }
    }
    panel.setAttribute("data-status", job.status);
  }

  function poll(panel) {
    var active = true;
    fetch(panel.getAttribute("data-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) { active = body.active; update(panel, body); } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () {
        window.setTimeout(function () { poll(panel); }, active ? ACTIVE_INTERVAL_MS : IDLE_INTERVAL_MS);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("dp-progress");
    if (panel) { poll(panel); }
  });
})();
