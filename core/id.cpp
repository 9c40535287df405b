#include "id.hpp"

#include <string>

#include <rrun/os/error.hpp>

namespace rrun::core {

namespace {

bool is_id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
         c == '-' || c == '.';
}

// The ID as it can appear in a one-line message: control and non-ASCII
// bytes as \xNN, at most 64 characters.
std::string printable(std::string_view id) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : id.substr(0, 64)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  if (id.size() > 64) out += "...";
  return out;
}

}  // namespace

bool is_valid_container_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > kMaxContainerIdLength || id == "." || id == "..") return false;
  for (char c : id)
    if (!is_id_char(c)) return false;
  return true;
}

void validate_container_id(std::string_view id) {
  if (is_valid_container_id(id)) return;
  if (id.empty()) throw os::Error("container id cannot be empty");
  std::string shown = "invalid container id \"" + printable(id) + "\": ";
  if (id.size() > kMaxContainerIdLength)
    throw os::Error(shown + "longer than " + std::to_string(kMaxContainerIdLength) + " characters");
  if (id == "." || id == "..") throw os::Error(shown + "\".\" and \"..\" are not allowed");
  throw os::Error(shown + "only letters, digits and _ + - . are allowed");
}

}  // namespace rrun::core
