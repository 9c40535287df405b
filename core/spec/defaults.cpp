// The configs `rrun spec` writes: the content of runc 1.1.5's `runc spec`
// (libcontainer/specconv/example.go) on a cgroup v2 host, and its
// `--rootless` transform (ToRootless).

#include <string>
#include <vector>

#include "parse.hpp"

namespace rrun::spec {

namespace {

Mount make_mount(std::string destination, std::string type, std::string source, std::vector<std::string> options) {
  Mount m;
  m.destination = std::move(destination);
  m.type = std::move(type);
  m.source = std::move(source);
  m.options = std::move(options);
  return m;
}

bool is_id_option(const std::string& option) {
  return option.rfind("uid=", 0) == 0 || option.rfind("gid=", 0) == 0;
}

}  // namespace

Spec default_spec() {
  Spec s;
  s.oci_version = kOciVersion;

  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  Capabilities c;
  c.bounding = caps;
  c.effective = caps;
  c.permitted = caps;
  c.ambient = caps;
  p.capabilities = c;
  p.rlimits = {Rlimit{"RLIMIT_NOFILE", 1024, 1024}};
  p.no_new_privileges = true;
  s.process = std::move(p);

  s.root = Root{"rootfs", true};
  s.hostname = "rrun";

  s.mounts = {
      make_mount("/proc", "proc", "proc", {}),
      make_mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      make_mount("/dev/pts", "devpts", "devpts",
                 {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
      make_mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      make_mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      make_mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      make_mount("/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  };

  Linux l;
  Resources r;
  DeviceCgroupRule deny_all;
  deny_all.allow = false;
  deny_all.access = "rwm";
  r.devices = {deny_all};
  l.resources = std::move(r);
  for (NamespaceType t : {NamespaceType::pid, NamespaceType::network, NamespaceType::ipc, NamespaceType::uts,
                          NamespaceType::mount, NamespaceType::cgroup})
    l.namespaces.push_back(Namespace{t, ""});
  l.masked_paths = {"/proc/acpi",          "/proc/asound",     "/proc/kcore",       "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                    "/sys/firmware",       "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  s.linux = std::move(l);
  return s;
}

Spec default_rootless_spec(const RootlessIds& ids) {
  Spec s = default_spec();
  Linux& l = *s.linux;

  std::vector<Namespace> namespaces;
  for (const Namespace& ns : l.namespaces)
    if (ns.type != NamespaceType::network && ns.type != NamespaceType::user) namespaces.push_back(ns);
  namespaces.push_back(Namespace{NamespaceType::user, ""});
  l.namespaces = std::move(namespaces);

  l.uid_mappings = {IdMapping{0, ids.uid, 1}};
  if (ids.sub_uid) l.uid_mappings.push_back(*ids.sub_uid);
  l.gid_mappings = {IdMapping{0, ids.gid, 1}};
  if (ids.sub_gid) l.gid_mappings.push_back(*ids.sub_gid);

  std::vector<Mount> mounts;
  for (Mount& m : s.mounts) {
    if (m.destination == "/sys" || m.destination == "/sys/") {
      mounts.push_back(make_mount("/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}));
      continue;
    }
    std::erase_if(m.options, is_id_option);
    mounts.push_back(std::move(m));
  }
  s.mounts = std::move(mounts);

  l.resources.reset();
  return s;
}

}  // namespace rrun::spec
