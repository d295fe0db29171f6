#include "util/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>

#include "util/log.h"

namespace harpc {

std::string RandomId() {
  unsigned char bytes[16];
  size_t filled = 0;
  // getrandom blocks only before the kernel's pool is first initialised, and
  // returns at most 256 bytes per call uninterrupted; a signal may cut it short.
  while (filled < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      Log().critical("getrandom failed (errno {}): refusing to make guessable ids", errno);
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(2 * sizeof bytes, '0');
  for (size_t i = 0; i < sizeof bytes; ++i) {
    id[2 * i] = kHex[bytes[i] >> 4];
    id[2 * i + 1] = kHex[bytes[i] & 0xf];
  }
  return id;
}

bool SameSecret(std::string_view kept, std::string_view presented) {
  if (kept.empty() || kept.size() != presented.size()) return false;  // lengths are not secret: ids are 32 digits
  unsigned char differ = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    differ |= static_cast<unsigned char>(kept[i] ^ presented[i]);
  }
  // Read through a volatile so that the loop is not cut short by the optimiser.
  volatile unsigned char result = differ;
  return result == 0;
}

}  // namespace harpc
