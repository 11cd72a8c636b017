/**
 * The report page's inline style and script. Kept here as plain strings: the
 * page must work offline from one file, and the script is small enough to
 * read (it fills the run comparison and builds a cell's task table when it
 * is opened; everything else is static markup).
 */

export const PAGE_STYLE = `
:root { --reused:#2e9d57; --restored:#7cb342; --ran:#1e6fd9; --failed:#d93025; --notrun:#9aa0a6; --saved:#cfe8d6; --hit:#2e9d57; --dispatched:#1e6fd9; --uncached:#f29900; --mixed:#8e44ad; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #202124; background: #fff; }
header { padding: 16px 24px 8px; border-bottom: 1px solid #e0e0e0; }
h1 { margin: 0 0 6px; font-size: 20px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
nav { position: sticky; top: 0; background: #fafafa; border-bottom: 1px solid #e0e0e0; padding: 6px 24px; z-index: 2; }
nav a { margin-right: 18px; color: #1a73e8; text-decoration: none; }
main { padding: 0 24px 24px; }
footer { padding: 12px 24px; color: #5f6368; font-size: 12px; border-top: 1px solid #e0e0e0; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.muted { color: #5f6368; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
.badge.reused { background: var(--reused); } .badge.restored { background: var(--restored); } .badge.ran { background: var(--ran); }
.badge.failed { background: var(--failed); } .badge.not-run { background: var(--notrun); }
table { border-collapse: collapse; }
th { text-align: left; font-weight: 600; color: #3c4043; border-bottom: 1px solid #dadce0; padding: 4px 8px; }
td { padding: 3px 8px; border-bottom: 1px solid #f1f3f4; vertical-align: top; }
table.timeline { width: 100%; table-layout: fixed; }
col.c-num { width: 44px; } col.c-label { width: 172px; } col.c-outcome { width: 84px; } col.c-bar { width: 12%; }
col.c-t { width: 64px; } col.c-b { width: 128px; } col.c-tasks { width: 220px; }
table.timeline th { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
/* Off-screen parts are neither styled nor laid out until scrolled to: a run of thousands of cells opens as fast as a short one. */
.chunk { content-visibility: auto; }
section.later { content-visibility: auto; contain-intrinsic-size: auto 900px; }
table.timeline td.label { max-width: 240px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-family: ui-monospace, monospace; font-size: 12px; }
table.timeline td.reason { color: #5f6368; font-size: 12px; min-width: 180px; }
table.timeline td.tasks { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
table.functions td:first-child { font: 12px ui-monospace, monospace; }
td.barcell { position: relative; white-space: nowrap; overflow: hidden; }
.bar { display: inline-block; height: 12px; vertical-align: middle; border-radius: 2px; }
.bar.reused { background: var(--reused); min-width: 2px; } .bar.restored { background: var(--restored); min-width: 2px; } .bar.ran { background: var(--ran); min-width: 2px; }
.bar.failed { background: var(--failed); min-width: 2px; } .bar.not-run { background: var(--notrun); }
.bar.saved { background: repeating-linear-gradient(45deg, var(--saved), var(--saved) 4px, #e8f5ec 4px, #e8f5ec 8px); }
.legend-bar { width: 28px; }
td.t, td.b { white-space: nowrap; text-align: right; font-variant-numeric: tabular-nums; }
.problems { background: #fce8e6; border: 1px solid #f5c2bd; border-radius: 6px; padding: 4px 16px; margin-top: 16px; }
.graph { overflow: auto; max-height: 80vh; border: 1px solid #eee; border-radius: 6px; }
svg .node rect { fill: #fff; stroke-width: 2; }
svg .node text { font: 11px ui-monospace, monospace; fill: #202124; }
svg .node.reused rect, svg .node.hit rect { stroke: var(--reused); fill: #e6f4ea; }
svg .node.restored rect { stroke: var(--restored); fill: #f1f8e9; }
svg .node.ran rect, svg .node.dispatched rect { stroke: var(--ran); fill: #e8f0fe; }
svg .node.failed rect { stroke: var(--failed); fill: #fce8e6; }
svg .node.not-run rect { stroke: var(--notrun); fill: #f1f3f4; }
svg .node.uncached rect { stroke: var(--uncached); fill: #fef7e0; }
svg .node.mixed rect { stroke: var(--mixed); fill: #f3e8fd; }
svg .edge polyline, svg path.edges { fill: none; stroke: #9aa0a6; stroke-width: 1.2; }
svg marker path { fill: #9aa0a6; }
svg .elabel { font: 10px ui-monospace, monospace; fill: #5f6368; }
table.functions { width: 100%; margin: 4px 0 8px; }
details.taskcell { border-bottom: 1px solid #f1f3f4; padding: 4px 0; }
details.taskcell > summary { cursor: pointer; font-size: 13px; font-weight: 600; }
details.taskcell > summary .muted { font-weight: 400; }
details.picture > summary { cursor: pointer; }
tr.because ul { margin: 4px 0; }
.sidebyside pre { white-space: pre-wrap; max-width: 48vw; max-height: 320px; overflow: auto; margin: 0; font-size: 12px; }
.integrity.ok { color: #137333; } .integrity.problems { color: #a50e0e; }
.compare td.changed { font-weight: 600; }
`;

/** Fills the run comparison from the embedded data: which cells changed decision between two runs, and why. */
export const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById("nbrewind-report-data").textContent);
  var a = document.getElementById("compare-a"), b = document.getElementById("compare-b"), rows = document.getElementById("compare-rows");
  if (!a || !b || !rows || data.runs.length < 2) return;
  data.runs.forEach(function (r, i) {
    var text = (i + 1) + ". " + r.command + " " + r.started_at.replace("T", " ").slice(0, 19) + " (" + r.status + ")";
    a.add(new Option(text, r.run_id)); b.add(new Option(text, r.run_id));
  });
  var sel = data.runs.findIndex(function (r) { return r.run_id === data.selected; });
  if (sel < 1) sel = data.runs.length - 1;
  b.selectedIndex = sel; a.selectedIndex = sel - 1;
  var byRun = {}; data.decisions.forEach(function (d) { byRun[d.run_id] = d.cells; });
  function cell(text, cls) { var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; }
  function render() {
    var before = byRun[a.value] || {}, after = byRun[b.value] || {};
    var ids = data.order.slice();
    Object.keys(before).concat(Object.keys(after)).forEach(function (id) { if (ids.indexOf(id) < 0) ids.push(id); });
    rows.textContent = "";
    var changed = 0;
    ids.forEach(function (id) {
      var x = before[id], y = after[id];
      var dx = x ? x[0] : "absent", dy = y ? y[0] : "absent";
      if (dx === dy) return;
      changed++;
      var tr = document.createElement("tr"); tr.setAttribute("data-cell-id", id);
      tr.appendChild(cell(data.labels[id] || id)); tr.appendChild(cell(dx)); tr.appendChild(cell(dy, "changed")); tr.appendChild(cell(y ? y[1] : ""));
      rows.appendChild(tr);
    });
    if (!changed) { var tr = document.createElement("tr"); var td = cell("No cell changed decision between these runs."); td.colSpan = 4; tr.appendChild(td); rows.appendChild(tr); }
  }
  a.addEventListener("change", render); b.addEventListener("change", render); render();
})();
(function () {
  // A cell's task table, built from the embedded data the first time its <details> opens.
  var source = document.getElementById("nbrewind-task-data"), tasks = null;
  if (!source) return;
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function build(d) {
    if (d.hasAttribute("data-built")) return;
    d.setAttribute("data-built", "");
    tasks = tasks || JSON.parse(source.textContent);
    var t = tasks[d.getAttribute("data-cell-id")];
    if (!t) return;
    var table = el("table", undefined, "functions"), head = table.createTHead().insertRow(), body = table.createTBody();
    ["function", "submitted", "served", "dispatched", "uncached", "failed"].forEach(function (h) { head.appendChild(el("th", h)); });
    t.f.forEach(function (f) {
      var tr = body.insertRow(); tr.setAttribute("data-function", f[0]);
      f.forEach(function (v) { tr.appendChild(el("td", String(v))); });
    });
    if (t.b.length) {
      var td = el("td"), ul = el("ul"), tr = body.insertRow(); tr.className = "because"; td.colSpan = 6;
      t.b.forEach(function (b) { var li = el("li", b[1] + " \u00d7 "); li.appendChild(el("code", b[0])); li.appendChild(document.createTextNode(": " + b[2])); ul.appendChild(li); });
      td.appendChild(ul); tr.appendChild(td);
    }
    d.appendChild(table);
    if (t.g) {
      var pic = el("details", undefined, "picture"), div = el("div", undefined, "graph");
      pic.appendChild(el("summary", "task graph (" + t.g[0] + ")"));
      div.innerHTML = t.g[1]; // SVG written by the report itself, every text in it escaped (html.ts)
      pic.appendChild(div); d.appendChild(pic);
    }
  }
  // toggle does not bubble: listen in the capture phase.
  document.addEventListener("toggle", function (e) { var d = e.target; if (d.classList && d.classList.contains("taskcell") && d.open) build(d); }, true);
  Array.prototype.forEach.call(document.querySelectorAll("details.taskcell[open]"), build);
})();
`;
