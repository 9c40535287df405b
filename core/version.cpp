#include "version.hpp"

#include <seccomp.h>

#include <rrun/spec/spec.hpp>

namespace rrun::core {

const char* rrun_version() {
  return RRUN_VERSION;
}

const char* spec_version() {
  return spec::kOciVersion;
}

std::string libseccomp_version() {
  const struct scmp_version* v = seccomp_version();
  if (!v) return "unknown";
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

}  // namespace rrun::core
