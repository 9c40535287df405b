// Parsing a sandbox file into a SandboxDoc (sandbox_doc.hpp). Reads
// top-down in the order of the format (README "YAML sandboxes"): each key is
// type-checked where it is read, and every error names the file, the line
// and column of the offending node, and the key's path.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <rrun/core/id.hpp>
#include <rrun/os/error.hpp>
#include <rrun/rootfs/overlay.hpp>
#include <rrun/rootfs/plan.hpp>

#include "sandbox_doc.hpp"

namespace rrun::cli {

void Origin::fail(const std::string& what) const {
  throw os::Error(where + ": " + what);
}

std::string mount_target(const std::string& target, const Origin& at) {
  try {
    return rootfs::mount_destination(target);
  } catch (const std::exception& e) {
    at.fail(e.what());
  }
}

const std::vector<std::string>& all_capabilities() {
  static const std::vector<std::string> caps = {"CAP_CHOWN",
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
  return caps;
}

namespace {

// Built on first use, not before main (a plain bundle never parses YAML).
const std::vector<std::string>& top_keys() {
  static const std::vector<std::string> keys = {
      "name",     "rootfs", "image",  "overlay", "readonly", "command",      "entrypoint", "workdir", "env",  "user",
      "hostname", "tty",    "mounts", "network", "limits",   "capabilities", "seccomp",    "devices", "init", "share"};
  return keys;
}

class Reader {
 public:
  Reader(std::string file, std::string base_dir, const EnvLookup& env)
      : file_(std::move(file)), base_(std::move(base_dir)), env_(env) {}

  Origin origin(const YAML::Node& at, const std::string& path) const {
    return Origin{origin_at(at.Mark()).where + ": " + path};
  }

  // FILE:LINE:COLUMN (1:1 where the mark is null).
  Origin origin_at(const YAML::Mark& m) const {
    int line = m.line >= 0 ? m.line + 1 : 1;
    int col = m.column >= 0 ? m.column + 1 : 1;
    return Origin{file_ + ":" + std::to_string(line) + ":" + std::to_string(col)};
  }

  [[noreturn]] void fail(const YAML::Node& at, const std::string& path, const std::string& what) const {
    origin(at, path).fail(what);
  }

  // A "\0" escape would be cut off silently where the value becomes a C
  // string (execve's arguments and environment, paths).
  void refuse_nul(const YAML::Node& n, const std::string& path, const std::string& text) const {
    if (text.find('\0') != std::string::npos)
      fail(n, path, "contains a NUL byte (\\0), which no argument, variable or path can hold; remove it");
  }

  // Every value is read through here: `${VAR}` comes from the host.
  std::string scalar(const YAML::Node& n, const std::string& path) const {
    const std::string& v = n.Scalar();
    refuse_nul(n, path, v);
    if (v.find("${") == std::string::npos) return v;
    return expand_host_variables(v, env_, origin(n, path));
  }

  std::string string(const YAML::Node& n, const std::string& path) const {
    if (!n.IsScalar()) fail(n, path, std::string("expected a string, got ") + kind(n));
    return scalar(n, path);
  }

  std::string nonempty_string(const YAML::Node& n, const std::string& path) const {
    std::string s = string(n, path);
    if (s.empty()) fail(n, path, "must not be empty");
    return s;
  }

  bool boolean(const YAML::Node& n, const std::string& path) const {
    if (n.IsScalar()) {
      const std::string v = scalar(n, path);
      if (v == "true" || v == "True" || v == "TRUE") return true;
      if (v == "false" || v == "False" || v == "FALSE") return false;
    }
    fail(n, path, std::string("expected true or false, got ") + describe(n));
  }

  // A whole number in [min, max].
  int64_t integer(const YAML::Node& n, const std::string& path, int64_t min, int64_t max) const {
    if (!n.IsScalar()) fail(n, path, std::string("expected a number, got ") + kind(n));
    const std::string v = scalar(n, path);
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
    const std::string v = scalar(n, path);
    size_t digits = 0;
    while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
    std::string suffix = v.substr(digits);
    int shift = -1;
    if (suffix.empty()) shift = 0;
    if (suffix.size() == 1) {
      static const std::string kUnits = "kmgt";
      size_t unit = kUnits.find(static_cast<char>(std::tolower(static_cast<unsigned char>(suffix[0]))));
      if (unit != std::string::npos) shift = 10 * static_cast<int>(unit + 1);
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

  // The entries of a mapping by key, checked against `allowed`: an unknown or
  // repeated key is an error.
  std::map<std::string, YAML::Node> entries(const YAML::Node& n, const std::string& path,
                                            const std::vector<std::string>& allowed) const {
    if (!n.IsMap()) fail(n, path.empty() ? "(top level)" : path, std::string("expected a mapping, got ") + kind(n));
    std::map<std::string, YAML::Node> out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      YAML::Node key = it->first;
      if (!key.IsScalar()) fail(key, path.empty() ? "(top level)" : path, "keys must be strings");
      std::string k = key.Scalar();
      refuse_nul(key, path.empty() ? "(top level)" : path, k);
      std::string kpath = path.empty() ? k : path + "." + k;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(key, kpath, "unknown key; expected one of " + list);
      }
      if (out.count(k)) fail(key, kpath, "given twice");
      out.emplace(k, it->second);
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

  static const char* kind(const YAML::Node& n) {
    switch (n.Type()) {
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
  const EnvLookup& env_;
};

// The keys of the top-level mapping; a missing key is a null node.
class Keys {
 public:
  Keys(std::map<std::string, YAML::Node> m) : m_(std::move(m)) {}
  const YAML::Node* operator[](const char* key) const {
    auto it = m_.find(key);
    return it == m_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, YAML::Node> m_;
};

std::string file_stem(const std::string& file) {
  std::string stem = std::filesystem::path(file).filename().string();
  for (std::string_view ext : {".yaml", ".yml"}) {
    if (stem.size() > ext.size() && stem.compare(stem.size() - ext.size(), ext.size(), ext) == 0) {
      stem.resize(stem.size() - ext.size());
      break;
    }
  }
  return stem;
}

void read_name(const Reader& r, const YAML::Node& doc, const Keys& k, const std::string& file, SandboxDoc& d) {
  if (const YAML::Node* n = k["name"]) {
    d.name = {r.nonempty_string(*n, "name"), r.origin(*n, "name")};
    try {
      core::validate_container_id(d.name.value);
    } catch (const std::exception& e) {
      r.fail(*n, "name", e.what());
    }
    return;
  }
  d.name = {file_stem(file), r.origin(doc, "name")};
  try {
    core::validate_container_id(d.name.value);
  } catch (const std::exception& e) {
    d.name.at.fail(std::string("the file name is not a valid container id (") + e.what() +
                   "); set `name:` or pass an ID");
  }
}

void read_user(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["user"];
  if (!n) return;
  d.user_given = true;
  d.user_at = r.origin(*n, "user");
  std::string u = r.nonempty_string(*n, "user");
  if (u == "root") return;
  if (u == "keep") {
    d.user = UserMode::keep;
    return;
  }
  d.user = UserMode::ids;
  size_t colon = u.find(':');
  auto number = [&](const std::string& s) -> uint32_t {
    if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), ::isdigit) ||
        std::strtoull(s.c_str(), nullptr, 10) > 0xfffffffeULL)
      d.user_at.fail("invalid value \"" + u + "\"; use root, keep, UID or UID:GID (numbers, as in /etc/passwd)");
    return static_cast<uint32_t>(std::strtoull(s.c_str(), nullptr, 10));
  };
  d.uid = number(u.substr(0, colon));
  d.gid = colon == std::string::npos ? 0 : number(u.substr(colon + 1));
}

void read_rootfs(const Reader& r, const YAML::Node& doc, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["rootfs"];
  d.rootfs_given = n != nullptr;
  d.rootfs = {r.host_path(n ? r.nonempty_string(*n, "rootfs") : std::string("rootfs")),
              r.origin(n ? *n : doc, "rootfs")};
}

// overlay: ephemeral | persistent:DIR | none (default).
void read_overlay(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["overlay"];
  if (!n) return;
  d.overlay_at = r.origin(*n, "overlay");
  std::string v = r.nonempty_string(*n, "overlay");
  if (v == "ephemeral") {
    d.overlay = OverlayMode::ephemeral;
  } else if (v.rfind("persistent:", 0) == 0 && v.size() > 11) {
    d.overlay = OverlayMode::persistent;
    // Checked as create checks the annotation: `spec --from` refuses it too.
    const std::string dir = r.host_path(v.substr(11));
    try {
      d.overlay_dir = rootfs::checked_persistent_dir(dir);
    } catch (const std::exception& e) {
      d.overlay_at.fail(os::quote("persistent:" + dir) + ": " + e.what());
    }
  } else if (v != "none") {
    d.overlay_at.fail("invalid value \"" + v + "\"; use ephemeral, persistent:DIR or none");
  }
}

// image: REF, instead of rootfs:; overlay: ephemeral unless given (none
// is refused: the layers are shared by every container of the image).
void read_image(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["image"];
  if (!n) return;
  if (const YAML::Node* root = k["rootfs"])
    r.fail(*root, "rootfs",
           "`rootfs:` and `image:` can't be used together (the image is the root filesystem); remove one");
  std::string ref = r.nonempty_string(*n, "image");
  // A local layout or archive is relative to the file, as rootfs: is.
  for (std::string_view transport : {"oci:", "oci-archive:", "docker-archive:"}) {
    if (ref.rfind(transport, 0) != 0) continue;
    std::string path = ref.substr(transport.size());
    if (!path.empty() && path[0] != '/') ref = std::string(transport) + r.host_path(path);
  }
  d.image = From<std::string>{ref, r.origin(*n, "image")};
  if (!k["overlay"]) {
    d.overlay = OverlayMode::ephemeral;
    d.overlay_at = d.image->at;
  } else if (d.overlay == OverlayMode::none) {
    d.overlay_at.fail(
        "`none` can't be used with `image:`: the image's layers are shared and read-only; use ephemeral "
        "(the default) or persistent:DIR");
  }
}

// entrypoint: a program and its arguments (a list, or one string), or []
// for none: replaces the image's Entrypoint (podman's --entrypoint).
void read_entrypoint(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["entrypoint"];
  if (!n) return;
  if (!d.image)
    r.fail(*n, "entrypoint", "only with `image:` (it replaces the image's Entrypoint); without one use `command:`");
  std::vector<std::string> args =
      n->IsScalar() ? std::vector<std::string>{r.nonempty_string(*n, "entrypoint")} : r.strings(*n, "entrypoint");
  if (!args.empty() && args[0].empty()) r.fail((*n)[0], "entrypoint[0]", "must not be empty");
  d.entrypoint = From<std::vector<std::string>>{args, r.origin(*n, "entrypoint")};
}

void read_process(const Reader& r, const Keys& k, SandboxDoc& d) {
  if (const YAML::Node* n = k["command"]) {
    d.command = {r.strings(*n, "command"), r.origin(*n, "command")};
    if (d.command->value.empty()) r.fail(*n, "command", "must name a program: [/bin/sh]");
    if (d.command->value[0].empty()) r.fail((*n)[0], "command[0]", "must not be empty");
  }
  if (const YAML::Node* n = k["workdir"]) d.workdir = r.target(*n, "workdir");
  if (const YAML::Node* n = k["tty"]) d.tty = r.boolean(*n, "tty");
  if (const YAML::Node* n = k["readonly"]) d.readonly = r.boolean(*n, "readonly");
  if (const YAML::Node* n = k["init"]) d.init = r.boolean(*n, "init");
}

// env: a mapping NAME: value.
void read_env(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["env"];
  if (!n) return;
  if (!n->IsMap()) r.fail(*n, "env", std::string("expected a mapping NAME: value, got ") + Reader::kind(*n));
  for (auto it = n->begin(); it != n->end(); ++it) {
    YAML::Node key = it->first;
    if (!key.IsScalar()) r.fail(key, "env", "names must be strings");
    std::string name = key.Scalar();
    r.refuse_nul(key, "env", name);
    std::string path = "env." + name;
    if (name.empty() || name.find('=') != std::string::npos)
      r.fail(key, path, "invalid variable name \"" + name + "\"");
    d.env.emplace_back(name, it->second.IsNull() ? std::string() : r.string(it->second, path));
  }
}

void read_host(const Reader& r, const Keys& k, SandboxDoc& d) {
  if (const YAML::Node* n = k["hostname"])
    d.hostname = From<std::string>{r.nonempty_string(*n, "hostname"), r.origin(*n, "hostname")};
  // network: host (default) | none.
  if (const YAML::Node* n = k["network"]) {
    std::string v = r.nonempty_string(*n, "network");
    if (v == "none")
      d.network_none = true;
    else if (v != "host")
      r.fail(*n, "network", "invalid value \"" + v + "\"; use host or none");
  }
}

// share: [ipc, pid, net, uts]: the caller's namespaces of these kinds.
void read_share(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["share"];
  if (!n) return;
  d.share.at = r.origin(*n, "share");
  std::vector<std::string> kinds = r.strings(*n, "share");
  for (size_t i = 0; i < kinds.size(); ++i) {
    std::string path = "share[" + std::to_string(i) + "]";
    bool* flag = kinds[i] == "ipc"   ? &d.share.ipc
                 : kinds[i] == "pid" ? &d.share.pid
                 : kinds[i] == "net" ? &d.share.net
                 : kinds[i] == "uts" ? &d.share.uts
                                     : nullptr;
    if (!flag) r.fail((*n)[i], path, "unknown namespace \"" + kinds[i] + "\"; use ipc, pid, net or uts");
    if (*flag) r.fail((*n)[i], path, "\"" + kinds[i] + "\" given twice");
    *flag = true;
  }
  if (d.share.net && d.network_none)
    r.fail(*n, "share", "net: the host's network conflicts with `network: none`; remove one");
  if (d.share.uts && d.hostname)
    d.hostname->at.fail("can't be set with `share: [uts]` (the sandbox has the host's hostname); remove one");
}

// mounts: binds (relative to the file) and tmpfs.
void read_mounts(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["mounts"];
  if (!n) return;
  if (!n->IsSequence()) r.fail(*n, "mounts", std::string("expected a list, got ") + Reader::kind(*n));
  for (size_t i = 0; i < n->size(); ++i) {
    std::string path = "mounts[" + std::to_string(i) + "]";
    YAML::Node m = (*n)[i];
    auto e = r.entries(m, path, {"type", "source", "target", "readonly", "size"});
    std::string type = e.count("type") ? r.nonempty_string(e["type"], path + ".type") : "bind";
    if (type != "bind" && type != "tmpfs")
      r.fail(e["type"], path + ".type", "invalid value \"" + type + "\"; use bind or tmpfs");
    if (!e.count("target")) r.fail(m, path + ".target", "required");
    SandboxMount mount;
    mount.at = r.origin(m, path);
    mount.tmpfs = type == "tmpfs";
    mount.target = mount_target(r.target(e["target"], path + ".target"), r.origin(e["target"], path + ".target"));
    mount.readonly = e.count("readonly") ? r.boolean(e["readonly"], path + ".readonly") : false;
    if (!mount.tmpfs) {
      if (e.count("size")) r.fail(e["size"], path + ".size", "only for type: tmpfs");
      if (!e.count("source")) r.fail(m, path + ".source", "required for a bind mount");
      mount.source = {r.host_path(r.nonempty_string(e["source"], path + ".source")),
                      r.origin(e["source"], path + ".source")};
    } else {
      if (e.count("source")) r.fail(e["source"], path + ".source", "a tmpfs has no source");
      if (e.count("size")) mount.size = r.size(e["size"], path + ".size");
    }
    d.mounts.push_back(std::move(mount));
  }
}

// "1.5" CPUs as a CFS quota per kSandboxCpuPeriod.
int64_t cpu_quota(const Reader& r, const YAML::Node& v, const std::string& path) {
  if (!v.IsScalar()) r.fail(v, path, std::string("expected a number of CPUs such as 1.5, got ") + Reader::kind(v));
  char* end = nullptr;
  const std::string text = r.scalar(v, path);
  double cpus = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(cpus))
    r.fail(v, path, "expected a number of CPUs such as 1.5, got \"" + text + "\"");
  // Rounded to the nearest microsecond (not std::llround: rrun needs no libm).
  int64_t quota = cpus < 0 || cpus > 1e6 ? 0 : static_cast<int64_t>(cpus * kSandboxCpuPeriod + 0.5);
  if (quota < 1000 || cpus > 1e6) r.fail(v, path, "\"" + text + "\" is out of range (0.01 or more)");
  return quota;
}

// limits: cgroup resources and RLIMIT_NOFILE.
void read_limits(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["limits"];
  if (!n) return;
  // In the file's order, so that the first bad one is reported.
  auto e = r.entries(*n, "limits", {"memory", "pids", "cpus", "nofile"});
  for (auto it = n->begin(); it != n->end(); ++it) {
    std::string key = it->first.Scalar();
    const YAML::Node& v = e[key];
    std::string path = "limits." + key;
    if (key == "memory") d.limits.memory = r.size(v, path);
    if (key == "pids") d.limits.pids = r.integer(v, path, 1, INT32_MAX);
    if (key == "cpus") d.limits.cpu_quota = cpu_quota(r, v, path);
    if (key == "nofile") d.limits.nofile = static_cast<uint64_t>(r.integer(v, path, 1, 1 << 30));
  }
}

// capabilities: {add, drop}: names with or without CAP_, any case, or ALL.
void read_capabilities(const Reader& r, const Keys& k, SandboxDoc& d) {
  const YAML::Node* n = k["capabilities"];
  if (!n) return;
  auto e = r.entries(*n, "capabilities", {"add", "drop"});
  auto names = [&](const char* key, std::vector<From<std::string>>& out) {
    if (!e.count(key)) return;
    std::string path = std::string("capabilities.") + key;
    std::vector<std::string> given = r.strings(e[key], path);
    for (size_t i = 0; i < given.size(); ++i) {
      std::string c = given[i];
      for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (c != "ALL" && c.rfind("CAP_", 0) != 0) c = "CAP_" + c;
      std::string ipath = path + "[" + std::to_string(i) + "]";
      const auto& all = all_capabilities();
      if (c != "ALL" && std::find(all.begin(), all.end(), c) == all.end())
        r.fail(e[key][i], ipath, "unknown capability \"" + given[i] + "\" (see capabilities(7); ALL means every one)");
      out.push_back({c, r.origin(e[key][i], ipath)});
    }
  };
  names("drop", d.cap_drop);
  names("add", d.cap_add);
}

void read_confinement(const Reader& r, const Keys& k, SandboxDoc& d) {
  // seccomp: default | unconfined | PATH.
  if (const YAML::Node* n = k["seccomp"]) {
    std::string v = r.nonempty_string(*n, "seccomp");
    d.seccomp = {v == "default" || v == "unconfined" ? v : r.host_path(v), r.origin(*n, "seccomp")};
  } else {
    d.seccomp = {"default", d.top};
  }
  // devices: absolute host paths.
  if (const YAML::Node* n = k["devices"]) {
    std::vector<std::string> devs = r.strings(*n, "devices");
    for (size_t i = 0; i < devs.size(); ++i) {
      std::string path = "devices[" + std::to_string(i) + "]";
      if (devs[i].empty() || devs[i][0] != '/') r.fail((*n)[i], path, "\"" + devs[i] + "\" must be an absolute path");
      d.devices.push_back({devs[i], r.origin((*n)[i], path)});
    }
  }
}

// The offset of the first byte that is not part of well-formed UTF-8 (no
// overlong forms, surrogates or code points past U+10FFFF); npos if none.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;  // continuation bytes
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
    } else {
      return i;
    }
    if (s.size() - i <= n) return i;
    // The second byte's range rules out overlong forms, surrogates and
    // code points past U+10FFFF.
    unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi) return i;
    for (size_t k = 2; k <= n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

// config.json is UTF-8 (JSON): a byte that is not would be replaced by
// U+FFFD on the way to create, so the file is refused instead.
void require_utf8(std::string_view text, const std::string& file) {
  size_t at = invalid_utf8_at(text);
  // A raw NUL byte is UTF-8 but not YAML text: yaml-cpp reads past it into
  // a value that differs from what the file shows (found by fuzzing).
  if (size_t nul = text.find('\0'); nul < at) {
    size_t nl = nul == 0 ? std::string_view::npos : text.rfind('\n', nul - 1);
    size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n'));
    throw os::Error(file + ":" + std::to_string(line) + ":" +
                    std::to_string(nul - (nl == std::string_view::npos ? 0 : nl + 1) + 1) +
                    ": a NUL byte in the file; a sandbox file is text: remove it");
  }
  if (at == std::string_view::npos) return;
  size_t nl = at == 0 ? std::string_view::npos : text.rfind('\n', at - 1);
  size_t line_start = nl == std::string_view::npos ? 0 : nl + 1;
  size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[at]));
  throw os::Error(file + ":" + std::to_string(line) + ":" + std::to_string(at - line_start + 1) +
                  ": not UTF-8 text (byte " + byte + "): a sandbox file must be UTF-8, as config.json is");
}

// Where a YAML document's first node starts: yaml-cpp's events for one
// document, all ignored but the first node's mark.
class FirstNodeMark final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> mark;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { note(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& m) {
    if (!mark) mark = m;
  }
};

// The file's one YAML document: a second one (after `---`) is an error,
// not ignored.
//
// Not YAML::LoadAll: on a `,` where a block node belongs (a line that
// starts with `,`), yaml-cpp 0.7's parser makes an empty document without
// consuming the token, and LoadAll asks for the next document forever,
// allocating gigabytes in seconds (jbeder/yaml-cpp#1040, fixed after 0.8;
// found by fuzzing: test/fuzz/corpus/sandbox/oom-*.yaml). So the stream's
// first two documents only are parsed (events, no tree): a document that
// starts at a `,` is that error, a second one otherwise the error below;
// then YAML::Load builds the first.
YAML::Node load_one_document(const Reader& r, std::string_view yaml_text) {
  auto invalid = [&](const YAML::Mark& m, const std::string& what) { r.origin_at(m).fail("invalid YAML: " + what); };
  std::string text(yaml_text);
  YAML::Node doc;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    for (int n = 0; n < 2; ++n) {
      FirstNodeMark first;
      if (!parser.HandleNextDocument(first)) break;
      if (!first.mark) continue;
      const YAML::Mark& m = *first.mark;
      if (m.pos >= 0 && static_cast<size_t>(m.pos) < text.size() && text[static_cast<size_t>(m.pos)] == ',')
        invalid(m, "a value cannot start with `,`; quote it");
      if (n == 1)
        r.origin_at(m).fail(
            "a second YAML document (after a `---` line); a sandbox file holds one: remove the `---` and what "
            "follows it, or put each sandbox in a file of its own");
    }
    doc = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {  // its message says "bad file"
    invalid(e.mark, "lists and mappings nested too deeply (the YAML parser's limit); a sandbox needs a few levels");
  } catch (const YAML::Exception& e) {  // ParserException, and the rest that carries a mark
    invalid(e.mark, e.msg);
  }
  if (doc.IsNull()) r.origin_at(YAML::Mark()).fail("the file is empty; a sandbox needs at least `rootfs:` or `image:`");
  return doc;
}

}  // namespace

SandboxDoc parse_sandbox(std::string_view yaml_text, const std::string& file, const EnvLookup& env) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(std::filesystem::path(file), ec);
  if (ec) abs = file;
  std::string base = abs.lexically_normal().parent_path().string();
  Reader r(file, base.empty() ? "/" : base, env);

  require_utf8(yaml_text, file);
  YAML::Node doc = load_one_document(r, yaml_text);
  Keys keys(r.entries(doc, "", top_keys()));

  SandboxDoc d;
  d.file = file;
  d.top = Origin{file + ":1:1"};
  read_name(r, doc, keys, file, d);
  read_user(r, keys, d);
  read_rootfs(r, doc, keys, d);
  read_overlay(r, keys, d);
  read_image(r, keys, d);
  read_entrypoint(r, keys, d);
  read_process(r, keys, d);
  read_env(r, keys, d);
  read_host(r, keys, d);
  read_share(r, keys, d);
  read_mounts(r, keys, d);
  read_limits(r, keys, d);
  read_capabilities(r, keys, d);
  read_confinement(r, keys, d);
  return d;
}

}  // namespace rrun::cli
