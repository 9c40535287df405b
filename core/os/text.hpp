#pragma once
// Splitting text without iostreams: the first std::istringstream of a
// process initializes libstdc++'s locales (~40k instructions and some RSS),
// which every create would pay for when reading /proc and cgroup files.

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rrun::os {

// The non-empty pieces of `s` between `sep`s.
inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// The words of `s` separated by white space (what `stream >> word` reads).
inline std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

// The unsigned decimal number after white space at s[at], as sscanf's
// "%llu" reads it (sscanf is the C library's whole scanf engine: pages of
// it mapped for three numbers); `at` moves past it. False if none is there.
template <typename T>
bool read_uint(std::string_view s, size_t& at, T& v) {
  while (at < s.size() && is_space(s[at])) ++at;
  auto r = std::from_chars(s.data() + at, s.data() + s.size(), v);
  if (r.ec != std::errc()) return false;
  at = static_cast<size_t>(r.ptr - s.data());
  return true;
}

// Calls f(line) for each line of `s` without its '\n', as std::getline
// does: a last line without '\n' counts, a final '\n' adds no empty line.
template <typename F>
void for_each_line(std::string_view s, F&& f) {
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    f(s.substr(start, end - start));
    start = end + 1;
  }
}

}  // namespace rrun::os
