#include "detect.hpp"

#include <optional>
#include <sstream>

#include <rrun/os/file.hpp>

namespace rrun::userns {

bool in_initial_user_namespace(const std::string& proc_root) {
  std::optional<std::string> text = os::read_file_if_exists(proc_root + "/self/uid_map");
  if (!text) return true;
  std::istringstream in(*text);
  unsigned long long inside = 0, outside = 0, count = 0;
  if (!(in >> inside >> outside >> count)) return false;  // empty: a new namespace not mapped yet
  unsigned long long more = 0;
  if (in >> more) return false;  // several lines
  return inside == 0 && outside == 0 && count == 4294967295ULL;
}

bool running_rootless(uid_t euid, const std::string& proc_root) {
  return euid != 0 || !in_initial_user_namespace(proc_root);
}

}  // namespace rrun::userns
