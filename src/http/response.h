// The server's HTTP/1.1 responses, formatted straight into the connection's
// output buffer: fixed header set, Content-Length framing, no chunking.
#pragma once

#include <string>
#include <string_view>

namespace harpc::http1 {

struct Response {
  int status = 200;
  std::string_view content_type = "application/json";
  std::string body;
  bool close = false;            // adds "Connection: close"; the server then closes
  std::string_view extra_headers;  // preformatted "Name: value\r\n" lines
  bool reset = false;             // fault injection: reset the connection instead of answering
};

std::string_view ReasonPhrase(int status);
void AppendResponse(std::string& out, const Response& response);

}  // namespace harpc::http1
