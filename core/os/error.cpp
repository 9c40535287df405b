#include "error.hpp"

#include <cstring>
#include <exception>

namespace rrun::os {

void throw_errno(const std::string& what) {
  throw_errno(errno, what);
}

void throw_errno(int err, const std::string& what) {
  throw SystemError(err, what);
}

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const SystemError& e) {
    // std::system_error::what() already ends in ": strerror"; strip it so the
    // new exception does not repeat it.
    std::string inner = e.what();
    const std::string suffix = std::string(": ") + e.code().message();
    if (inner.size() >= suffix.size() && inner.compare(inner.size() - suffix.size(), suffix.size(), suffix) == 0)
      inner.resize(inner.size() - suffix.size());
    throw SystemError(e.err(), context + ": " + inner);
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

namespace {

bool is_c1_in_utf8(std::string_view s, size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

bool is_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

}  // namespace

std::string escape_control(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && !is_control(static_cast<unsigned char>(s[i])) && !is_c1_in_utf8(s, i)) ++i;
  if (i == s.size()) return std::string(s);
  static const char hex[] = "0123456789abcdef";
  std::string out(s.substr(0, i));
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_c1_in_utf8(s, i)) {
      const auto c1 = static_cast<unsigned char>(s[++i]);
      out += "\\u00";
      out += hex[c1 >> 4];
      out += hex[c1 & 15];
    } else if (!is_control(c)) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace rrun::os
