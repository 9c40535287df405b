#include <utility>

#include "commands.hpp"

namespace rrun::cli {

namespace {

const std::pair<const char*, CommandFn> kHandlers[] = {
    {"checkpoint", cmd_checkpoint},
    {"completion", cmd_completion},
    {"create", cmd_create},
    {"delete", cmd_delete},
    {"doctor", cmd_doctor},
    {"events", cmd_events},
    {"exec", cmd_exec},
    {"features", cmd_features},
    {"help", cmd_help},
    {"images", cmd_images},
    {"kill", cmd_kill},
    {"list", cmd_list},
    {"pause", cmd_pause},
    {"prune", cmd_prune},
    {"ps", cmd_ps},
    {"pull", cmd_pull},
    {"restore", cmd_restore},
    {"resume", cmd_resume},
    {"rmi", cmd_rmi},
    {"run", cmd_run},
    {"spec", cmd_spec},
    {"start", cmd_start},
    {"state", cmd_state},
    {"unpack", cmd_unpack},
    {"update", cmd_update},
};

}  // namespace

CommandFn find_handler(std::string_view command) {
  for (const auto& [name, fn] : kHandlers)
    if (command == name) return fn;
  return cmd_not_implemented;
}

}  // namespace rrun::cli
