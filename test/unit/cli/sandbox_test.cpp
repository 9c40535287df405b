// The YAML sandbox translation: golden config.json files for root and
// rootless callers, and the one-line errors (FILE:LINE:COLUMN: KEY: what).
// RRUN_UPDATE_GOLDEN=1 rewrites the golden files (review the diff!).

#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string>

#include <cli/sandbox.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/spec/parse.hpp>

#include "../temp_dir.hpp"
#include "sandbox_hosts.hpp"

using namespace rrun;
using rrun::test::replace_all;
using rrun::test::root_host;
using rrun::test::rootless_host;

namespace {

const std::string kData = std::string(RRUN_TEST_DATA) + "/sandbox";

// A caller whose first subordinate ids are this test's own ids, which own
// its temp dirs: a rootfs there has mmdebstrap --mode=unshare's layout.
cli::SandboxHost first_subids_host() {
  cli::SandboxHost h = rootless_host();
  h.uid = ::geteuid() + 1;
  h.gid = ::getegid() + 1;
  h.sub_uids = {{::geteuid(), 65536}};
  h.sub_gids = {{::getegid(), 1000}};
  return h;
}

// The config.json the sandbox translates to, with the data directory shown
// as @DATA@ so that the golden files don't depend on the checkout's path.
std::string translated(const std::string& yaml, const cli::SandboxHost& host) {
  std::string file = kData + "/" + yaml;
  cli::Sandbox sb = cli::load_sandbox(file, host);
  return replace_all(spec::serialize_spec(sb.spec, true), kData, "@DATA@") + "\n";
}

void check_golden(const std::string& yaml, const cli::SandboxHost& host, const std::string& golden) {
  std::string got = translated(yaml, host);
  std::string path = kData + "/" + golden;
  if (std::getenv("RRUN_UPDATE_GOLDEN")) os::write_file_atomic(path, got);
  std::string want = os::read_file(path);
  BOOST_TEST(got == want, yaml << " -> " << golden << " differs; got:\n" << got);
  // What rrun run -f hands to create must parse back to the same spec.
  BOOST_TEST(spec::serialize_spec(spec::parse_spec(got), true) + "\n" == got);
}

std::string error_of(const std::string& yaml, const cli::SandboxHost& host = root_host(), const std::string& file = "",
                     const cli::SandboxOverrides& overrides = {}) {
  try {
    cli::translate_sandbox(yaml, file.empty() ? kData + "/t.yaml" : file, host, overrides);
  } catch (const os::Error& e) {
    return replace_all(e.what(), kData, "@DATA@");
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_sandbox)

BOOST_AUTO_TEST_CASE(golden_minimal) {
  check_golden("minimal.yaml", root_host(), "minimal.root.json");
  check_golden("minimal.yaml", rootless_host(), "minimal.rootless.json");
  check_golden("minimal.yaml", rootless_host(false), "minimal.rootless-nosub.json");
}

BOOST_AUTO_TEST_CASE(golden_full) {
  check_golden("full.yaml", root_host(), "full.root.json");
  check_golden("full.yaml", rootless_host(), "full.rootless.json");
}

BOOST_AUTO_TEST_CASE(golden_keep_and_profile) {
  check_golden("keep.yaml", rootless_host(), "keep.rootless.json");
  check_golden("keep.yaml", rootless_host(false), "keep.rootless-nosub.json");
  check_golden("keep.yaml", root_host(), "keep.root.json");
  check_golden("profile.yaml", rootless_host(), "profile.rootless.json");
}

BOOST_AUTO_TEST_CASE(names_and_defaults) {
  cli::Sandbox sb = cli::load_sandbox(kData + "/minimal.yaml", root_host());
  BOOST_TEST(sb.name == "minimal");
  BOOST_TEST(sb.spec.hostname == "minimal");
  BOOST_TEST(sb.spec.root->path == kData + "/rootfs");
  BOOST_TEST(!sb.spec.root->readonly);
  BOOST_TEST(sb.spec.process->args == std::vector<std::string>{"/bin/sh"});
  BOOST_TEST(!sb.spec.process->terminal);
  // overlay none, network host; rrun's init by default
  BOOST_TEST((sb.spec.annotations == std::map<std::string, std::string>{{"rrun.init", "true"}}));
  // Podman's default capabilities (apt, dpkg and compilers need them), not runc's.
  const auto& caps = sb.spec.process->capabilities->bounding;
  BOOST_TEST(caps.size() == 11u);
  for (const char* c : {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_CHROOT", "CAP_KILL"})
    BOOST_TEST((std::find(caps.begin(), caps.end(), c) != caps.end()), c);
  BOOST_TEST((std::find(caps.begin(), caps.end(), "CAP_AUDIT_WRITE") == caps.end()));
  BOOST_TEST(!sb.spec.linux->has_namespace(spec::NamespaceType::network));
  BOOST_TEST(sb.spec.linux->seccomp.has_value());
  BOOST_TEST(cli::load_sandbox(kData + "/full.yaml", root_host()).name == "dev");
  // init: false leaves the command as PID 1.
  cli::Sandbox plain = cli::translate_sandbox("rootfs: rootfs\ninit: false\n", kData + "/t.yaml", root_host());
  BOOST_TEST(plain.spec.annotations.empty());
}

BOOST_AUTO_TEST_CASE(keep_id_mappings) {
  // Caller 1000 keeps its id; 0..999 and 1001..65536 go onto the range.
  cli::Sandbox sb = cli::load_sandbox(kData + "/keep.yaml", rootless_host());
  const auto& l = *sb.spec.linux;
  std::vector<spec::IdMapping> uids{{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101000, 64536}};
  std::vector<spec::IdMapping> gids{{0, 200000, 1001}, {1001, 1001, 1}, {1002, 201001, 64535}};
  BOOST_TEST((l.uid_mappings == uids));
  BOOST_TEST((l.gid_mappings == gids));
  BOOST_TEST(sb.spec.process->user.uid == 1000u);
  BOOST_TEST(sb.spec.process->user.gid == 1001u);
}

BOOST_AUTO_TEST_CASE(rootfs_of_the_first_subids_is_roots_inside) {
  // A rootfs owned by the first subordinate ids (mmdebstrap --mode=unshare):
  // container 0.. on the range, the caller after it. The temp dir is owned
  // by this test's ids, which play the ranges' first ids here.
  test::TempDir dir;
  cli::SandboxHost h = first_subids_host();
  std::string yaml = "rootfs: " + dir.path + "\n";
  cli::Sandbox sb = cli::translate_sandbox(yaml, kData + "/t.yaml", h);
  std::vector<spec::IdMapping> uids{{0, ::geteuid(), 65536}, {65536, h.uid, 1}};
  std::vector<spec::IdMapping> gids{{0, ::getegid(), 1000}, {1000, h.gid, 1}};
  BOOST_TEST((sb.spec.linux->uid_mappings == uids));
  BOOST_TEST((sb.spec.linux->gid_mappings == gids));
  BOOST_TEST(sb.spec.process->user.uid == 0u);
  // Owned by anyone else (here: the gid is not the range's): the default.
  h.sub_gids = {{::getegid() + 2, 1000}};
  sb = cli::translate_sandbox(yaml, kData + "/t.yaml", h);
  BOOST_TEST(sb.spec.linux->uid_mappings.front().host_id == h.uid);
  // user: keep keeps its mapping.
  h.sub_gids = {{::getegid(), 1000}};
  sb = cli::translate_sandbox(yaml + "user: keep\n", kData + "/t.yaml", h);
  BOOST_TEST(sb.spec.process->user.uid == h.uid);
  BOOST_TEST(!(sb.spec.linux->uid_mappings == uids));
}

// The generated /etc files of `sb` by name, and the destination each is bound on.
std::map<std::string, std::string> files_of(const cli::Sandbox& sb) {
  return std::map<std::string, std::string>(sb.files.begin(), sb.files.end());
}

std::map<std::string, std::string> bound_files(const cli::Sandbox& sb) {
  std::map<std::string, std::string> out;
  for (const auto& m : sb.spec.mounts)
    if (!m.source.empty() && m.source[0] != '/' && m.type == "bind") {
      out[m.destination] = m.source;
      BOOST_TEST((m.options == std::vector<std::string>{"bind", "nosuid", "nodev", "noexec", "ro"}));
    }
  return out;
}

BOOST_AUTO_TEST_CASE(etc_files_network_host_and_none) {
  cli::Sandbox sb = cli::translate_sandbox("rootfs: rootfs\nhostname: box\n", kData + "/t.yaml", root_host());
  auto files = files_of(sb);
  BOOST_TEST(files["etc-hosts"] ==
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tbox\n"
             "# the host's /etc/hosts\n127.0.0.1 localhost\n10.0.0.7 node7\n");
  BOOST_TEST(files["etc-hostname"] == "box\n");
  BOOST_TEST(files["etc-resolv.conf"] == "nameserver 192.0.2.53\n");
  BOOST_TEST((bound_files(sb) == std::map<std::string, std::string>{{"/etc/hosts", "etc-hosts"},
                                                                    {"/etc/hostname", "etc-hostname"},
                                                                    {"/etc/resolv.conf", "etc-resolv.conf"}}));
  cli::Sandbox none = cli::translate_sandbox("rootfs: rootfs\nnetwork: none\n", kData + "/t.yaml", root_host());
  BOOST_TEST(files_of(none)["etc-hosts"] ==
             "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tt\n");
  BOOST_TEST((bound_files(none) ==
              std::map<std::string, std::string>{{"/etc/hosts", "etc-hosts"}, {"/etc/hostname", "etc-hostname"}}));
}

BOOST_AUTO_TEST_CASE(etc_files_give_way_to_the_sandboxs_mounts) {
  cli::Sandbox own = cli::translate_sandbox("rootfs: rootfs\nmounts: [{source: ., target: /etc/hosts}]\n",
                                            kData + "/t.yaml", root_host());
  BOOST_TEST(files_of(own).count("etc-hosts") == 0u);
  BOOST_TEST(bound_files(own).size() == 2u);
  cli::Sandbox etc =
      cli::translate_sandbox("rootfs: rootfs\nmounts: [{source: ., target: /etc}]\n", kData + "/t.yaml", root_host());
  BOOST_TEST(etc.files.empty());
  BOOST_TEST(bound_files(etc).empty());
}

BOOST_AUTO_TEST_CASE(etc_files_follow_links_inside_the_rootfs) {
  test::TempDir dir;
  os::mkdir_p(dir.path + "/rootfs/etc");
  // Dangling: the bind goes where it points (made in the container).
  BOOST_REQUIRE(::symlink("../run/systemd/resolve/stub-resolv.conf", (dir.path + "/rootfs/etc/resolv.conf").c_str()) ==
                0);
  // Out of the rootfs: resolved inside it.
  BOOST_REQUIRE(::symlink("../../../../../../../../../../etc/passwd", (dir.path + "/rootfs/etc/hosts").c_str()) == 0);
  cli::Sandbox sb = cli::translate_sandbox("rootfs: rootfs\n", dir.path + "/t.yaml", root_host());
  BOOST_TEST((bound_files(sb) ==
              std::map<std::string, std::string>{{"/etc/passwd", "etc-hosts"},
                                                 {"/etc/hostname", "etc-hostname"},
                                                 {"/run/systemd/resolve/stub-resolv.conf", "etc-resolv.conf"}}));
}

BOOST_AUTO_TEST_CASE(keep_adds_the_callers_entries) {
  test::TempDir dir;
  os::mkdir_p(dir.path + "/rootfs/etc");
  os::write_file_atomic(dir.path + "/rootfs/etc/passwd",
                        "root:x:0:0::/root:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh");
  os::write_file_atomic(dir.path + "/rootfs/etc/group", "root:x:0:\nstaff:x:1001:\n");
  cli::Sandbox sb = cli::translate_sandbox("rootfs: rootfs\nuser: keep\n", dir.path + "/t.yaml", rootless_host());
  auto files = files_of(sb);
  BOOST_TEST(
      files["etc-passwd"] ==
      "root:x:0:0::/root:/bin/sh\nbob:x:1002:1002::/home/bob:/bin/sh\nalice:x:1000:1001:alice:/home/alice:/bin/sh\n");
  BOOST_TEST(files.count("etc-group") == 0u);  // gid 1001 has an entry
  const auto& env = sb.spec.process->env;
  BOOST_TEST((std::find(env.begin(), env.end(), "HOME=/home/alice") != env.end()));
  BOOST_TEST((std::find(env.begin(), env.end(), "USER=alice") != env.end()));
  // No overlay: the rootfs is shown as the keep mapping shows it.
  BOOST_TEST(sb.spec.annotations.count("rrun.rootfs.overlay.uidmapping") == 0u);

  // A uid the rootfs knows keeps its entry: its name and home.
  cli::SandboxHost bob = rootless_host();
  bob.uid = 1002;
  bob.gid = 1002;
  cli::Sandbox b = cli::translate_sandbox("rootfs: rootfs\nuser: keep\nenv: {USER: x}\n", dir.path + "/t.yaml", bob);
  BOOST_TEST(files_of(b).count("etc-passwd") == 0u);
  BOOST_TEST(files_of(b)["etc-group"] == "root:x:0:\nstaff:x:1001:\nstaff:x:1002:\n");
  const auto& benv = b.spec.process->env;
  BOOST_TEST((std::find(benv.begin(), benv.end(), "HOME=/home/bob") != benv.end()));
  BOOST_TEST((std::find(benv.begin(), benv.end(), "USER=x") != benv.end()));

  // An overlay with fuse-overlayfs: the usual rootless mapping shown.
  cli::Sandbox o =
      cli::translate_sandbox("rootfs: rootfs\nuser: keep\noverlay: ephemeral\n", dir.path + "/t.yaml", rootless_host());
  BOOST_TEST(o.spec.annotations["rrun.rootfs.overlay.uidmapping"] == "0:1000:1:1:100000:65536");
  BOOST_TEST(o.spec.annotations["rrun.rootfs.overlay.gidmapping"] == "0:1001:1:1:200000:65536");
  cli::Sandbox nosub = cli::translate_sandbox("rootfs: rootfs\nuser: keep\noverlay: ephemeral\n", dir.path + "/t.yaml",
                                              rootless_host(false));
  BOOST_TEST(nosub.spec.annotations.count("rrun.rootfs.overlay.uidmapping") == 0u);

  // The rootfs's file is read inside it, a regular file only.
  os::remove_tree(dir.path + "/rootfs/etc/passwd");
  BOOST_REQUIRE(::mkfifo((dir.path + "/rootfs/etc/passwd").c_str(), 0644) == 0);
  std::string e = error_of("rootfs: rootfs\nuser: keep\n", rootless_host(), dir.path + "/t.yaml");
  BOOST_TEST(e == dir.path + "/t.yaml:2:7: user: `" + dir.path +
                      "/rootfs/etc/passwd` (inside the rootfs) is not a regular file; rrun adds your entry to a copy "
                      "of it",
             e);
}

BOOST_AUTO_TEST_CASE(keep_overlay_shows_what_user_root_shows) {
  // A rootfs owned by the first subordinate ids (as in
  // rootfs_of_the_first_subids_is_roots_inside): user: root maps 0.. onto
  // the range, so the keep overlay shows that.
  test::TempDir dir;
  cli::SandboxHost h = first_subids_host();
  cli::Sandbox sb =
      cli::translate_sandbox("rootfs: " + dir.path + "\nuser: keep\noverlay: ephemeral\n", kData + "/t.yaml", h);
  BOOST_TEST(sb.spec.annotations["rrun.rootfs.overlay.uidmapping"] ==
             "0:" + std::to_string(::geteuid()) + ":65536:65536:" + std::to_string(h.uid) + ":1");
  BOOST_TEST(sb.spec.annotations["rrun.rootfs.overlay.gidmapping"] ==
             "0:" + std::to_string(::getegid()) + ":1000:1000:" + std::to_string(h.gid) + ":1");
}

BOOST_AUTO_TEST_CASE(nofile_defaults_to_the_hard_limit) {
  auto nofile = [](const std::string& yaml, const cli::SandboxHost& h) {
    return cli::translate_sandbox("rootfs: rootfs\n" + yaml, kData + "/t.yaml", h).spec.process->rlimits;
  };
  BOOST_TEST((nofile("", root_host()) == std::vector<spec::Rlimit>{{"RLIMIT_NOFILE", 524288, 524288}}));
  BOOST_TEST(
      (nofile("limits: {nofile: 4096}\n", root_host()) == std::vector<spec::Rlimit>{{"RLIMIT_NOFILE", 4096, 4096}}));
  cli::SandboxHost unlimited = root_host();
  unlimited.nofile = UINT64_MAX;
  BOOST_TEST((nofile("", unlimited) == std::vector<spec::Rlimit>{{"RLIMIT_NOFILE", 1048576, 1048576}}));
}

BOOST_AUTO_TEST_CASE(seccomp_default_follows_capabilities) {
  auto names_of = [](const spec::Seccomp& s) {
    std::vector<std::string> all;
    for (const auto& rule : s.syscalls)
      if (rule.action == "SCMP_ACT_ALLOW" && rule.args.empty())
        all.insert(all.end(), rule.names.begin(), rule.names.end());
    return all;
  };
  auto has = [](const std::vector<std::string>& v, const char* n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  auto plain = names_of(cli::default_seccomp_profile({"CAP_KILL"}));
  BOOST_TEST(has(plain, "read"));
  BOOST_TEST(!has(plain, "mount"));
  BOOST_TEST(!has(plain, "chroot"));
  BOOST_TEST(!has(plain, "clone3"));
  auto admin = names_of(cli::default_seccomp_profile({"CAP_SYS_ADMIN", "CAP_SYS_CHROOT"}));
  BOOST_TEST(has(admin, "mount"));
  BOOST_TEST(has(admin, "chroot"));
  BOOST_TEST(has(admin, "clone3"));
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_column_and_key) {
  const std::string f = "@DATA@/t.yaml";
  BOOST_TEST(error_of("rootfs: rootfs\nbogus: 1\n") ==
             f + ":2:1: bogus: unknown key; expected one of name, rootfs, image, overlay, readonly, command, "
                 "entrypoint, workdir, env, user, hostname, tty, mounts, network, limits, capabilities, seccomp, "
                 "devices, init, share");
  BOOST_TEST(error_of("rootfs: rootfs\nmounts:\n  - {type: tmpfs, target: /tmp, size: 12Q}\n") ==
             f + ":3:39: mounts[0].size: invalid size \"12Q\"; use a number of bytes with an optional K, M, G or T "
                 "suffix (64M)");
  BOOST_TEST(error_of("rootfs: rootfs\nmounts:\n  - {source: ., target: work}\n") ==
             f + ":3:25: mounts[0].target: \"work\" must be an absolute path in the container");
  BOOST_TEST(error_of("rootfs: nowhere\n") ==
             f + ":1:9: rootfs: `@DATA@/nowhere` does not exist; make the root filesystem there or set `rootfs:`");
  BOOST_TEST(error_of("readonly: yes\n") == f + ":1:11: readonly: expected true or false, got \"yes\"");
  BOOST_TEST(error_of("command: /bin/sh\n") == f + ":1:10: command: expected a list, got a scalar");
  BOOST_TEST(error_of("limits: {memory: 1X}\n") ==
             f + ":1:18: limits.memory: invalid size \"1X\"; use a number of bytes with an optional K, M, G or T "
                 "suffix (64M)");
  BOOST_TEST(error_of("limits: {pids: -3}\n") == f + ":1:16: limits.pids: -3 is out of range (1 to 2147483647)");
  BOOST_TEST(error_of("limits: {cpus: lots}\n") ==
             f + ":1:16: limits.cpus: expected a number of CPUs such as 1.5, got \"lots\"");
  for (const char* cpus : {"-1", "0.009", "2e6"})
    BOOST_TEST(error_of(std::string("limits: {cpus: ") + cpus + "}\n") ==
               f + ":1:16: limits.cpus: \"" + cpus + "\" is out of range (0.01 or more)");
  BOOST_TEST(error_of("limits: {swap: 1}\n") ==
             f + ":1:10: limits.swap: unknown key; expected one of memory, pids, cpus, nofile");
  BOOST_TEST(error_of("network: bridge\n") == f + ":1:10: network: invalid value \"bridge\"; use host or none");
  BOOST_TEST(error_of("overlay: sometimes\n") ==
             f + ":1:10: overlay: invalid value \"sometimes\"; use ephemeral, persistent:DIR or none");
  BOOST_TEST(
      error_of("capabilities: {add: [CAP_FLY]}\n") ==
      f + ":1:22: capabilities.add[0]: unknown capability \"CAP_FLY\" (see capabilities(7); ALL means every one)");
  BOOST_TEST(error_of("devices: [/etc/passwd]\n") == f + ":1:11: devices[0]: `/etc/passwd` is not a device node");
  BOOST_TEST(
      error_of("seccomp: nothere.json\n") ==
      f + ":1:10: seccomp: `@DATA@/nothere.json` does not exist; use default, unconfined or a seccomp JSON file");
  BOOST_TEST(error_of("user: bob\n") ==
             f + ":1:7: user: invalid value \"bob\"; use root, keep, UID or UID:GID (numbers, as in /etc/passwd)");
  BOOST_TEST(error_of("name: a/b\n").rfind(f + ":1:7: name: ", 0) == 0);
  BOOST_TEST(error_of("init: maybe\n") == f + ":1:7: init: expected true or false, got \"maybe\"");
  BOOST_TEST(error_of("env: [A]\n") == f + ":1:6: env: expected a mapping NAME: value, got a list");
  BOOST_TEST(error_of("rootfs: rootfs\nrootfs: rootfs\n") == f + ":2:1: rootfs: given twice");
  BOOST_TEST(error_of("rootfs: [unclosed\n").rfind(f + ":2:1: invalid YAML: ", 0) == 0);
  BOOST_TEST(error_of("") == f + ":1:1: the file is empty; a sandbox needs at least `rootfs:` or `image:`");
  BOOST_TEST(error_of("- a\n") == f + ":1:1: (top level): expected a mapping, got a list");
  // The default rootfs (./rootfs next to the file) is missing.
  test::TempDir dir;
  BOOST_TEST(error_of("tty: true\n", root_host(), dir.path + "/x.yaml") ==
             dir.path + "/x.yaml:1:1: rootfs: `" + dir.path +
                 "/rootfs` does not exist (the default: `rootfs:` not given); make the root filesystem there or set "
                 "`rootfs:`");
}

// config.json holds only UTF-8: a byte that is not would reach the
// container as U+FFFD, so the sandbox is refused with the place of the byte
// (test/fuzz/corpus/sandbox/crash-not-utf8.yaml, found by fuzzing).
BOOST_AUTO_TEST_CASE(a_file_not_in_utf8_is_an_error) {
  const std::string f = "@DATA@/t.yaml";
  const std::string tail = ": a sandbox file must be UTF-8, as config.json is";
  BOOST_TEST(error_of("rootfs: rootfs\ncommand: [\"cat /proc/\xff" "et\"]\n") ==
             f + ":2:22: not UTF-8 text (byte 0xff)" + tail);
  BOOST_TEST(error_of("\xc0\xafrootfs: rootfs\n") == f + ":1:1: not UTF-8 text (byte 0xc0)" + tail);  // overlong
  BOOST_TEST(error_of("rootfs: rootfs\nhostname: \"\xed\xa0\x80\"\n") ==
             f + ":2:12: not UTF-8 text (byte 0xed)" + tail);  // a surrogate
  BOOST_TEST(error_of("rootfs: rootfs\nhostname: a\xe2\x82") == f + ":2:12: not UTF-8 text (byte 0xe2)" + tail);
  // Well-formed UTF-8 of every length passes.
  BOOST_TEST(error_of("rootfs: rootfs\ninit: false\nenv: {A: \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n") ==
             "(no error)");
}

// What create would refuse, refused by the translation (so by `spec --from`
// too), at the value's line; what YAML hides is an error, not ignored.
BOOST_AUTO_TEST_CASE(errors_of_hostile_files) {
  const std::string f = "@DATA@/t.yaml";
  // yaml-cpp 0.7 allocates without end on these (found by fuzzing): refused first.
  const std::string comma = ": invalid YAML: a value cannot start with `,`; quote it";
  BOOST_TEST(error_of(",\n[") == f + ":1:1" + comma);
  BOOST_TEST(error_of("# c\n\n  ,x\na: {\n") == f + ":3:3" + comma);
  BOOST_TEST(error_of("---\n,[") == f + ":2:1" + comma);
  // Not only first: `,` where the next document would start (jbeder/yaml-cpp#1040;
  // test/fuzz/corpus/sandbox/oom-comma-line.yaml ends a plain scalar that way).
  BOOST_TEST(error_of("rootfs: rootfs\n...\n, x\n") == f + ":3:1" + comma);
  BOOST_TEST(error_of("rootfs: rootfs\n---\n,\n[\n") == f + ":3:1" + comma);
  // Inside a document, yaml-cpp's own error.
  BOOST_TEST(error_of("rootfs: rootfs\n\n, x\n") == f + ":3:1: invalid YAML: end of map not found");
  BOOST_TEST(error_of(std::string("rootfs: rootfs\ncommand: [/bin/s\0x]\n", 35)) ==
             f + ":2:17: a NUL byte in the file; a sandbox file is text: remove it");
  BOOST_TEST(error_of("rootfs: rootfs\n---\nrootfs: other\n") ==
             f + ":3:1: a second YAML document (after a `---` line); a sandbox file holds one: remove the `---` and "
                 "what follows it, or put each sandbox in a file of its own");
  BOOST_TEST(error_of("rootfs: rootfs\n---\n").rfind(f + ":3:1: a second YAML document", 0) == 0);
  BOOST_TEST(error_of("---\nrootfs: rootfs\n...\n") == "(no error)");
  const std::string nul = ": contains a NUL byte (\\0), which no argument, variable or path can hold; remove it";
  BOOST_TEST(error_of("rootfs: rootfs\ncommand: [/bin/sh, \"a\\0b\"]\n") == f + ":2:20: command[1]" + nul);
  BOOST_TEST(error_of("rootfs: rootfs\nenv: {A: \"x\\0y\"}\n") == f + ":2:10: env.A" + nul);
  BOOST_TEST(error_of("rootfs: rootfs\nenv: {\"A\\0B\": x}\n") == f + ":2:7: env" + nul);
  BOOST_TEST(error_of("rootfs: \"root\\0fs\"\n") == f + ":1:9: rootfs" + nul);
  BOOST_TEST(error_of("\"root\\0fs\": x\n") == f + ":1:1: (top level)" + nul);
  BOOST_TEST(error_of("rootfs: rootfs\noverlay: persistent:/\n") ==
             f + ":2:10: overlay: `persistent:/`: `/` cannot hold the upper and work directories");
  BOOST_TEST(error_of("rootfs: rootfs\noverlay: persistent:/a,b\n") ==
             f + ":2:10: overlay: `persistent:/a,b`: the directory must not contain `,` or `:` (they separate the "
                 "overlay's mount options)");
  for (const char* t : {"/", "//", "/x/.."})
    BOOST_TEST(error_of(std::string("rootfs: rootfs\nmounts: [{type: tmpfs, target: \"") + t + "\"}]\n") ==
                   f + ":2:32: mounts[0].target: cannot mount over the container's root `/`",
               t);
  cli::SandboxOverrides o;
  o.volumes = {".:/"};
  BOOST_TEST(error_of("rootfs: rootfs\n", root_host(), "", o) == "-v .:/: cannot mount over the container's root `/`");
  // 100k levels of lists or of mappings: yaml-cpp's depth limit, one line, no crash.
  const std::string deep =
      "invalid YAML: lists and mappings nested too deeply (the YAML parser's limit); a sandbox "
      "needs a few levels";
  const size_t n = 100000;
  std::string seqs = "env: " + std::string(n, '[') + std::string(n, ']') + "\n";
  std::string maps = "env: ";
  for (size_t i = 0; i < n; ++i) maps += "{a: ";
  maps += "1" + std::string(n, '}') + "\n";
  std::string blocks = "env:\n";
  for (size_t i = 0; i < 1000; ++i) blocks += std::string(i + 1, ' ') + "a:\n";
  for (const std::string* text : {&seqs, &maps, &blocks}) {
    std::string e = error_of(*text);
    BOOST_TEST((e.rfind(f + ":", 0) == 0 && e.find(deep) != std::string::npos), e.substr(0, 200));
  }
}

BOOST_AUTO_TEST_CASE(rootless_unmapped_user_is_an_error) {
  BOOST_TEST(error_of("user: 1000\n", rootless_host()) == "(no error)");
  std::string e = error_of("user: 1000\n", rootless_host(false));
  BOOST_TEST(e.rfind("@DATA@/t.yaml:1:7: user: uid 1000 is not mapped in the sandbox's user namespace", 0) == 0, e);
  BOOST_TEST(e.find("/etc/subuid") != std::string::npos, e);
  BOOST_TEST(e.find("user: keep") != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(seccomp_profile_file_is_validated) {
  test::TempDir dir;
  os::mkdir_p(dir.path + "/rootfs");
  os::write_file_atomic(dir.path + "/bad.json", R"({"defaultAction": "SCMP_ACT_MAYBE"})");
  std::string e = error_of("seccomp: bad.json\n", root_host(), dir.path + "/s.yaml");
  BOOST_TEST(e.rfind(dir.path + "/s.yaml:1:10: seccomp: `" + dir.path + "/bad.json`: ", 0) == 0, e);
  BOOST_TEST(e.find("SCMP_ACT_MAYBE") != std::string::npos, e);
  os::write_file_atomic(dir.path + "/worse.json", R"({"syscalls": 3})");
  e = error_of("seccomp: worse.json\n", root_host(), dir.path + "/s.yaml");
  BOOST_TEST(e.find("seccomp.") != std::string::npos, e);
}

// ---------------------------------------------------------------- per-task values

namespace {

// A host environment of its own (the test's real one is left alone).
cli::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const cli::EnvLookup kEnv = env_of({{"SLURM_PROCID", "3"}, {"EMPTY", ""}, {"HOME", "/home/alice"}, {"N", "7"}});

cli::SandboxHost host_with_env(cli::EnvLookup env = kEnv) {
  cli::SandboxHost h;
  h.env = std::move(env);
  return h;
}

std::string expand(const std::string& text) {
  try {
    return cli::expand_host_variables(text, kEnv, cli::Origin{"F:1:1: k"});
  } catch (const os::Error& e) {
    return std::string("error: ") + e.what();
  }
}

std::vector<std::string> env_of_spec(const cli::Sandbox& sb) {
  return sb.spec.process->env;
}

cli::Sandbox with(const std::string& yaml, const cli::SandboxOverrides& o,
                  const cli::SandboxHost& h = host_with_env()) {
  return cli::translate_sandbox(yaml, kData + "/t.yaml", h, o);
}

}  // namespace

BOOST_AUTO_TEST_CASE(expansion_of_host_variables) {
  BOOST_TEST(expand("task-${SLURM_PROCID}") == "task-3");
  BOOST_TEST(expand("${SLURM_PROCID}${N}") == "37");
  BOOST_TEST(expand("${UNSET:-0}") == "0");
  BOOST_TEST(expand("${EMPTY:-fallback}") == "fallback");  // `:-` as in sh: unset or empty
  BOOST_TEST(expand("${SLURM_PROCID:-0}") == "3");
  BOOST_TEST(expand("${UNSET:-}") == "");
  BOOST_TEST(expand("${UNSET:-${HOME}/data}") == "/home/alice/data");  // the default is expanded too
  BOOST_TEST(expand("${UNSET:-a:b-c}") == "a:b-c");
  // Only `${` is special: the shell in the container still gets its `$`s.
  BOOST_TEST(expand("echo $HOME $$ $1 a$ $") == "echo $HOME $$ $1 a$ $");
  BOOST_TEST(expand("echo $${HOME}") == "echo ${HOME}");
  BOOST_TEST(expand("no dollar") == "no dollar");
  BOOST_TEST(expand("${EMPTY}") == "");
  BOOST_TEST(
      expand("${SLURM_NODEID}") ==
      "error: F:1:1: k: ${SLURM_NODEID} is not set in the environment; set it or write ${SLURM_NODEID:-default}");
  BOOST_TEST(expand("${1X}") ==
             "error: F:1:1: k: invalid ${1X}; use ${NAME} or ${NAME:-default} (and $${ for a literal ${)");
  BOOST_TEST(expand("${A:?no}") ==
             "error: F:1:1: k: invalid ${A:?no}; use ${NAME} or ${NAME:-default} (and $${ for a literal ${)");
  BOOST_TEST(expand("${}").rfind("error: F:1:1: k: invalid ${}", 0) == 0);
  BOOST_TEST(expand("x ${HOME") ==
             "error: F:1:1: k: unterminated ${ in \"x ${HOME\"; close it with } (or write $${ for a literal ${)");
}

BOOST_AUTO_TEST_CASE(expansion_in_every_value_of_the_file) {
  cli::SandboxHost h = host_with_env();
  cli::Sandbox sb = cli::translate_sandbox(
      "name: job-${SLURM_PROCID}\nrootfs: rootfs\nenv: {TASK: \"${SLURM_PROCID}\", LIT: \"$${X} $$\"}\n"
      "limits: {pids: \"${N}\", memory: \"${MEM:-64M}\"}\ntty: ${TTY:-false}\n"
      "command: [/bin/echo, \"${HOME}\"]\n",
      kData + "/t.yaml", h);
  BOOST_TEST(sb.name == "job-3");
  auto env = env_of_spec(sb);
  BOOST_TEST((std::find(env.begin(), env.end(), "TASK=3") != env.end()));
  BOOST_TEST((std::find(env.begin(), env.end(), "LIT=${X} $$") != env.end()));
  BOOST_TEST(*sb.spec.linux->resources->pids->limit == 7);
  BOOST_TEST(*sb.spec.linux->resources->memory->limit == 64 << 20);
  BOOST_TEST(sb.spec.process->args == (std::vector<std::string>{"/bin/echo", "/home/alice"}));
  // The undefined variable: one line naming the file, the position and the key.
  BOOST_TEST(error_of("rootfs: rootfs\nenv:\n  TASK: ${SLURM_PROCID}\n", host_with_env(env_of({}))) ==
             "@DATA@/t.yaml:3:9: env.TASK: ${SLURM_PROCID} is not set in the environment; set it or write "
             "${SLURM_PROCID:-default}");
  BOOST_TEST(error_of("rootfs: ${ROOT}\n", host_with_env(env_of({}))) ==
             "@DATA@/t.yaml:1:9: rootfs: ${ROOT} is not set in the environment; set it or write ${ROOT:-default}");
  // Keys are names, not values: left alone.
  BOOST_TEST(error_of("rootfs: rootfs\nenv: {\"${X}\": 1}\n", host_with_env(env_of({}))) == "(no error)");
}

BOOST_AUTO_TEST_CASE(overrides_command_env_tty) {
  test::TempDir dir;
  os::write_file_atomic(dir.path + "/task.env",
                        "# the job's settings\n\nFROM_FILE=a=b\n  INDENTED=\"kept quoted\"\nSLURM_PROCID\nNOT_ON_HOST\n"
                        "TASK=from-file\n");
  cli::SandboxOverrides o;
  o.command = std::vector<std::string>{"./task", "3"};
  o.env_files = {dir.path + "/task.env"};
  o.env = {"TASK=from-e", "HOME", "UNSET_TOO", "EMPTY_VALUE="};
  o.tty = true;
  cli::Sandbox sb = with("rootfs: rootfs\ncommand: [/bin/false]\nenv: {TASK: from-yaml, KEEP: yes}\n", o);
  BOOST_TEST(sb.spec.process->args == (std::vector<std::string>{"./task", "3"}));
  BOOST_TEST(sb.spec.process->terminal);
  std::vector<std::string> want{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "TERM=xterm",
                                "TASK=from-e",
                                "KEEP=yes",
                                "FROM_FILE=a=b",
                                "INDENTED=\"kept quoted\"",
                                "SLURM_PROCID=3",
                                "HOME=/home/alice",
                                "EMPTY_VALUE="};
  BOOST_TEST(env_of_spec(sb) == want, "got " << env_of_spec(sb).size() << " entries");
  // An empty command after `--` keeps the file's; --no-tty turns tty: true off.
  cli::SandboxOverrides off;
  off.command = std::vector<std::string>{};
  off.tty = false;
  cli::Sandbox plain = with("rootfs: rootfs\ntty: true\ncommand: [/bin/true]\n", off);
  BOOST_TEST(!plain.spec.process->terminal);
  BOOST_TEST(plain.spec.process->args == std::vector<std::string>{"/bin/true"});

  cli::SandboxOverrides bad;
  bad.env = {"=x"};
  BOOST_TEST(error_of("rootfs: rootfs\n", host_with_env(), "", bad) ==
             "-e =x: invalid variable name \"\"; use NAME=VALUE or NAME");
  bad.env.clear();
  os::write_file_atomic(dir.path + "/bad.env", "OK=1\nBAD NAME=2\n");
  bad.env_files = {dir.path + "/bad.env"};
  BOOST_TEST(error_of("rootfs: rootfs\n", host_with_env(), "", bad) ==
             "--env-file " + dir.path + "/bad.env:2: invalid variable name \"BAD NAME\"; use NAME=VALUE or NAME");
  bad.env_files = {dir.path + "/none.env"};
  BOOST_TEST(error_of("rootfs: rootfs\n", host_with_env(), "", bad) ==
             "--env-file " + dir.path + "/none.env: no such file");
  cli::SandboxOverrides empty_prog;
  empty_prog.command = std::vector<std::string>{""};
  BOOST_TEST(error_of("rootfs: rootfs\n", host_with_env(), "", empty_prog) ==
             "the command after `--`: the program must not be empty");
}

BOOST_AUTO_TEST_CASE(overrides_volumes) {
  cli::SandboxOverrides o;
  o.volumes = {kData + ":/data:ro", kData + "/rootfs/:/scratch", kData + ":/rw:rw"};
  cli::Sandbox sb = with("rootfs: rootfs\nmounts: [{type: tmpfs, target: /tmp}]\n", o);
  auto& m = sb.spec.mounts;
  auto find = [&](const std::string& dst) {
    auto it = std::find_if(m.begin(), m.end(), [&](const spec::Mount& x) { return x.destination == dst; });
    BOOST_REQUIRE(it != m.end());
    return it - m.begin();
  };
  // After the file's mounts, in order.
  BOOST_TEST(find("/tmp") < find("/data"));
  BOOST_TEST(find("/data") < find("/scratch"));
  BOOST_TEST(m[find("/data")].source == kData);
  BOOST_TEST(m[find("/data")].options == (std::vector<std::string>{"rbind", "nosuid", "nodev", "ro"}));
  BOOST_TEST(m[find("/scratch")].source == kData + "/rootfs");
  BOOST_TEST(m[find("/scratch")].options.back() == "rw");
  BOOST_TEST(m[find("/rw")].options.back() == "rw");

  auto err = [&](const std::string& v) {
    cli::SandboxOverrides b;
    b.volumes = {v};
    return error_of("rootfs: rootfs\n", host_with_env(), "", b);
  };
  BOOST_TEST(err("/nowhere/at/all:/x") == "-v /nowhere/at/all:/x: `/nowhere/at/all` does not exist");
  BOOST_TEST(err(kData + ":rel") == "-v @DATA@:rel: \"rel\" must be an absolute path in the container");
  BOOST_TEST(err(kData) == "-v @DATA@: expected SRC:DST[:ro|rw] (a host path and a path in the container)");
  BOOST_TEST(err(kData + ":/x:z") == "-v @DATA@:/x:z: unknown option \"z\"; use ro or rw");
}

BOOST_AUTO_TEST_CASE(share_host_namespaces) {
  auto types = [](const cli::Sandbox& sb) {
    std::vector<spec::NamespaceType> t;
    for (const auto& ns : sb.spec.linux->namespaces) t.push_back(ns.type);
    return t;
  };
  auto has = [&](const cli::Sandbox& sb, spec::NamespaceType t) {
    auto v = types(sb);
    return std::find(v.begin(), v.end(), t) != v.end();
  };
  for (const cli::SandboxHost& h : {root_host(), rootless_host()}) {
    cli::Sandbox sb = cli::translate_sandbox("rootfs: rootfs\nshare: [ipc, pid, net, uts]\n", kData + "/t.yaml", h);
    BOOST_TEST(!has(sb, spec::NamespaceType::ipc));
    BOOST_TEST(!has(sb, spec::NamespaceType::pid));
    BOOST_TEST(!has(sb, spec::NamespaceType::network));
    BOOST_TEST(!has(sb, spec::NamespaceType::uts));
    BOOST_TEST(has(sb, spec::NamespaceType::mount));
    BOOST_TEST(has(sb, spec::NamespaceType::user) == h.rootless);
    BOOST_TEST(sb.spec.hostname.empty());
    auto shm = std::find_if(sb.spec.mounts.begin(), sb.spec.mounts.end(),
                            [](const spec::Mount& m) { return m.destination == "/dev/shm"; });
    BOOST_REQUIRE(shm != sb.spec.mounts.end());
    BOOST_TEST(shm->type == "bind");
    BOOST_TEST(shm->source == "/dev/shm");
  }
  cli::Sandbox pid_only = cli::translate_sandbox("rootfs: rootfs\nshare: [pid]\n", kData + "/t.yaml", root_host());
  BOOST_TEST(!has(pid_only, spec::NamespaceType::pid));
  BOOST_TEST(has(pid_only, spec::NamespaceType::ipc));
  BOOST_TEST(has(pid_only, spec::NamespaceType::uts));
  BOOST_TEST(pid_only.spec.hostname == "t");

  const std::string f = "@DATA@/t.yaml";
  BOOST_TEST(error_of("share: [ipc, mnt]\n") ==
             f + ":1:14: share[1]: unknown namespace \"mnt\"; use ipc, pid, net or uts");
  BOOST_TEST(error_of("share: [pid, pid]\n") == f + ":1:14: share[1]: \"pid\" given twice");
  BOOST_TEST(error_of("share: pid\n") == f + ":1:8: share: expected a list, got a scalar");
  BOOST_TEST(error_of("network: none\nshare: [net]\n") ==
             f + ":2:8: share: net: the host's network conflicts with `network: none`; remove one");
  BOOST_TEST(error_of("hostname: h\nshare: [uts]\n") ==
             f + ":1:11: hostname: can't be set with `share: [uts]` (the sandbox has the host's hostname); remove one");
}

BOOST_AUTO_TEST_SUITE_END()
