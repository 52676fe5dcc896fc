// Live tail for the usage logs: new events matching the page's filters arrive over Server-Sent Events
// (/ui/logs/stream, the same stream as /api/v1/audit/stream) and are added to the top of the table.
// Every value is set with textContent, never as HTML: events carry what clients sent.
"use strict";
(function () {
  const button = document.getElementById("live-toggle");
  const rows = document.getElementById("event-rows");
  const status = document.getElementById("live-status");
  if (!button || !rows) return;
  let source = null;
  let received = 0;

  function cell(text, extra) {
    const td = document.createElement("td");
    if (extra) td.appendChild(extra);
    else td.textContent = text || "";
    return td;
  }

  function describe(e) {
    const t = e.target || {};
    let target = t.repository || t.namespace || "";
    const item = t.path || t.package;
    if (item) target += " " + item;
    if (t.version) target += " " + t.version;
    if (t.tag) target += ":" + t.tag;
    else if (t.digest) target += "@" + t.digest;
    if (!target && e.artifact) target = e.artifact;
    if (!target && e.request) target = e.request.path || "";
    let text = (e.kind + " " + target).trim();
    if (e.reason) text += " (" + e.reason + ")";
    return text;
  }

  function row(seq, e) {
    const tr = document.createElement("tr");
    tr.dataset.seq = seq;
    tr.className = "fresh";
    const time = document.createElement("time");
    time.dateTime = e.ts;
    time.title = e.ts;
    time.textContent = String(e.ts).slice(0, 19).replace("T", " ") + " UTC";
    tr.appendChild(cell("", time));
    const details = document.createElement("details");
    const summary = document.createElement("summary");
    summary.textContent = describe(e);
    details.appendChild(summary);
    const link = document.createElement("a");
    link.href = "/ui/event/" + encodeURIComponent(seq);
    link.textContent = "Event #" + seq + ": proof of inclusion";
    const p = document.createElement("p");
    p.appendChild(link);
    details.appendChild(p);
    const pre = document.createElement("pre");
    pre.className = "doc";
    pre.textContent = JSON.stringify(e, null, 2);
    details.appendChild(pre);
    const desc = cell("", details);
    desc.className = "desc";
    tr.appendChild(desc);
    const t = e.target || {};
    tr.appendChild(cell(t.namespace));
    tr.appendChild(cell(t.repository));
    tr.appendChild(cell((e.user && e.user.name) || "anonymous"));
    tr.appendChild(cell(e.request && e.request.remote_addr));
    const outcome = document.createElement("span");
    outcome.className = "outcome outcome-" + String(e.outcome).replace(/[^a-z_]/g, "");
    outcome.textContent = e.outcome;
    const result = cell("", outcome);
    result.className = "result";
    result.appendChild(document.createTextNode(" " + ((e.response && e.response.status) || "")));
    tr.appendChild(result);
    return tr;
  }

  function start() {
    const query = button.dataset.query || "";
    source = new EventSource("/ui/logs/stream?" + query);
    button.setAttribute("aria-pressed", "true");
    status.textContent = "Live: waiting for new events…";
    source.addEventListener("audit", function (msg) {
      let e;
      try { e = JSON.parse(msg.data); } catch (_) { return; }
      if (rows.querySelector('tr[data-seq="' + CSS.escape(msg.lastEventId) + '"]')) return;
      rows.insertBefore(row(msg.lastEventId, e), rows.firstChild);
      received += 1;
      status.textContent = "Live: " + received + " new event" + (received === 1 ? "" : "s");
      const empty = document.getElementById("empty");
      if (empty) empty.remove();
    });
    source.onerror = function () {
      status.textContent = "Live: connection lost, reconnecting…";
    };
  }

  function stop() {
    if (source) source.close();
    source = null;
    button.setAttribute("aria-pressed", "false");
    status.textContent = "Live tail stopped.";
  }

  button.addEventListener("click", function () { if (source) stop(); else start(); });
})();
