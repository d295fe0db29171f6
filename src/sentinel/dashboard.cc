// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0

#include "sentinel/dashboard.h"

namespace harpc::sentinel {

// Stable hooks for people's scripts and the tests (tests/sentinel/dashboard_test.cc):
//   body[data-refreshes]   successful refreshes so far (absent before the first)
//   #epoch #index #sentinel #summary #updated #error #services #events
//   section.service[data-service]
//   p.group[data-service][data-leader][data-term][data-quorum]   a replicated group's summary
//   tr.instance[data-service][data-address][data-state]
//     td.address td.name td.weight td.state>span.state.state-STATE td.epoch td.heartbeat td.latency
//     td.down-since[data-ms] td.down-for   (when it went down, wall clock ms; "" while up)
//     td.timeline>div.timeline>span.segment[data-state][data-from]   its recent state changes, oldest first
//     td.role td.lag   (replicated groups only)
//   tr.instance.departed   an instance that left the registry (data-state "expired" or "deregistered"),
//     kept for the sentinel's --history-retention-ms
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
.state-expired{background:#4e342e}.state-deregistered{background:#90a4ae}
tr.departed td{color:#777}
div.timeline{display:flex;width:12em;height:.8em;border-radius:.2em;overflow:hidden;background:#eee}
div.timeline span.segment{min-width:2px}
.segment.state-up{background:#66bb6a}.segment.state-sdown{background:#ffa726}.segment.state-odown{background:#e53935}
.segment.state-draining{background:#9e9e9e}.segment.state-expired{background:#4e342e}.segment.state-deregistered{background:#b0bec5}
td.down-since,td.down-for{font-variant-numeric:tabular-nums}.event-lease-expired{color:#c62828}
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
function duration(ms) {
  const s = Math.max(0, ms) / 1000;
  return s < 120 ? s.toFixed(1) + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
}
function age(ms) { return ms ? duration(Date.now() - ms) + ' ago' : '-'; }
// Its recent states as a strip, each as wide as it lasted (the last one until now).
function timeline(h) {
  if (!h) return '<div class="timeline"></div>';
  const now = Date.now(), t = h.timeline, start = t[0].time, span = Math.max(now - start, 1);
  return '<div class="timeline">' + t.map((c, k) => {
    const until = k + 1 < t.length ? t[k + 1].time : now;
    const share = Math.max(until - c.time, 0) / span * 100;
    return `<span class="segment state-${esc(c.state)}" data-state="${esc(c.state)}" data-from="${esc(c.time)}" ` +
        `style="flex:0 0 ${share.toFixed(3)}%" title="${esc(c.state)} at ${esc(clock(c.time))} for ${duration(until - c.time)}"></span>`;
  }).join('') + '</div>';
}
function historyCells(h) {
  const down = h && h.down_since_ms ? h.down_since_ms : 0;
  return `<td class="down-since" data-ms="${down || ''}">${down ? esc(clock(down)) : '-'}</td>` +
      `<td class="down-for">${down ? duration(Date.now() - down) : '-'}</td><td class="timeline">${timeline(h)}</td>`;
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
function instanceRow(service, i, group, h) {
  const latency = i.probe_latency_ms >= 0 ? i.probe_latency_ms.toFixed(2) + ' ms' : '-';
  return `<tr class="instance" data-service="${esc(service)}" data-address="${esc(i.address)}" data-state="${esc(i.state)}">` +
      `<td class="address">${esc(i.address)}</td><td class="name">${esc(i.name)}</td>` +
      `<td class="weight">${esc(i.weight)}</td><td class="state"><span class="state state-${esc(i.state)}">${esc(i.state)}</span></td>` +
      `<td class="epoch">${esc(i.epoch)}</td><td class="heartbeat">${age(i.last_heartbeat_ms)}</td>` +
      `<td class="latency">${latency}</td>${historyCells(h)}${groupCells(i, group)}</tr>`;
}
// An instance that left the registry: what the history keeps of it.
function departedRow(service, h, group) {
  return `<tr class="instance departed" data-service="${esc(service)}" data-address="${esc(h.address)}" data-state="${esc(h.state)}">` +
      `<td class="address">${esc(h.address)}</td><td class="name">${esc(h.name)}</td><td class="weight">-</td>` +
      `<td class="state"><span class="state state-${esc(h.state)}">${esc(h.state)}</span></td><td class="epoch">-</td>` +
      `<td class="heartbeat">left ${age(h.departed_ms)}</td><td class="latency">-</td>${historyCells(h)}` +
      (group ? '<td class="role">-</td><td class="lag">-</td>' : '') + '</tr>';
}
function render(list, events, history) {
  $('epoch').textContent = list.epoch;
  $('index').textContent = list.index;
  const counts = {};
  let html = '';
  const groups = list.groups || {};
  const histories = {}, departed = {};
  for (const h of history.instances) {
    histories[h.service + '\n' + h.address] = h;
    if (h.departed_ms) (departed[h.service] = departed[h.service] || []).push(h);
  }
  const services = [...new Set([...Object.keys(list.services), ...Object.keys(departed)])].sort();
  for (const service of services) {
    const instances = list.services[service] || [], gone = departed[service] || [];
    const group = groups[service];
    html += `<section class="service" data-service="${esc(service)}"><h2>${esc(service)} ` +
        `<span class="muted">${instances.length} instance${instances.length === 1 ? '' : 's'}` +
        (gone.length ? `, ${gone.length} gone` : '') + '</span></h2>' +
        (group ? groupSummary(service, group) : '') +
        '<table><thead><tr><th>address</th><th>name</th><th>weight</th><th>state</th><th>epoch</th>' +
        '<th>last heartbeat</th><th>probe latency</th><th>down since</th><th>down for</th><th>timeline</th>' +
        (group ? '<th>role</th><th>lag</th>' : '') + '</tr></thead><tbody>';
    for (const i of instances) {
      counts[i.state] = (counts[i.state] || 0) + 1;
      html += instanceRow(service, i, group, histories[service + '\n' + i.address]);
    }
    for (const h of gone) {
      counts[h.state] = (counts[h.state] || 0) + 1;
      html += departedRow(service, h, group);
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
    const [list, events, history] =
        await Promise.all([call('Registry.list'), call('Sentinel.events', {limit: 30}), call('Sentinel.history')]);
    render(list, events, history);
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
