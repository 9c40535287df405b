// The YAML sandbox front-end: sandbox.hpp. Reads top-down in the order of the
// format (README "YAML sandboxes"): each key is checked where it is read,
// and every error names the file, the line and column of the offending node,
// and the key's path.

#include "sandbox.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <yaml-cpp/yaml.h>

#include <rrun/core/id.hpp>
#include <rrun/core/log.hpp>
#include <rrun/core/netlo.hpp>
#include <rrun/core/seccomp.hpp>
#include <rrun/core/state.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

namespace rrun::cli {

namespace {

const char* const kKeys[] = {"name",   "rootfs",       "overlay",  "readonly", "command", "workdir",
                             "env",    "user",         "hostname", "tty",      "mounts",  "network",
                             "limits", "capabilities", "seccomp",  "devices"};

// Capability names the kernel knows (capabilities(7)), in bit order.
const char* const kCapabilities[] = {"CAP_CHOWN",
                                     "CAP_DAC_OVERRIDE",
                                     "CAP_DAC_READ_SEARCH",
                                     "CAP_FOWNER",
                                     "CAP_FSETID",
                                     "CAP_KILL",
                                     "CAP_SETGID",
                                     "CAP_SETUID",
                                     "CAP_SETPCAP",
                                     "CAP_LINUX_IMMUTABLE",
                                     "CAP_NET_BIND_SERVICE",
                                     "CAP_NET_BROADCAST",
                                     "CAP_NET_ADMIN",
                                     "CAP_NET_RAW",
                                     "CAP_IPC_LOCK",
                                     "CAP_IPC_OWNER",
                                     "CAP_SYS_MODULE",
                                     "CAP_SYS_RAWIO",
                                     "CAP_SYS_CHROOT",
                                     "CAP_SYS_PTRACE",
                                     "CAP_SYS_PACCT",
                                     "CAP_SYS_ADMIN",
                                     "CAP_SYS_BOOT",
                                     "CAP_SYS_NICE",
                                     "CAP_SYS_RESOURCE",
                                     "CAP_SYS_TIME",
                                     "CAP_SYS_TTY_CONFIG",
                                     "CAP_MKNOD",
                                     "CAP_LEASE",
                                     "CAP_AUDIT_WRITE",
                                     "CAP_AUDIT_CONTROL",
                                     "CAP_SETFCAP",
                                     "CAP_MAC_OVERRIDE",
                                     "CAP_MAC_ADMIN",
                                     "CAP_SYSLOG",
                                     "CAP_WAKE_ALARM",
                                     "CAP_BLOCK_SUSPEND",
                                     "CAP_AUDIT_READ",
                                     "CAP_PERFMON",
                                     "CAP_BPF",
                                     "CAP_CHECKPOINT_RESTORE"};

// What a sandbox keeps when `capabilities:` says nothing: runc's default set.
const char* const kDefaultCapabilities[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};

const char* const kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

constexpr int64_t kCpuPeriod = 100000;  // microseconds, the kernel's default CFS period

class Reader {
 public:
  Reader(std::string file, std::string base_dir) : file_(std::move(file)), base_(std::move(base_dir)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& what) const {
    YAML::Mark m = at.Mark();
    int line = m.line >= 0 ? m.line + 1 : 1;
    int col = m.column >= 0 ? m.column + 1 : 1;
    throw os::Error(file_ + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + path + ": " + what);
  }

  std::string string(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(n, path, std::string("expected a string, got ") + kind(n));
    return n.Scalar();
  }

  std::string nonempty_string(const YAML::Node& n, const std::string& path) const {
    std::string s = string(n, path);
    if (s.empty()) fail(n, path, "must not be empty");
    return s;
  }

  bool boolean(const YAML::Node& n, const std::string& path) const {
    if (n.IsScalar()) {
      const std::string& v = n.Scalar();
      if (v == "true" || v == "True" || v == "TRUE") return true;
      if (v == "false" || v == "False" || v == "FALSE") return false;
    }
    fail(n, path, std::string("expected true or false, got ") + describe(n));
  }

  // A whole number in [min, max].
  int64_t integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const {
    if (!n.IsScalar()) fail(n, path, std::string("expected a number, got ") + kind(n));
    const std::string& v = n.Scalar();
    errno = 0;
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno == ERANGE || v[0] == '+' || v[0] == ' ')
      fail(n, path, "expected a whole number, got \"" + v + "\"");
    if (x < min || x > max)
      fail(n, path, v + " is out of range (" + std::to_string(min) + " to " + std::to_string(max) + ")");
    return x;
  }

  // "64M", "512m", "1G", "4096" (bytes): a positive size in bytes.
  int64_t size(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(n, path, std::string("expected a size such as 64M, got ") + kind(n));
    const std::string& v = n.Scalar();
    size_t digits = 0;
    while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
    std::string suffix = v.substr(digits);
    int shift = -1;
    if (suffix.empty()) shift = 0;
    if (suffix.size() == 1) {
      switch (suffix[0]) {
        case 'k':
        case 'K':
          shift = 10;
          break;
        case 'm':
        case 'M':
          shift = 20;
          break;
        case 'g':
        case 'G':
          shift = 30;
          break;
        case 't':
        case 'T':
          shift = 40;
          break;
        default:
          break;
      }
    }
    if (digits == 0 || shift < 0)
      fail(n, path, "invalid size \"" + v + "\"; use a number of bytes with an optional K, M, G or T suffix (64M)");
    errno = 0;
    unsigned long long x = std::strtoull(v.substr(0, digits).c_str(), nullptr, 10);
    if (errno == ERANGE || x > (static_cast<unsigned long long>(INT64_MAX) >> shift))
      fail(n, path, "size \"" + v + "\" is too large");
    if (x == 0) fail(n, path, "size must be more than 0");
    return static_cast<int64_t>(x << shift);
  }

  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const {
    if (!n.IsSequence()) fail(n, path, std::string("expected a list, got ") + kind(n));
    std::vector<std::string> out;
    for (size_t i = 0; i < n.size(); ++i) out.push_back(string(n[i], path + "[" + std::to_string(i) + "]"));
    return out;
  }

  // The entries of a mapping, checked against `allowed`: an unknown or
  // repeated key is an error.
  std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node& n, const std::string& path,
                                                         const std::vector<std::string>& allowed) const {
    if (!n.IsMap()) fail(n, path.empty() ? "(top level)" : path, std::string("expected a mapping, got ") + kind(n));
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      YAML::Node key = it->first;
      std::string where = path.empty() ? "(top level)" : path;
      if (!key.IsScalar()) fail(key, where, "keys must be strings");
      std::string k = key.Scalar();
      std::string kpath = path.empty() ? k : path + "." + k;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(key, kpath, "unknown key; expected one of " + list);
      }
      if (!seen.insert(k).second) fail(key, kpath, "given twice");
      YAML::Node value = it->second;
      out.emplace_back(key, value);
    }
    return out;
  }

  // An absolute path inside the container.
  std::string target(const YAML::Node& n, const std::string& path) const {
    std::string t = nonempty_string(n, path);
    if (t[0] != '/') fail(n, path, "\"" + t + "\" must be an absolute path in the container");
    return t;
  }

  // A host path, relative to the YAML file's directory; lexically normalized.
  std::string host_path(const std::string& p) const {
    std::filesystem::path abs = p[0] == '/' ? std::filesystem::path(p) : std::filesystem::path(base_) / p;
    std::string s = abs.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  }

  const std::string& file() const { return file_; }

  static const char* kind(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Null:
        return "nothing";
      case YAML::NodeType::Scalar:
        return "a scalar";
      case YAML::NodeType::Sequence:
        return "a list";
      case YAML::NodeType::Map:
        return "a mapping";
      default:
        return "nothing";
    }
  }

  static std::string describe(const YAML::Node& n) {
    if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
    return kind(n);
  }

 private:
  std::string file_;
  std::string base_;
};

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string normalize_capability(std::string name) {
  for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name != "ALL" && name.rfind("CAP_", 0) != 0) name = "CAP_" + name;
  return name;
}

bool known_capability(const std::string& name) {
  for (const char* c : kCapabilities)
    if (name == c) return true;
  return false;
}

// Container ids [start, start+count) onto the first subordinate range, as far
// as it reaches; count may be cut short.
void map_onto_range(std::vector<spec::IdMapping>& out, uint32_t container_start, uint32_t count,
                    const userns::SubRange& range, uint32_t range_offset) {
  if (range_offset >= range.count || count == 0) return;
  uint32_t n = std::min(count, range.count - range_offset);
  out.push_back(spec::IdMapping{container_start, range.start + range_offset, n});
}

// `user: keep` rootless: the caller's id inside is the same as outside;
// the ids below and above it go onto the subordinate range (podman's
// --userns=keep-id).
std::vector<spec::IdMapping> keep_id_map(uint32_t id, const std::vector<userns::SubRange>& ranges) {
  std::vector<spec::IdMapping> map;
  if (!ranges.empty()) map_onto_range(map, 0, id, ranges.front(), 0);
  map.push_back(spec::IdMapping{id, id, 1});
  if (!ranges.empty() && ranges.front().count > id)
    map_onto_range(map, id + 1, ranges.front().count - id, ranges.front(), id);
  return map;
}

bool mapped(const std::vector<spec::IdMapping>& map, uint32_t id) {
  for (const auto& m : map)
    if (id >= m.container_id && id - m.container_id < m.size) return true;
  return false;
}

}  // namespace

Sandbox translate_sandbox(std::string_view yaml_text, const std::string& file, const SandboxHost& host) {
  std::filesystem::path fpath(file);
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(fpath, ec);
  if (ec) abs = fpath;
  std::string base = abs.lexically_normal().parent_path().string();
  Reader r(file, base.empty() ? "/" : base);

  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {  // ParserException, and the rest that carries a mark
    int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    int col = e.mark.is_null() ? 1 : e.mark.column + 1;
    throw os::Error(file + ":" + std::to_string(line) + ":" + std::to_string(col) + ": invalid YAML: " + e.msg);
  }
  if (doc.IsNull()) throw os::Error(file + ":1:1: the file is empty; a sandbox needs at least `rootfs:`");
  std::vector<std::string> top(std::begin(kKeys), std::end(kKeys));
  auto fields = r.entries(doc, "", top);
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> by_key;
  for (auto& [k, v] : fields) by_key[k.Scalar()] = {k, v};
  auto get = [&](const char* key) -> std::optional<YAML::Node> {
    auto it = by_key.find(key);
    if (it == by_key.end()) return std::nullopt;
    return it->second.second;
  };

  Sandbox out;
  // name: the container id; default the file name without .yaml/.yml.
  if (auto n = get("name")) {
    out.name = r.nonempty_string(*n, "name");
    try {
      core::validate_container_id(out.name);
    } catch (const std::exception& e) {
      r.fail(*n, "name", e.what());
    }
  } else {
    std::string stem = fpath.filename().string();
    for (const char* ext : {".yaml", ".yml"}) {
      size_t len = std::char_traits<char>::length(ext);
      if (stem.size() > len && stem.compare(stem.size() - len, len, ext) == 0) {
        stem.resize(stem.size() - len);
        break;
      }
    }
    out.name = stem;
    try {
      core::validate_container_id(out.name);
    } catch (const std::exception& e) {
      r.fail(doc, "name",
             std::string("the file name is not a valid container id (") + e.what() + "); set `name:` or pass an ID");
    }
  }

  // user: decided first, it shapes the id mappings.
  enum class UserMode { root, keep, ids } user_mode = UserMode::root;
  uint32_t user_uid = 0, user_gid = 0;
  std::optional<YAML::Node> user_node = get("user");
  if (user_node) {
    std::string u = r.nonempty_string(*user_node, "user");
    if (u == "root") {
      user_mode = UserMode::root;
    } else if (u == "keep") {
      user_mode = UserMode::keep;
      user_uid = host.uid;
      user_gid = host.gid;
    } else {
      user_mode = UserMode::ids;
      size_t colon = u.find(':');
      auto number = [&](const std::string& s) -> uint32_t {
        if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit) ||
            std::strtoull(s.c_str(), nullptr, 10) > 0xfffffffeULL)
          r.fail(*user_node, "user",
                 "invalid value \"" + u + "\"; use root, keep, UID or UID:GID (numbers, as in /etc/passwd)");
        return static_cast<uint32_t>(std::strtoull(s.c_str(), nullptr, 10));
      };
      user_uid = number(u.substr(0, colon));
      user_gid = colon == std::string::npos ? 0 : number(u.substr(colon + 1));
    }
  }

  // The base: what `rrun spec` (or `rrun spec --rootless`) writes.
  spec::Spec s;
  if (host.rootless) {
    spec::RootlessIds ids;
    ids.uid = host.uid;
    ids.gid = host.gid;
    if (!host.sub_uids.empty() && !host.sub_gids.empty()) {
      ids.sub_uid = spec::IdMapping{1, host.sub_uids.front().start, host.sub_uids.front().count};
      ids.sub_gid = spec::IdMapping{1, host.sub_gids.front().start, host.sub_gids.front().count};
    }
    s = spec::default_rootless_spec(ids);
    if (user_mode == UserMode::keep && host.uid != 0) {
      bool ranges = !host.sub_uids.empty() && !host.sub_gids.empty();
      s.linux->uid_mappings = keep_id_map(host.uid, ranges ? host.sub_uids : std::vector<userns::SubRange>{});
      s.linux->gid_mappings = keep_id_map(host.gid, ranges ? host.sub_gids : std::vector<userns::SubRange>{});
    }
    if (user_mode == UserMode::ids) {
      auto hint = [&](const char* file, uint32_t id) {
        return " is not mapped in the sandbox's user namespace: only 0 (you)" +
               std::string(s.linux->uid_mappings.size() > 1 ? " and your subordinate range" : "") +
               " are; add a range for " + (host.user_name.empty() ? "you" : host.user_name) + " to " + file +
               " (e.g. `" + (host.user_name.empty() ? std::to_string(host.uid) : host.user_name) +
               ":100000:65536`) or use `user: root`" + (id == host.uid ? " or `user: keep`" : "");
      };
      if (!mapped(s.linux->uid_mappings, user_uid))
        r.fail(*user_node, "user", "uid " + std::to_string(user_uid) + hint("/etc/subuid", user_uid));
      if (!mapped(s.linux->gid_mappings, user_gid))
        r.fail(*user_node, "user", "gid " + std::to_string(user_gid) + hint("/etc/subgid", user_gid));
    }
  } else {
    s = spec::default_spec();
  }
  spec::Process& p = *s.process;
  spec::Linux& l = *s.linux;
  p.user.uid = user_mode == UserMode::root ? 0 : user_uid;
  p.user.gid = user_mode == UserMode::root ? 0 : user_gid;
  p.terminal = false;
  p.args = {"/bin/sh"};

  // rootfs: a directory, relative to the file; default ./rootfs.
  {
    std::optional<YAML::Node> n = get("rootfs");
    std::string given = n ? r.nonempty_string(*n, "rootfs") : std::string("rootfs");
    std::string path = r.host_path(given);
    if (!is_directory(path))
      r.fail(n ? *n : doc, "rootfs",
             os::quote(path) + (os::path_exists(path) ? " is not a directory" : " does not exist") +
                 (n ? "" : " (the default: `rootfs:` not given)") +
                 "; make the root filesystem there or set `rootfs:`");
    s.root = spec::Root{path, false};
  }

  // overlay: ephemeral | persistent:DIR | none (default).
  if (auto n = get("overlay")) {
    std::string v = r.nonempty_string(*n, "overlay");
    if (v == "ephemeral") {
      s.annotations[kOverlayAnnotation] = "ephemeral";
    } else if (v.rfind("persistent:", 0) == 0 && v.size() > 11) {
      std::string dir = r.host_path(v.substr(11));
      if (dir == s.root->path || dir.rfind(s.root->path + "/", 0) == 0)
        r.fail(*n, "overlay", "the persistent directory " + os::quote(dir) + " must not be inside the rootfs");
      s.annotations[kOverlayAnnotation] = "persistent:" + dir;
    } else if (v != "none") {
      r.fail(*n, "overlay", "invalid value \"" + v + "\"; use ephemeral, persistent:DIR or none");
    }
  }

  if (auto n = get("readonly")) s.root->readonly = r.boolean(*n, "readonly");

  if (auto n = get("command")) {
    p.args = r.strings(*n, "command");
    if (p.args.empty()) r.fail(*n, "command", "must name a program: [/bin/sh]");
    if (p.args[0].empty()) r.fail((*n)[0], "command[0]", "must not be empty");
  }

  if (auto n = get("workdir")) p.cwd = r.target(*n, "workdir");

  if (auto n = get("tty")) p.terminal = r.boolean(*n, "tty");

  // env: a mapping NAME: value over the defaults PATH and TERM.
  if (auto n = get("env")) {
    if (!n->IsMap()) r.fail(*n, "env", std::string("expected a mapping NAME: value, got ") + Reader::kind(*n));
    for (auto it = n->begin(); it != n->end(); ++it) {
      YAML::Node key = it->first;
      YAML::Node value_node = it->second;
      if (!key.IsScalar()) r.fail(key, "env", "names must be strings");
      std::string name = key.Scalar();
      std::string path = "env." + name;
      if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos)
        r.fail(key, path, "invalid variable name \"" + name + "\"");
      std::string value = value_node.IsNull() ? std::string() : r.string(value_node, path);
      std::string entry = name + "=" + value;
      auto same = std::find_if(p.env.begin(), p.env.end(),
                               [&](const std::string& e) { return e.compare(0, name.size() + 1, name + "=") == 0; });
      if (same != p.env.end())
        *same = entry;
      else
        p.env.push_back(entry);
    }
  }

  // hostname: default the sandbox's name.
  s.hostname = out.name;
  if (auto n = get("hostname")) s.hostname = r.nonempty_string(*n, "hostname");
  if (s.hostname.size() > 64) r.fail(get("hostname") ? *get("hostname") : doc, "hostname", "longer than 64 bytes");

  // network: host (default) | none.
  bool network_none = false;
  if (auto n = get("network")) {
    std::string v = r.nonempty_string(*n, "network");
    if (v == "none")
      network_none = true;
    else if (v != "host")
      r.fail(*n, "network", "invalid value \"" + v + "\"; use host or none");
  }
  std::erase_if(l.namespaces, [](const spec::Namespace& ns) { return ns.type == spec::NamespaceType::network; });
  if (network_none) {
    l.namespaces.push_back(spec::Namespace{spec::NamespaceType::network, ""});
    s.annotations[core::kLoopbackAnnotation] = "up";
  }

  // mounts: binds (relative to the file) and tmpfs.
  if (auto n = get("mounts")) {
    if (!n->IsSequence()) r.fail(*n, "mounts", std::string("expected a list, got ") + Reader::kind(*n));
    for (size_t i = 0; i < n->size(); ++i) {
      std::string path = "mounts[" + std::to_string(i) + "]";
      YAML::Node m = (*n)[i];
      auto entries = r.entries(m, path, {"type", "source", "target", "readonly", "size"});
      std::map<std::string, YAML::Node> e;
      for (auto& [k, v] : entries) e[k.Scalar()] = v;
      std::string type = e.count("type") ? r.nonempty_string(e["type"], path + ".type") : "bind";
      if (type != "bind" && type != "tmpfs")
        r.fail(e["type"], path + ".type", "invalid value \"" + type + "\"; use bind or tmpfs");
      if (!e.count("target")) r.fail(m, path + ".target", "required");
      spec::Mount mount;
      mount.destination = r.target(e["target"], path + ".target");
      bool readonly = e.count("readonly") ? r.boolean(e["readonly"], path + ".readonly") : false;
      if (type == "bind") {
        if (e.count("size")) r.fail(e["size"], path + ".size", "only for type: tmpfs");
        if (!e.count("source")) r.fail(m, path + ".source", "required for a bind mount");
        std::string src = r.host_path(r.nonempty_string(e["source"], path + ".source"));
        if (!os::path_exists(src)) r.fail(e["source"], path + ".source", os::quote(src) + " does not exist");
        mount.type = "bind";
        mount.source = src;
        mount.options = {"rbind", "nosuid", "nodev", readonly ? "ro" : "rw"};
      } else {
        if (e.count("source")) r.fail(e["source"], path + ".source", "a tmpfs has no source");
        mount.type = "tmpfs";
        mount.source = "tmpfs";
        mount.options = {"nosuid", "nodev", "mode=1777"};
        if (e.count("size")) mount.options.push_back("size=" + std::to_string(r.size(e["size"], path + ".size")));
        if (readonly) mount.options.push_back("ro");
      }
      s.mounts.push_back(std::move(mount));
    }
  }

  // limits: cgroup resources and RLIMIT_NOFILE.
  if (auto n = get("limits")) {
    auto entries = r.entries(*n, "limits", {"memory", "pids", "cpus", "nofile"});
    for (auto& [k, v] : entries) {
      std::string key = k.Scalar();
      std::string path = "limits." + key;
      if (!l.resources) l.resources = spec::Resources{};
      spec::Resources& res = *l.resources;
      if (key == "memory") {
        spec::MemoryResources mem;
        mem.limit = r.size(v, path);
        res.memory = mem;
      } else if (key == "pids") {
        spec::PidsResources pids;
        pids.limit = r.integer(v, path, 1, INT32_MAX);
        res.pids = pids;
      } else if (key == "cpus") {
        if (!v.IsScalar())
          r.fail(v, path, std::string("expected a number of CPUs such as 1.5, got ") + Reader::kind(v));
        char* end = nullptr;
        const std::string& text = v.Scalar();
        double cpus = std::strtod(text.c_str(), &end);
        if (text.empty() || *end || !std::isfinite(cpus))
          r.fail(v, path, "expected a number of CPUs such as 1.5, got \"" + text + "\"");
        // Rounded to the nearest microsecond (not std::llround: rrun needs
        // no libm).
        int64_t quota = cpus < 0 || cpus > 1e6 ? 0 : static_cast<int64_t>(cpus * kCpuPeriod + 0.5);
        if (quota < 1000 || cpus > 1e6) r.fail(v, path, "\"" + text + "\" is out of range (0.01 or more)");
        spec::CpuResources cpu;
        cpu.quota = quota;
        cpu.period = kCpuPeriod;
        res.cpu = cpu;
      } else if (key == "nofile") {
        uint64_t nofile = static_cast<uint64_t>(r.integer(v, path, 1, 1 << 30));
        p.rlimits = {spec::Rlimit{"RLIMIT_NOFILE", nofile, nofile}};
      }
    }
    if (l.resources && l.resources->devices.empty() && !l.resources->memory && !l.resources->pids && !l.resources->cpu)
      l.resources.reset();  // only nofile: nothing for cgroups
  }

  // capabilities: {add, drop} over the default set.
  std::vector<std::string> caps(std::begin(kDefaultCapabilities), std::end(kDefaultCapabilities));
  if (auto n = get("capabilities")) {
    auto entries = r.entries(*n, "capabilities", {"add", "drop"});
    std::map<std::string, YAML::Node> e;
    for (auto& [k, v] : entries) e[k.Scalar()] = v;
    auto names = [&](const char* key) {
      std::vector<std::string> out;
      if (!e.count(key)) return out;
      std::string path = std::string("capabilities.") + key;
      std::vector<std::string> given = r.strings(e[key], path);
      for (size_t i = 0; i < given.size(); ++i) {
        std::string c = normalize_capability(given[i]);
        if (c != "ALL" && !known_capability(c))
          r.fail(e[key][i], path + "[" + std::to_string(i) + "]",
                 "unknown capability \"" + given[i] + "\" (see capabilities(7); ALL means every one)");
        out.push_back(c);
      }
      return out;
    };
    std::vector<std::string> drop = names("drop");
    std::vector<std::string> add = names("add");
    if (std::find(drop.begin(), drop.end(), "ALL") != drop.end())
      caps.clear();
    else
      std::erase_if(caps, [&](const std::string& c) { return std::find(drop.begin(), drop.end(), c) != drop.end(); });
    for (const auto& c : add) {
      if (c == "ALL") {
        caps.assign(std::begin(kCapabilities), std::end(kCapabilities));
        continue;
      }
      if (std::find(caps.begin(), caps.end(), c) == caps.end()) caps.push_back(c);
    }
  }
  spec::Capabilities pc;
  pc.bounding = caps;
  pc.effective = caps;
  pc.permitted = caps;
  p.capabilities = pc;

  // seccomp: default | unconfined | PATH.
  {
    std::optional<YAML::Node> n = get("seccomp");
    std::string v = n ? r.nonempty_string(*n, "seccomp") : std::string("default");
    if (v == "default") {
      l.seccomp = default_seccomp_profile(caps);
    } else if (v != "unconfined") {
      std::string path = r.host_path(v);
      std::optional<std::string> text;
      try {
        text = os::read_file_if_exists(path);
      } catch (const std::exception& e) {
        r.fail(*n, "seccomp", e.what());
      }
      if (!text)
        r.fail(*n, "seccomp", os::quote(path) + " does not exist; use default, unconfined or a seccomp JSON file");
      try {
        spec::Seccomp profile = spec::parse_seccomp(*text, "seccomp");
        core::plan_seccomp(profile);  // validates actions, architectures, flags, operators
        l.seccomp = std::move(profile);
      } catch (const std::exception& e) {
        r.fail(*n, "seccomp", os::quote(path) + ": " + e.what());
      }
    }
  }

  // devices: host device nodes, bind-mounted (rootless can't mknod); as root
  // also allowed in the device cgroup.
  if (auto n = get("devices")) {
    std::vector<std::string> devs = r.strings(*n, "devices");
    for (size_t i = 0; i < devs.size(); ++i) {
      std::string path = "devices[" + std::to_string(i) + "]";
      const YAML::Node item = (*n)[i];
      if (devs[i].empty() || devs[i][0] != '/') r.fail(item, path, "\"" + devs[i] + "\" must be an absolute path");
      struct stat st;
      if (::stat(devs[i].c_str(), &st) < 0) r.fail(item, path, os::quote(devs[i]) + " does not exist on this host");
      if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        r.fail(item, path, os::quote(devs[i]) + " is not a device node");
      spec::Mount m;
      m.destination = devs[i];
      m.type = "bind";
      m.source = devs[i];
      m.options = {"bind"};
      s.mounts.push_back(std::move(m));
      if (!host.rootless) {
        if (!l.resources) l.resources = spec::Resources{};
        spec::DeviceCgroupRule rule;
        rule.allow = true;
        rule.type = S_ISCHR(st.st_mode) ? "c" : "b";
        rule.major = major(st.st_rdev);
        rule.minor = minor(st.st_rdev);
        rule.access = "rwm";
        l.resources->devices.push_back(rule);
      }
    }
  }

  out.spec = std::move(s);
  return out;
}

Sandbox load_sandbox(const std::string& file, const SandboxHost& host) {
  std::optional<std::string> text = os::read_file_if_exists(file);
  if (!text) throw os::Error("cannot read the sandbox file " + os::quote(file) + ": no such file");
  return translate_sandbox(*text, file, host);
}

SandboxHost current_sandbox_host(bool rootless) {
  SandboxHost h;
  h.rootless = rootless;
  h.uid = ::geteuid();
  h.gid = ::getegid();
  h.user_name = core::user_name(h.uid);
  if (!rootless) return h;
  try {
    h.sub_uids = userns::subordinate_uids(h.user_name, h.uid);
    h.sub_gids = userns::subordinate_gids(h.user_name, h.uid);
  } catch (const std::exception& e) {
    core::warn(std::string("no subordinate ids for the sandbox: ") + e.what());
    h.sub_uids.clear();
    h.sub_gids.clear();
  }
  return h;
}

}  // namespace rrun::cli
