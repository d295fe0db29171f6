#include "sentinel/dashboard.h"

namespace harpc::sentinel {

std::string_view DashboardHtml() {
  static constexpr std::string_view kPage = R"HTML(<!doctype html>
<html><head><meta charset="utf-8"><title>harpc sentinel</title></head>
<body><h1>harpc sentinel</h1><div id="services">loading…</div><h2>Recent events</h2><ul id="events"></ul>
<script>
async function call(method) {
  const r = await fetch('/rpc/' + method, {method: 'POST', body: '{}'});
  return r.json();
}
async function refresh() {
  const status = await call('Registry.list');
  let html = '<p>epoch <b id="epoch">' + status.epoch + '</b></p>';
  for (const [service, instances] of Object.entries(status.services)) {
    html += '<h2>' + service + '</h2><table border="1"><tr><th>address</th><th>name</th><th>weight</th><th>state</th><th>heartbeat latency ms</th></tr>';
    for (const i of instances) {
      html += '<tr class="instance" data-address="' + i.address + '" data-state="' + i.state + '"><td>' + i.address +
              '</td><td>' + i.name + '</td><td>' + i.weight + '</td><td>' + i.state + '</td><td>' +
              (i.probe_latency_ms < 0 ? '-' : i.probe_latency_ms.toFixed(2)) + '</td></tr>';
    }
    html += '</table>';
  }
  document.getElementById('services').innerHTML = html;
  const events = await call('Sentinel.events');
  document.getElementById('events').innerHTML = events.slice(0, 20).map(e =>
      '<li>' + new Date(e.time).toISOString() + ' ' + e.event + ' ' + e.service + ' ' + e.address + ' (epoch ' + e.epoch + ')</li>').join('');
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
)HTML";
  return kPage;
}

}  // namespace harpc::sentinel
