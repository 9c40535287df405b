// Shared CLI helpers and the commands that only read or write files: spec,
// state, list.

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <rrun/core/id.hpp>
#include <rrun/core/log.hpp>
#include <rrun/core/version.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>
#include <rrun/userns/subid.hpp>

#include "commands.hpp"
#include "sandbox.hpp"

namespace rrun::cli {

std::string printable_error(const std::string& what) {
  std::string joined = what;
  for (char& c : joined)
    if (c == '\n') c = ' ';
  return os::escape_control(joined);
}

void print(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      os::throw_errno("write to standard output");
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

bool is_rootless(const Invocation& inv) {
  return core::detect_rootless(inv.global.rootless);
}

core::Context command_context(const Invocation& inv, bool create_root) {
  core::Context ctx;
  ctx.rootless = is_rootless(inv);
  ctx.state_root = open_store(inv, create_root).root();
  ctx.systemd_cgroup = inv.global.systemd_cgroup;
  return ctx;
}

core::StateStore open_store(const Invocation& inv, bool create) {
  core::RootDirRequest req;
  req.flag = inv.global.root;
  req.rootless = is_rootless(inv);
  req.uid = ::geteuid();
  req.xdg_runtime_dir = std::getenv("XDG_RUNTIME_DIR");
  req.create = create;
  return core::StateStore(core::resolve_state_root(req));
}

namespace {

// The commands that act on containers already in the state directory.
bool acts_on_existing(std::string_view command) {
  for (const char* c :
       {"delete", "events", "exec", "kill", "list", "pause", "ps", "resume", "start", "state", "update"})
    if (command == c) return true;
  return false;
}

gid_t primary_gid(uid_t uid) {
  struct passwd pw;
  struct passwd* result = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &result) == 0 && result) return pw.pw_gid;
  return 65534;  // a user the passwd database does not know: nogroup
}

}  // namespace

void act_as_state_owner(const Invocation& inv) {
  if (inv.global.root.empty() || ::geteuid() != 0 || !acts_on_existing(inv.command)) return;
  struct stat st;
  if (::stat(inv.global.root.c_str(), &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid == 0) return;
  uid_t uid = st.st_uid;
  gid_t gid = primary_gid(uid);
  std::string who = "uid " + std::to_string(uid) + ", the owner of state directory " + os::quote(inv.global.root);
  if (::setgroups(0, nullptr) < 0 || ::setresgid(gid, gid, gid) < 0 || ::setresuid(uid, uid, uid) < 0)
    os::throw_errno("switch to " + who + " (root acts on another user's containers as that user)");
  core::log_debug("acting as " + who);
}

int cmd_not_implemented(const Invocation& inv) {
  throw os::Error(inv.command + ": not implemented yet");
}

// ---------------------------------------------------------------- spec

namespace {

// Container ids 1.. onto the caller's first subordinate range, if any.
std::optional<spec::IdMapping> first_range(const std::vector<userns::SubRange>& ranges) {
  if (ranges.empty()) return std::nullopt;
  return spec::IdMapping{1, ranges.front().start, ranges.front().count};
}

spec::RootlessIds rootless_ids() {
  spec::RootlessIds ids;
  ids.uid = ::geteuid();
  ids.gid = ::getegid();
  std::string user = core::user_name(ids.uid);
  try {
    ids.sub_uid = first_range(userns::subordinate_uids(user, ids.uid));
    ids.sub_gid = first_range(userns::subordinate_gids(user, ids.uid));
  } catch (const std::exception& e) {
    core::warn(std::string("no subordinate ids in the spec: ") + e.what());
    ids.sub_uid.reset();
    ids.sub_gid.reset();
  }
  if (!ids.sub_uid || !ids.sub_gid) {
    // Both or neither: a uid range without a gid range (or the reverse)
    // makes a container whose files can't be owned consistently.
    ids.sub_uid.reset();
    ids.sub_gid.reset();
  }
  return ids;
}

}  // namespace

void write_new_file(const std::string& path, const std::string& text, const std::string& exists) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == EEXIST) throw os::Error(exists);
    os::throw_errno("create " + os::quote(path));
  }
  os::UniqueFd owned(fd);
  try {
    os::write_all(owned, text);
  } catch (...) {
    ::unlink(path.c_str());
    os::rethrow_with_context("write " + os::quote(path));
  }
}

int cmd_spec(const Invocation& inv) {
  std::string dir = inv.get("bundle", ".");
  if (dir.empty()) dir = ".";
  std::string path = dir + "/config.json";
  auto exists = [&](const std::string& name) {
    return "spec: " + name + " already exists in \"" + dir + "\"; remove it first";
  };
  if (os::path_exists(path)) throw os::Error(exists("config.json"));
  spec::Spec s;
  // A sandbox's generated files (its /etc/hosts, ...) go next to config.json.
  std::vector<std::pair<std::string, std::string>> files;
  SandboxOverrides overrides = sandbox_overrides(inv, "from");  // refused without --from
  refuse_pull_flags_without_image(inv);
  if (inv.has("from")) {
    SandboxHost host = current_sandbox_host(inv.get_bool("rootless") || is_rootless(inv));
    host.image = image_resolver(inv);
    Sandbox sb = load_sandbox(inv.get("from"), host, overrides);
    s = std::move(sb.spec);
    files = std::move(sb.files);
  } else if (inv.get_bool("rootless")) {
    spec::RootlessIds ids = rootless_ids();
    s = spec::default_rootless_spec(ids);
    // A rootfs there made by `mmdebstrap --mode=unshare`: root's inside.
    map_rootfs_of_first_subids(dir + "/rootfs", ids, *s.linux);
  } else {
    s = spec::default_spec();
  }
  for (const auto& f : files)
    if (os::path_exists(dir + "/" + f.first)) throw os::Error(exists(f.first));
  std::string text = spec::serialize_spec(s, true);
  if (text.empty() || text.back() != '\n') text += '\n';
  std::vector<std::string> written;
  try {
    for (const auto& [name, content] : files) {
      write_new_file(dir + "/" + name, content, exists(name));
      written.push_back(dir + "/" + name);
    }
    write_new_file(path, text, exists("config.json"));
  } catch (...) {
    for (const auto& w : written) ::unlink(w.c_str());
    throw;
  }
  return 0;
}

// ---------------------------------------------------------------- state

int cmd_state(const Invocation& inv) {
  core::Context ctx;  // only the root: no rootless detection for `state`
  ctx.state_root = open_store(inv, false).root();
  print(core::container_state_json(ctx, inv.args.at(0)));
  return 0;
}

// ---------------------------------------------------------------- list

std::string tabulate(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, 12);
      width[c] = std::max(width[c], row[c].size() + 3);
    }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out.append(width[c] - row[c].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

int cmd_list(const Invocation& inv) {
  std::string format = inv.get("format", "table");
  bool quiet = inv.get_bool("quiet");
  if (format != "table" && format != "json")
    throw os::Error("list: invalid format \"" + format + "\"; use table or json");
  core::StateStore store = open_store(inv, false);

  struct Entry {
    core::State state;
    core::Status status;
  };
  std::vector<Entry> entries;
  store.forget_stale_locks();
  for (const auto& id : store.list_ids()) {
    try {
      auto s = core::load_settled(store, id);
      if (!s) continue;  // deleted meanwhile, or ended with its killed `run`
      core::Status st = store.status_of(*s);
      s->owner = core::owner_name(store, *s);
      entries.push_back({std::move(*s), st});
    } catch (const std::exception& e) {
      core::warn("list: skipping container \"" + id + "\": " + e.what());
    }
  }

  std::string out;
  if (quiet) {
    for (const auto& e : entries) out += e.state.id + "\n";
  } else if (format == "json" && entries.empty()) {
    out = "null\n";  // runc's (Go's) encoding of an empty list; containerd reads both
  } else if (format == "json") {
    out = "[";
    for (size_t k = 0; k < entries.size(); ++k) {
      if (k) out += ",";
      out += core::oci_state_json(entries[k].state, entries[k].status, -1);
    }
    out += "]\n";
  } else {
    std::vector<std::vector<std::string>> rows{{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (const auto& e : entries) {
      pid_t pid = e.status == core::Status::stopped ? 0 : e.state.pid;
      rows.push_back({e.state.id, std::to_string(pid), core::status_name(e.status), e.state.bundle, e.state.created,
                      e.state.owner});
    }
    out = tabulate(rows);
  }
  print(out);
  return 0;
}

}  // namespace rrun::cli
