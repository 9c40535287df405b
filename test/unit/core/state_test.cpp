#include <boost/test/unit_test.hpp>

#include "../temp_dir.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <rrun/core/state.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/proc.hpp>

using namespace rrun;

namespace {

using rrun::test::TempDir;

core::State sample_state(const std::string& id) {
  core::State s;
  s.oci_version = "1.3.0";
  s.id = id;
  s.status = core::Status::created;
  s.pid = 4242;
  s.pid_start_time = 123456789;
  s.bundle = "/bundles/" + id;
  s.rootfs = "/bundles/" + id + "/rootfs";
  s.created = "2026-11-27T23:47:30.123456789Z";
  s.owner = "alice";
  s.annotations = {{"org.example.key", "value \"quoted\""}, {"b", ""}};
  s.rootless = true;
  s.cgroup_path = "/user.slice/rrun-" + id;
  s.systemd_cgroup = true;
  return s;
}

std::string expect_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  BOOST_FAIL("expected an exception");
  return "";
}

// A child that has exited but is not reaped yet.
pid_t make_zombie() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  // Wait until it is a zombie without reaping it.
  for (int k = 0; k < 1000; ++k) {
    auto st = os::process_state(pid);
    if (st && *st == 'Z') break;
    ::usleep(1000);
  }
  return pid;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state)

BOOST_AUTO_TEST_CASE(status_names) {
  for (auto s : {core::Status::creating, core::Status::created, core::Status::running, core::Status::stopped,
                 core::Status::paused})
    BOOST_CHECK(core::parse_status(core::status_name(s)) == s);
  BOOST_TEST(std::string(core::status_name(core::Status::paused)) == "paused");
  BOOST_CHECK_THROW(core::parse_status("zombie"), os::Error);
}

BOOST_AUTO_TEST_CASE(json_round_trip) {
  core::State s = sample_state("c1");
  core::State back = core::state_from_json(core::state_to_json(s));
  BOOST_CHECK(back == s);
  BOOST_CHECK_THROW(core::state_from_json("{\"id\": 3}"), os::Error);
  BOOST_CHECK_THROW(core::state_from_json("[1]"), os::Error);
  BOOST_CHECK_THROW(core::state_from_json("{\"id\": \"x\""), os::Error);

  // A foreground run's marks: written only when set, so a state file of an
  // older rrun (without them) loads as an ordinary container.
  BOOST_TEST(core::state_to_json(s).find("foreground") == std::string::npos);
  BOOST_TEST(core::state_to_json(s).find("keep") == std::string::npos);
  BOOST_TEST(core::state_to_json(s).find("ptraceExec") == std::string::npos);
  s.foreground = true;
  s.keep = true;
  s.init_runs_binary = true;
  s.ptrace_exec = true;
  s.poststart_hooks = false;
  s.poststop_hooks = false;
  back = core::state_from_json(core::state_to_json(s));
  BOOST_CHECK(back.foreground && back.keep && back.init_runs_binary && back.ptrace_exec);
  BOOST_CHECK(!back.poststart_hooks && !back.poststop_hooks);
  BOOST_CHECK(back == s);
  // Without the hook marks (an older rrun), start and delete read the config.
  back = core::state_from_json(R"({"id": "old", "status": "running", "pid": 7, "creatorPid": 1})");
  BOOST_CHECK(!back.foreground && !back.keep && !back.init_runs_binary && !back.ptrace_exec);
  BOOST_CHECK(back.poststart_hooks && back.poststop_hooks);
}

// Only a foreground run's container whose runner is gone is abandoned.
BOOST_AUTO_TEST_CASE(abandoned_by_its_runner) {
  core::State s = core::creating_state("c");
  BOOST_CHECK(!core::abandoned_by_runner(s));
  s.foreground = true;
  BOOST_CHECK(!core::abandoned_by_runner(s));  // we, the runner, live
  pid_t zombie = make_zombie();                // killed, not reaped yet: gone
  s.creator_pid = zombie;
  s.creator_start_time = os::process_start_time(zombie).value_or(0);
  BOOST_CHECK(core::abandoned_by_runner(s));
  ::waitpid(zombie, nullptr, 0);
  BOOST_CHECK(core::abandoned_by_runner(s));
  s.creator_pid = ::getpid();  // our pid, another start time: reused
  BOOST_CHECK(core::abandoned_by_runner(s));
  s.foreground = false;  // create, run -d: nobody to die with
  BOOST_CHECK(!core::abandoned_by_runner(s));
}

BOOST_AUTO_TEST_CASE(oci_state_shape_like_runc) {
  core::State s = sample_state("c1");
  std::string text = core::oci_state_json(s, core::Status::running);
  BOOST_TEST(text.back() == '\n');
  BOOST_TEST(text.find("\n  \"id\": \"c1\"") != std::string::npos);  // 2-space indent
  auto j = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (auto& [k, v] : j.items()) keys.push_back(k);
  std::vector<std::string> want{"ociVersion", "id",      "pid",         "status", "bundle",
                                "rootfs",     "created", "annotations", "owner"};
  BOOST_TEST(keys == want, boost::test_tools::per_element());
  BOOST_TEST(j["pid"] == 4242);
  BOOST_TEST(j["status"] == "running");
  BOOST_TEST(j["annotations"]["org.example.key"] == "value \"quoted\"");

  // Stopped: pid 0. No annotations: the member is left out.
  s.annotations.clear();
  j = nlohmann::json::parse(core::oci_state_json(s, core::Status::stopped));
  BOOST_TEST(j["pid"] == 0);
  BOOST_TEST(j["status"] == "stopped");
  BOOST_TEST(!j.contains("annotations"));
  BOOST_TEST(core::oci_state_json(s, core::Status::stopped, -1).find('\n') == std::string::npos);

  auto hook = nlohmann::json::parse(core::hook_state_json(sample_state("c1"), core::Status::created));
  BOOST_TEST(hook["pid"] == 4242);
  BOOST_TEST(hook["bundle"] == "/bundles/c1");
}

BOOST_AUTO_TEST_CASE(rfc3339_time) {
  std::string t = core::now_rfc3339();
  BOOST_TEST_INFO("time " << t);
  // YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ (std::regex trips GCC 12 warnings under ASan)
  const std::string shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  BOOST_REQUIRE(t.size() == shape.size());
  for (size_t k = 0; k < t.size(); ++k) BOOST_CHECK(shape[k] == 'd' ? std::isdigit(t[k]) != 0 : t[k] == shape[k]);
}

// rrun's own conversion against the C library's, across leap years,
// century rules and the ends of days, months and years.
BOOST_AUTO_TEST_CASE(rfc3339_matches_gmtime) {
  const time_t samples[] = {0,          59,         86399,      86400,      951782399,  951782400,  951868800,
                            978307199,  1709164800, 1709251199, 4107542400, 4102444799, 1764806400, 2147483647,
                            253402300799};
  for (time_t t : samples) {
    struct tm tm;
    BOOST_REQUIRE(::gmtime_r(&t, &tm));
    char want[64];
    size_t n = ::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(want + n, sizeof want - n, ".%09ldZ", 123456789L);
    BOOST_TEST(core::format_rfc3339({t, 123456789}) == std::string(want));
  }
  for (time_t t = 0; t < 4102444800; t += 86400 * 7 + 3661) {
    struct tm tm;
    ::gmtime_r(&t, &tm);
    char want[64];
    size_t n = ::strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(want + n, sizeof want - n, ".%09dZ", 0);
    if (core::format_rfc3339({t, 0}) != want) BOOST_FAIL("at " << t << ": " << core::format_rfc3339({t, 0}) << " != " << want);
  }
}

// The passwd line NSS's "files" service would answer with, and when NSS
// must be asked instead.
BOOST_AUTO_TEST_CASE(passwd_files_name_reads_only_what_files_would_answer) {
  const std::string passwd =
      "# comment:x:1001:1001::/:/bin/sh\n"
      "root:x:0:0:root:/root:/bin/bash\n"
      "\n"
      "+nis::::::\n"
      "odd:x:10O1:1::/:/bin/sh\n"
      "alice:x:1001:1001:Alice:/home/alice:/bin/bash\n"
      "alias:x:1001:1001::/home/alias:/bin/sh\n"
      "bob:x:1002:1002::/home/bob:/bin/sh";
  const std::string debian = "# /etc/nsswitch.conf\n\npasswd:         files systemd\ngroup:          files systemd\n";
  BOOST_TEST(core::passwd_files_name(debian, passwd, 1001).value_or("-") == "alice");  // the first line of the uid
  BOOST_TEST(core::passwd_files_name(debian, passwd, 1002).value_or("-") == "bob");    // a last line without \n
  BOOST_TEST(core::passwd_files_name(debian, passwd, 0).value_or("-") == "root");
  BOOST_CHECK(!core::passwd_files_name(debian, passwd, 4242));  // not in the file: NSS (a directory service)
  BOOST_CHECK(!core::passwd_files_name(debian, passwd, 10));    // "10O1" is no number
  BOOST_TEST(core::passwd_files_name("passwd:files", passwd, 1001).value_or("-") == "alice");
  BOOST_TEST(core::passwd_files_name("  passwd :\tfiles[NOTFOUND=return] ldap\n", passwd, 1001).value_or("-") ==
             "alice");
  // Another service first, "compat", no passwd line, or one commented out: NSS.
  BOOST_CHECK(!core::passwd_files_name("passwd: sss files\n", passwd, 1001));
  BOOST_CHECK(!core::passwd_files_name("passwd: compat\n", passwd, 1001));
  BOOST_CHECK(!core::passwd_files_name("group: files\n", passwd, 1001));
  BOOST_CHECK(!core::passwd_files_name("# passwd: files\npasswd: ldap files\n", passwd, 1001));
  BOOST_CHECK(!core::passwd_files_name("passwdx: files\n", passwd, 1001));
  // This machine: the same answer as getpwuid_r for every local user.
  for (uid_t uid : {0u, 1u, 65534u, static_cast<unsigned>(::getuid())}) {
    struct passwd pw;
    struct passwd* res = nullptr;
    char buf[4096];
    std::string want = ::getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res ? pw.pw_name : "";
    BOOST_TEST(core::user_name(uid) == want);
  }
}

BOOST_AUTO_TEST_CASE(save_load_round_trip) {
  TempDir tmp;
  core::StateStore store(tmp.path + "/");
  BOOST_TEST(store.root() == tmp.path);
  BOOST_TEST(store.container_dir("c1") == tmp.path + "/c1");
  BOOST_CHECK(!store.load("c1"));
  BOOST_REQUIRE(::mkdir(store.root().c_str(), 0700) == 0 || errno == EEXIST);
  BOOST_REQUIRE(::mkdir(store.container_dir("c1").c_str(), 0700) == 0);
  // No state.json (an older rrun killed in create right after mkdir): a
  // container that is creating with no creator, so stopped.
  auto bare = store.load("c1");
  BOOST_REQUIRE(bare);
  BOOST_CHECK(bare->id == "c1" && bare->status == core::Status::creating && bare->creator_pid == 0);
  BOOST_CHECK(store.status_of(*bare) == core::Status::stopped);

  core::State s = sample_state("c1");
  store.save(s);
  auto back = store.load("c1");
  BOOST_REQUIRE(back);
  BOOST_CHECK(*back == s);
  BOOST_CHECK(store.load_or_throw("c1") == s);
  struct stat st;
  BOOST_REQUIRE(::stat(store.state_path("c1").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);

  // create_container_dir: the directory (0700) appears with its state.
  core::State first = sample_state("c2");
  BOOST_REQUIRE(store.create_container_dir(first));
  BOOST_REQUIRE(::stat(store.container_dir("c2").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0700u);
  BOOST_CHECK(store.load_or_throw("c2") == first);
  BOOST_REQUIRE(::stat(store.state_path("c2").c_str(), &st) == 0);
  BOOST_TEST((st.st_mode & 0777) == 0600u);
  BOOST_CHECK(!os::path_exists(store.staging_path("c2")));
}

BOOST_AUTO_TEST_CASE(errors) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  BOOST_TEST(expect_error([&] { store.load_or_throw("nope"); }) == "container \"nope\" does not exist");
  BOOST_REQUIRE(store.create_container_dir(sample_state("c1")));
  core::State other = sample_state("c1");
  other.bundle = "/elsewhere";
  BOOST_TEST(!store.create_container_dir(other));  // exists: nothing changed, nothing left
  BOOST_CHECK(store.load_or_throw("c1") == sample_state("c1"));
  BOOST_CHECK(!os::path_exists(store.staging_path("c1")));
  BOOST_CHECK_THROW((void)store.create_container_dir(sample_state("../x")), os::Error);
  BOOST_CHECK_THROW(store.load("a/b"), os::Error);
  BOOST_CHECK_THROW(store.lock(".."), os::Error);
  os::write_file_atomic(store.state_path("c1"), "{not json");
  std::string msg = expect_error([&] { store.load("c1"); });
  BOOST_TEST(msg.find("state of container \"c1\"") != std::string::npos);
  BOOST_TEST(msg.find("corrupt") != std::string::npos);
  // A root that does not exist holds no containers.
  core::StateStore missing(tmp.path + "/missing");
  BOOST_CHECK(!missing.load("c1"));
  BOOST_TEST(missing.list_ids().empty());
}

BOOST_AUTO_TEST_CASE(list_and_remove) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  for (std::string id : {"zeta", "alpha", "m.1", "b+c"}) {
    auto lock = store.lock(id);
    BOOST_REQUIRE(store.create_container_dir(sample_state(id)));
  }
  // Not containers: a plain file, a lock file, a directory with an invalid name.
  os::write_file_atomic(tmp.path + "/file", "x");
  ::mkdir((tmp.path + "/bad name").c_str(), 0700);
  std::vector<std::string> want{"alpha", "b+c", "m.1", "zeta"};
  BOOST_TEST(store.list_ids() == want, boost::test_tools::per_element());
  BOOST_CHECK(os::path_exists(store.lock_path("alpha")));

  {
    auto lock = store.lock("alpha");
    store.remove_container("alpha");
  }
  BOOST_CHECK(!os::path_exists(store.container_dir("alpha")));
  BOOST_CHECK(!os::path_exists(store.lock_path("alpha")));
  BOOST_CHECK(!store.load("alpha"));
  want.erase(want.begin());
  BOOST_TEST(store.list_ids() == want, boost::test_tools::per_element());
}

// A reader never sees a half-written state.json.
BOOST_AUTO_TEST_CASE(atomic_save_under_concurrent_readers) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  BOOST_REQUIRE(store.create_container_dir(sample_state("c")));
  core::State small = sample_state("c");
  core::State large = small;
  for (int k = 0; k < 2000; ++k) large.annotations["key." + std::to_string(k)] = std::string(64, 'v');
  store.save(small);

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failures{0}, writes{0};
  std::thread writer([&] {
    for (int k = 0; !stop; ++k) {
      store.save(k % 2 ? large : small);
      ++writes;
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      while (!stop) {
        try {
          auto s = store.load("c");
          if (!s || !(*s == small || *s == large)) ++failures;
        } catch (...) {
          ++failures;
        }
        ++reads;
      }
    });
  // fsync makes writes slow on a busy disk: run until enough of both
  // happened (or 20 s passed).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline && (writes < 40 || reads < 200))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  writer.join();
  for (auto& t : readers) t.join();
  BOOST_TEST_MESSAGE("reads " << reads << ", writes " << writes);
  BOOST_TEST(failures == 0);
  BOOST_TEST(writes >= 4);
  BOOST_TEST(reads >= 4);
}

// Read-modify-write cycles under the lock never lose an update.
BOOST_AUTO_TEST_CASE(concurrent_writers_serialize_on_the_lock) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  {
    auto lock = store.lock("c");
    core::State s = sample_state("c");
    s.annotations = {{"n", "0"}};
    BOOST_REQUIRE(store.create_container_dir(s));
  }
  const int threads = 4, rounds = 50;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&] {
      for (int k = 0; k < rounds; ++k) {
        auto lock = store.lock("c");
        core::State s = store.load_or_throw("c");
        int n = std::stoi(s.annotations["n"]);
        std::this_thread::yield();
        s.annotations["n"] = std::to_string(n + 1);
        store.save(s);
      }
    });
  for (auto& w : workers) w.join();
  BOOST_TEST(store.load_or_throw("c").annotations["n"] == std::to_string(threads * rounds));
}

// A waiter whose lock file was removed by the holder retries on the live file,
// so it excludes a third party that locks the path afterwards.
BOOST_AUTO_TEST_CASE(lock_survives_removal_of_the_container) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  auto holder = std::make_unique<os::FileLock>(store.lock("c"));
  BOOST_REQUIRE(store.create_container_dir(sample_state("c")));
  std::atomic<bool> acquired{false}, release{false};
  std::thread waiter([&] {
    auto lock = store.lock("c");
    acquired = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_TEST(!acquired);
  store.remove_container("c");  // unlinks the lock file while it is held and waited on
  holder.reset();
  while (!acquired) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // The waiter must hold the file now at the lock path.
  int fd = ::open(store.lock_path("c").c_str(), O_RDWR | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_TEST(::flock(fd, LOCK_EX | LOCK_NB) == -1);
  BOOST_TEST(errno == EWOULDBLOCK);
  ::close(fd);
  release = true;
  waiter.join();
}

BOOST_AUTO_TEST_CASE(live_status_of_processes) {
  core::State s = sample_state("c");
  s.pid = ::getpid();
  auto start = os::process_start_time(s.pid);
  BOOST_REQUIRE(start);
  s.pid_start_time = *start;
  for (auto st : {core::Status::created, core::Status::running, core::Status::paused}) {
    s.status = st;
    BOOST_CHECK(core::live_status(s) == st);
  }
  s.status = core::Status::stopped;
  BOOST_CHECK(core::live_status(s) == core::Status::stopped);

  // The pid was reused: another start time.
  s.status = core::Status::running;
  s.pid_start_time = *start + 1;
  BOOST_CHECK(core::live_status(s) == core::Status::stopped);

  // A dead, reaped child.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int wst;
  BOOST_REQUIRE(::waitpid(child, &wst, 0) == child);
  s.pid = child;
  s.pid_start_time = 0;
  BOOST_CHECK(core::live_status(s) == core::Status::stopped);

  // A zombie whose start time matches is stopped too.
  pid_t zombie = make_zombie();
  auto zstart = os::process_start_time(zombie);
  BOOST_REQUIRE(zstart);
  s.pid = zombie;
  s.pid_start_time = *zstart;
  BOOST_CHECK(core::live_status(s) == core::Status::stopped);
  ::waitpid(zombie, &wst, 0);
}

BOOST_AUTO_TEST_CASE(live_status_on_a_fake_proc) {
  TempDir tmp;
  os::mkdir_p(tmp.path + "/77");
  auto stat_line = [](char state, uint64_t start) {
    std::string line = "77 (a (weird) name) ";
    line += state;
    for (int field = 4; field < 22; ++field) line += " 0";
    return line + " " + std::to_string(start) + " 0 0\n";
  };
  core::State s = sample_state("c");
  s.pid = 77;
  s.pid_start_time = 555;
  s.status = core::Status::running;
  os::write_file_atomic(tmp.path + "/77/stat", stat_line('S', 555));
  BOOST_CHECK(core::live_status(s, tmp.path) == core::Status::running);
  os::write_file_atomic(tmp.path + "/77/stat", stat_line('Z', 555));
  BOOST_CHECK(core::live_status(s, tmp.path) == core::Status::stopped);
  os::write_file_atomic(tmp.path + "/77/stat", stat_line('S', 556));
  BOOST_CHECK(core::live_status(s, tmp.path) == core::Status::stopped);
}

BOOST_AUTO_TEST_CASE(created_until_the_exec_fifo_is_gone) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  BOOST_REQUIRE(store.create_container_dir(sample_state("c")));
  core::State s = sample_state("c");
  s.pid = ::getpid();
  s.pid_start_time = *os::process_start_time(s.pid);
  s.status = core::Status::created;
  BOOST_REQUIRE(::mkfifo(store.exec_fifo_path("c").c_str(), 0600) == 0);
  BOOST_CHECK(store.status_of(s) == core::Status::created);
  ::unlink(store.exec_fifo_path("c").c_str());
  BOOST_CHECK(store.status_of(s) == core::Status::running);
  s.pid_start_time += 1;
  BOOST_CHECK(store.status_of(s) == core::Status::stopped);
}

// A killed create is visible: `creating` while its creator lives, then stopped.
BOOST_AUTO_TEST_CASE(creating_while_the_creator_lives) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  core::State s = core::creating_state("c");
  BOOST_TEST(s.creator_pid == ::getpid());
  BOOST_TEST(s.creator_start_time == *os::process_start_time(::getpid()));
  BOOST_TEST(s.pid == 0);
  BOOST_REQUIRE(store.create_container_dir(s));
  auto back = store.load("c");
  BOOST_REQUIRE(back);
  BOOST_CHECK(*back == s);
  BOOST_CHECK(store.status_of(*back) == core::Status::creating);
  std::vector<std::string> want{"c"};
  BOOST_TEST(store.list_ids() == want, boost::test_tools::per_element());
  // `state` and `list` show no pid until the init exists.
  auto j = nlohmann::json::parse(core::oci_state_json(*back, core::Status::creating));
  BOOST_TEST(j["status"] == "creating");
  BOOST_TEST(j["pid"] == 0);

  // The creator was killed (a dead child), or its pid was reused.
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  auto child_start = os::process_start_time(child);
  ::waitpid(child, nullptr, 0);
  back->creator_pid = child;
  back->creator_start_time = child_start.value_or(0);
  BOOST_CHECK(store.status_of(*back) == core::Status::stopped);
  back->creator_pid = ::getpid();
  back->creator_start_time = s.creator_start_time + 1;
  BOOST_CHECK(store.status_of(*back) == core::Status::stopped);
  j = nlohmann::json::parse(core::oci_state_json(*back, store.status_of(*back)));
  BOOST_TEST(j["status"] == "stopped");
  BOOST_TEST(j["pid"] == 0);
}

BOOST_AUTO_TEST_CASE(try_lock_and_stale_locks) {
  TempDir tmp;
  core::StateStore store(tmp.path);
  {
    auto held = store.lock("busy");
    BOOST_CHECK(!store.try_lock("busy"));
    // A lock without a directory that someone holds is a create in progress.
    store.forget_stale_locks();
    BOOST_CHECK(os::path_exists(store.lock_path("busy")));
  }
  BOOST_CHECK(store.try_lock("busy"));
  // Left by a create killed before mkdir: removed; one with a directory stays.
  { auto l = store.lock("kept"); }
  BOOST_REQUIRE(store.create_container_dir(sample_state("kept")));
  // Left by a create killed while it filled its directory: removed with its lock.
  { auto l = store.lock("half"); }
  BOOST_REQUIRE(::mkdir(store.staging_path("half").c_str(), 0700) == 0);
  os::write_file_atomic(store.staging_path("half") + "/state.json", "{}");
  store.forget_stale_locks();
  BOOST_CHECK(!os::path_exists(store.lock_path("busy")));
  BOOST_CHECK(os::path_exists(store.lock_path("kept")));
  BOOST_CHECK(!os::path_exists(store.lock_path("half")));
  BOOST_CHECK(!os::path_exists(store.staging_path("half")));
  std::vector<std::string> want{"kept"};
  BOOST_TEST(store.list_ids() == want, boost::test_tools::per_element());
  // The next create of that ID does not mind one either.
  { auto l = store.lock("half"); }
  BOOST_REQUIRE(::mkdir(store.staging_path("half").c_str(), 0700) == 0);
  os::write_file_atomic(store.staging_path("half") + "/state.json", "{}");
  BOOST_REQUIRE(store.create_container_dir(sample_state("half")));
  BOOST_CHECK(store.load_or_throw("half") == sample_state("half"));
}

namespace {

// A store whose caller is someone else than the owner of what we write
// (as root: files chowned to another uid; else: a caller uid that is not ours).
struct ForeignSetup {
  uid_t caller;
  void make_foreign(const std::string& path) const {
    if (::geteuid() == 0) BOOST_REQUIRE(::lchown(path.c_str(), 4242, 4242) == 0);
  }
  ForeignSetup() : caller(::geteuid() == 0 ? 0 : ::geteuid() + 4242) {}
};

}  // namespace

// Another user's state is refused, wherever it is: the root, a container
// directory, state.json, the config copy, the recorded cgroup.
BOOST_AUTO_TEST_CASE(untrusted_state_is_refused) {
  TempDir tmp;
  const std::string root = tmp.path + "/root";
  core::StateStore mine(root);
  for (std::string id : {"a", "b"}) {
    auto l = mine.lock(id);
    BOOST_REQUIRE(mine.create_container_dir(sample_state(id)));
    os::write_file_atomic(mine.config_path(id), "{}", 0600);
  }
  BOOST_REQUIRE(::mkfifo(mine.exec_fifo_path("a").c_str(), 0622) == 0);
  ::chmod(mine.exec_fifo_path("a").c_str(), 0622);
  BOOST_CHECK(mine.load("a"));
  BOOST_CHECK(mine.read_trusted("a", "config.json") == std::string("{}"));
  BOOST_CHECK(mine.open_trusted("a", "exec.fifo", O_RDONLY | O_NONBLOCK));  // 0622 by design
  BOOST_CHECK(!mine.read_trusted("a", "cgroup"));

  // Writable by others: the root, a container directory, a file.
  auto refused = [&](const std::function<void()>& f, const std::string& path, const std::string& why) {
    std::string msg = expect_error(f);
    BOOST_TEST(msg.find("\"" + path + "\" " + why) != std::string::npos, msg);
  };
  BOOST_REQUIRE(::chmod(root.c_str(), 01777) == 0);
  refused([&] { mine.load("a"); }, root, "has mode 1777, writable by other users");
  refused([&] { mine.list_ids(); }, root, "has mode 1777");
  refused([&] { mine.lock("a"); }, root, "has mode 1777");
  refused([&] { mine.try_lock("a"); }, root, "has mode 1777");
  BOOST_REQUIRE(::chmod(root.c_str(), 0755) == 0);  // readable is fine
  BOOST_CHECK(mine.load("a"));
  BOOST_REQUIRE(::chmod(mine.container_dir("a").c_str(), 0770) == 0);
  refused([&] { mine.load("a"); }, mine.container_dir("a"), "has mode 0770");
  BOOST_REQUIRE(::chmod(mine.container_dir("a").c_str(), 0700) == 0);
  BOOST_REQUIRE(::chmod(mine.state_path("a").c_str(), 0620) == 0);
  refused([&] { mine.load("a"); }, mine.state_path("a"), "has mode 0620");
  BOOST_REQUIRE(::chmod(mine.config_path("a").c_str(), 0602) == 0);
  refused([&] { mine.read_trusted("a", "config.json"); }, mine.config_path("a"), "has mode 0602");
  // A symlink in a file's place is not followed.
  ::unlink(mine.state_path("a").c_str());
  BOOST_REQUIRE(::symlink(mine.state_path("b").c_str(), mine.state_path("a").c_str()) == 0);
  refused([&] { mine.load("a"); }, mine.state_path("a"), "is a symlink");

  // Owned by someone else.
  ForeignSetup foreign;
  core::StateStore theirs(root, foreign.caller);
  foreign.make_foreign(root);
  refused([&] { theirs.load("b"); }, root, "is owned by uid");
  refused([&] { theirs.list_ids(); }, root, "is owned by uid");
  BOOST_TEST(expect_error([&] { theirs.lock("b"); }).find(") or root; another user") != std::string::npos);
  if (::geteuid() == 0) {
    BOOST_REQUIRE(::lchown(root.c_str(), 0, 0) == 0);
    foreign.make_foreign(mine.state_path("b"));
    refused([&] { theirs.load("b"); }, mine.state_path("b"), "is owned by uid 4242, not you (0) or root");
    foreign.make_foreign(mine.container_dir("b"));
    refused([&] { theirs.load("b"); }, mine.container_dir("b"), "is owned by uid 4242");
  }
}

BOOST_AUTO_TEST_SUITE_END()
