#include "proc.hpp"

#include <cstdlib>

#include "file.hpp"

namespace rrun::os {

namespace {

// Fields of /proc/PID/stat after the command name, which may itself hold
// spaces and parentheses: everything after the last ')'.
std::optional<std::string> stat_tail(pid_t pid, const std::string& proc_root) {
  std::optional<std::string> text;
  try {
    text = read_file_if_exists(proc_root + "/" + std::to_string(pid) + "/stat");
  } catch (...) {
    return std::nullopt;  // ESRCH while reading: the process is gone
  }
  if (!text) return std::nullopt;
  auto paren = text->rfind(')');
  if (paren == std::string::npos || paren + 2 >= text->size()) return std::nullopt;
  return text->substr(paren + 2);
}

}  // namespace

std::optional<char> process_state(pid_t pid, const std::string& proc_root) {
  auto tail = stat_tail(pid, proc_root);
  if (!tail || tail->empty()) return std::nullopt;
  return (*tail)[0];
}

std::optional<uint64_t> process_start_time(pid_t pid, const std::string& proc_root) {
  auto tail = stat_tail(pid, proc_root);
  if (!tail) return std::nullopt;
  // The tail starts at field 3 (state); starttime is field 22.
  const char* p = tail->c_str();
  for (int field = 3; field < 22; ++field) {
    while (*p && *p != ' ') ++p;
    if (!*p) return std::nullopt;
    ++p;
  }
  char* end = nullptr;
  unsigned long long v = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  return static_cast<uint64_t>(v);
}

std::optional<pid_t> innermost_pid(pid_t pid, const std::string& proc_root) {
  std::optional<std::string> text;
  try {
    text = read_file_if_exists(proc_root + "/" + std::to_string(pid) + "/status");
  } catch (...) {
    return std::nullopt;
  }
  if (!text) return std::nullopt;
  auto at = text->find("\nNSpid:");
  if (at == std::string::npos) return std::nullopt;  // before Linux 4.1
  auto end = text->find('\n', at + 1);
  std::string line = text->substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
  auto last = line.find_last_of(" \t");
  char* stop = nullptr;
  long v = std::strtol(line.c_str() + (last == std::string::npos ? 0 : last + 1), &stop, 10);
  if (stop == line.c_str() + (last == std::string::npos ? 0 : last + 1)) return std::nullopt;
  return static_cast<pid_t>(v);
}

bool process_alive(pid_t pid, uint64_t start_time, const std::string& proc_root) {
  if (pid <= 0) return false;
  auto start = process_start_time(pid, proc_root);
  if (!start || *start != start_time) return false;
  auto letter = process_state(pid, proc_root);
  return letter && *letter != 'Z' && *letter != 'X' && *letter != 'x';
}

}  // namespace rrun::os
