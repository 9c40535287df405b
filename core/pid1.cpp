#include "pid1.hpp"

#include <rrun/os/error.hpp>

#include "exe_guard.hpp"

namespace rrun::core {

extern const unsigned char kPid1[];
extern const unsigned long kPid1_size;

bool wants_rrun_init(std::optional<bool> flag, const std::map<std::string, std::string>& annotations) {
  auto it = annotations.find(kInitAnnotation);
  if (it != annotations.end() && it->second != "true" && it->second != "false")
    throw os::Error(std::string("annotations.\"") + kInitAnnotation + "\": unknown value \"" + it->second +
                    "\"; use \"true\" or \"false\"");
  if (flag) return *flag;
  return it != annotations.end() && it->second == "true";
}

os::UniqueFd make_rrun_init() {
  return make_sealed_program("rrun-init", kPid1, kPid1_size);
}

}  // namespace rrun::core
