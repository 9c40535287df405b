// /etc/subuid and /etc/subgid text: userns::parse_subid_file (by name and
// by uid, as shadow matches a line) and parse_all_subid_ranges.

#include <exception>
#include <string>

#include <rrun/userns/subid.hpp>

#include "fuzz.hpp"

namespace userns = rrun::userns;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = rrun::fuzz::as_text(data, size);
  try {
    (void)userns::parse_subid_file(text, "rrun-test", 1000);
    (void)userns::parse_subid_file(text, "", 0);
    (void)userns::parse_all_subid_ranges(text);
  } catch (const std::exception&) {
  }
  return 0;
}
