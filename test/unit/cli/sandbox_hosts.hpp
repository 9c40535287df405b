#pragma once
// The callers the sandbox tests translate for: fixed host facts, so that
// the golden files don't depend on the machine.

#include <string>

#include <cli/sandbox.hpp>

namespace rrun::test {

inline cli::SandboxHost root_host() {
  cli::SandboxHost h;
  h.user_name = "root";
  h.home = "/root";
  h.group_name = "root";
  h.nofile = 524288;
  h.hosts = "127.0.0.1 localhost\n10.0.0.7 node7\n";
  h.resolv_conf = "nameserver 192.0.2.53\n";
  return h;
}

inline cli::SandboxHost rootless_host(bool with_range = true) {
  cli::SandboxHost h = root_host();
  h.rootless = true;
  h.uid = 1000;
  h.gid = 1001;
  h.user_name = "alice";
  h.home = "/home/alice";
  h.group_name = "staff";
  h.fuse_overlayfs = true;
  if (with_range) {
    h.sub_uids = {{100000, 65536}};
    h.sub_gids = {{200000, 65536}};
  }
  return h;
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

}  // namespace rrun::test
