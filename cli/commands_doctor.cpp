// The commands that describe the host and rrun rather than a container:
// doctor and features.

#include <rrun/core/doctor.hpp>
#include <rrun/core/features.hpp>
#include <rrun/os/error.hpp>

#include "commands.hpp"

namespace rrun::cli {

int cmd_doctor(const Invocation& inv) {
  std::string format = inv.get("format", "text");
  if (format != "text" && format != "json")
    throw os::Error("doctor: invalid format \"" + format + "\"; use text or json");
  core::doctor::Request req;
  req.rootless = is_rootless(inv);
  req.root_flag = inv.global.root;
  core::doctor::Report report = core::doctor::evaluate(core::doctor::gather_facts(req));
  print(format == "json" ? core::doctor::format_json(report) : core::doctor::format_text(report));
  return report.ok() ? 0 : 1;
}

int cmd_features(const Invocation&) {
  print(core::features_json(core::host_features()));
  return 0;
}

}  // namespace rrun::cli
