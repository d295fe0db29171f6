// The sentinel's live dashboard: one HTML page with plain JavaScript, served
// on GET /, that polls Registry.list and Sentinel.events every second.
#pragma once

#include <string_view>

namespace harpc::sentinel {

std::string_view DashboardHtml();

}  // namespace harpc::sentinel
