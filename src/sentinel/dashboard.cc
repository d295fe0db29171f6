#include "sentinel/dashboard.h"

namespace harpc::sentinel {

// Stable hooks for people's scripts and the tests (tests/sentinel/dashboard_test.cc):
//   body[data-refreshes]   successful refreshes so far (absent before the first)
//   #epoch #index #sentinel #summary #updated #error #services #events
//   section.service[data-service]
//   p.group[data-service][data-leader][data-term][data-quorum]   a replicated group's summary
//   tr.instance[data-service][data-address][data-state]
//     td.address td.name td.weight td.state>span.state.state-STATE td.epoch td.heartbeat td.latency
//     td.role td.lag   (replicated groups only)
//   #events > li.event[data-event]
std::string_view DashboardHtml() {
  static constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harpc sentinel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em 2em;color:#222}
header{display:flex;gap:1.6em;align-items:baseline;flex-wrap:wrap;margin-bottom:1em}
h1{font-size:1.3em;margin:0}h2{font-size:1.05em;margin:1.2em 0 .3em}
.muted{color:#777;font-weight:normal}#error{color:#c62828;font-weight:600}
table{border-collapse:collapse;min-width:48em}
th,td{padding:.25em .8em;border-bottom:1px solid #e3e3e3;text-align:left;white-space:nowrap}
th{font-weight:600;color:#555}
td.weight,td.epoch,td.heartbeat,td.latency{text-align:right;font-variant-numeric:tabular-nums}
span.state{display:inline-block;min-width:5em;text-align:center;padding:0 .5em;border-radius:.8em;color:#fff;font-weight:600}
.state-up{background:#2e7d32}.state-sdown{background:#ef6c00}.state-odown{background:#c62828}.state-draining{background:#757575}
#events{list-style:none;padding:0;margin:0;font:12px/1.6 ui-monospace,monospace}
.event-odown{color:#c62828}.event-up{color:#2e7d32}.event-sdown{color:#ef6c00}
p.group{margin:.2em 0 .5em}.quorum-false{color:#c62828;font-weight:600}td.lag{text-align:right}
td.role-leader{font-weight:600}
.event-leader-change{color:#1565c0}.event-group-no-quorum{color:#c62828}.event-group-quorum-restored{color:#2e7d32}
</style></head>
<body>
<header>
  <h1>harpc sentinel <span id="sentinel" class="muted"></span></h1>
  <span>configuration epoch <b id="epoch">-</b></span>
  <span class="muted">index <span id="index">-</span></span>
  <span id="summary"></span>
  <span class="muted">updated <span id="updated">never</span></span>
  <span id="error" hidden></span>
</header>
<main id="services"><p class="muted">loading...</p></main>
<h2>Recent events</h2>
<ul id="events"></ul>
<script>
'use strict';
const $ = id => document.getElementById(id);
const esc = v => String(v).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'})[c]);
const clock = ms => new Date(ms).toLocaleTimeString();
async function call(method, params = {}) {
  const r = await fetch('/rpc/' + method, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(params)});
  if (!r.ok) throw new Error(method + ': HTTP ' + r.status);
  return r.json();
}
function age(ms) {
  if (!ms) return '-';
  const s = Math.max(0, Date.now() - ms) / 1000;
  return s < 120 ? s.toFixed(1) + ' s ago' : Math.round(s / 60) + ' min ago';
}
function groupCells(i, group) {
  if (!group) return '';
  const role = i.group ? i.group.role : '-';
  const lag = i.address in group.lag ? group.lag[i.address] : '-';
  return `<td class="role role-${esc(role)}">${esc(role)}</td><td class="lag">${esc(lag)}</td>`;
}
function groupSummary(service, g) {
  const leader = g.leader === null ? 'none' : g.leader;
  return `<p class="group" data-service="${esc(service)}" data-leader="${esc(g.leader ?? '')}" ` +
      `data-term="${esc(g.term)}" data-quorum="${g.quorum}">replicated group: leader <b>${esc(leader)}</b>, ` +
      `term ${esc(g.term)}, ${esc(g.up)} of ${esc(g.members)} members up, ` +
      `<span class="quorum-${g.quorum}">${g.quorum ? 'quorum' : 'NO QUORUM'}</span></p>`;
}
function instanceRow(service, i, group) {
  const latency = i.probe_latency_ms >= 0 ? i.probe_latency_ms.toFixed(2) + ' ms' : '-';
  return `<tr class="instance" data-service="${esc(service)}" data-address="${esc(i.address)}" data-state="${esc(i.state)}">` +
      `<td class="address">${esc(i.address)}</td><td class="name">${esc(i.name)}</td>` +
      `<td class="weight">${esc(i.weight)}</td><td class="state"><span class="state state-${esc(i.state)}">${esc(i.state)}</span></td>` +
      `<td class="epoch">${esc(i.epoch)}</td><td class="heartbeat">${age(i.last_heartbeat_ms)}</td>` +
      `<td class="latency">${latency}</td>${groupCells(i, group)}</tr>`;
}
function render(list, events) {
  $('epoch').textContent = list.epoch;
  $('index').textContent = list.index;
  const counts = {};
  let html = '';
  const groups = list.groups || {};
  for (const [service, instances] of Object.entries(list.services)) {
    const group = groups[service];
    html += `<section class="service" data-service="${esc(service)}"><h2>${esc(service)} ` +
        `<span class="muted">${instances.length} instance${instances.length === 1 ? '' : 's'}</span></h2>` +
        (group ? groupSummary(service, group) : '') +
        '<table><thead><tr><th>address</th><th>name</th><th>weight</th><th>state</th><th>epoch</th>' +
        '<th>last heartbeat</th><th>probe latency</th>' + (group ? '<th>role</th><th>lag</th>' : '') +
        '</tr></thead><tbody>';
    for (const i of instances) {
      counts[i.state] = (counts[i.state] || 0) + 1;
      html += instanceRow(service, i, group);
    }
    html += '</tbody></table></section>';
  }
  $('services').innerHTML = html || '<p class="muted">no instances registered</p>';
  $('summary').textContent = Object.entries(counts).map(([state, n]) => n + ' ' + state).join(', ');
  $('events').innerHTML = events.slice(0, 30).map(e =>
      `<li class="event event-${esc(e.event)}" data-event="${esc(e.event)}">${esc(clock(e.time))} ` +
      `<b>${esc(e.event)}</b> ${esc(e.service)} ${esc(e.address)} epoch ${esc(e.epoch)}` +
      (e.term !== undefined ? ` term ${esc(e.term)}` : '') +
      (e.previous_leader ? ` (was ${esc(e.previous_leader)})` : '') + (e.reason ? `: ${esc(e.reason)}` : '') +
      (e.sentinel ? ` <span class="muted">by ${esc(e.sentinel)}</span>` : '') + '</li>').join('') ||
      '<li class="muted">none yet</li>';
}
let refreshes = 0;
async function refresh() {
  try {
    const [list, events] = await Promise.all([call('Registry.list'), call('Sentinel.events', {limit: 30})]);
    render(list, events);
    $('updated').textContent = clock(Date.now());
    $('error').hidden = true;
    document.body.dataset.refreshes = ++refreshes;
  } catch (e) {
    $('error').textContent = 'sentinel unreachable (' + e.message + ')';
    $('error').hidden = false;
  }
  setTimeout(refresh, 1000);
}
fetch('/status').then(r => r.json()).then(s => { $('sentinel').textContent = s.address; }).catch(() => {});
refresh();
</script>
</body></html>
)HTML";
  return kPage;
}

}  // namespace harpc::sentinel
