#include "detect.hpp"

#include <optional>

#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

namespace rrun::userns {

bool in_initial_user_namespace(const std::string& proc_root) {
  std::optional<std::string> text = os::read_file_if_exists(proc_root + "/self/uid_map");
  if (!text) return true;
  // One line "0 0 4294967295"; empty (a new namespace not mapped yet) or
  // several lines is not the initial namespace.
  std::vector<std::string> ws = os::words(*text);
  return ws.size() == 3 && ws[0] == "0" && ws[1] == "0" && ws[2] == "4294967295";
}

bool running_rootless(uid_t euid, const std::string& proc_root) {
  return euid != 0 || !in_initial_user_namespace(proc_root);
}

}  // namespace rrun::userns
