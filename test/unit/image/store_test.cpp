#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "../core/fork_child.hpp"
#include "../temp_dir.hpp"

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rrun/image/digest.hpp>
#include <rrun/image/store.hpp>
#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/userns/detect.hpp>

using namespace rrun;
using image::ImageRecord;
using image::sha256_of;
using image::Store;
using rrun::test::exit_code;
using rrun::test::run_in_child;
using rrun::test::TempDir;

namespace {

// A store in a fresh temp dir.
struct TempStore {
  TempDir dir;
  Store store{dir.path + "/store"};
  std::string path(const std::string& rel) const { return store.root() + "/" + rel; }
};

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A forked child that runs concurrently with the test; joined by wait().
struct Child {
  pid_t pid = -1;
  template <typename F>
  explicit Child(F&& fn) {
    pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      int rc = 99;
      try {
        rc = fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
      }
      ::_exit(rc);
    }
  }
  int wait() {
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    pid = -1;
    return exit_code(status);
  }
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
  void put(char c) const { BOOST_REQUIRE(::write(w, &c, 1) == 1); }
  char get() const {
    char c = 0;
    return ::read(r, &c, 1) == 1 ? c : '\0';
  }
  // Up to the first newline (or EOF).
  std::string line() const {
    std::string s;
    char c;
    while (::read(r, &c, 1) == 1 && c != '\n') s += c;
    return s;
  }
};

// An image whose blobs (manifest, config, one layer per `layers` text) are in the store.
ImageRecord put_image(const Store& s, const std::string& name, const std::string& manifest,
                      const std::vector<std::string>& layers = {"layer"}) {
  ImageRecord r;
  r.name = name;
  r.manifest_digest = sha256_of(manifest);
  s.put_blob(r.manifest_digest, manifest);
  std::string config = "config of " + manifest;
  r.config_digest = sha256_of(config);
  s.put_blob(r.config_digest, config);
  for (const std::string& l : layers) {
    image::LayerRef ref;
    ref.digest = sha256_of(l);
    ref.media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    ref.size = l.size();
    s.put_blob(ref.digest, l);
    r.layers.push_back(ref);
  }
  r.size = manifest.size() + config.size();
  return r;
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Sets or unsets environment variables for one test and restores them.
struct EnvGuard {
  std::map<std::string, std::optional<std::string>> saved;
  void set(const std::string& k, const char* v) {
    if (!saved.count(k)) {
      const char* old = std::getenv(k.c_str());
      saved[k] = old ? std::optional<std::string>(old) : std::nullopt;
    }
    if (v)
      ::setenv(k.c_str(), v, 1);
    else
      ::unsetenv(k.c_str());
  }
  ~EnvGuard() {
    for (auto& [k, v] : saved)
      if (v)
        ::setenv(k.c_str(), v->c_str(), 1);
      else
        ::unsetenv(k.c_str());
  }
};

void remove_tree_counted(const std::string& dir);
int removed_dirs = 0;
void remove_tree_counted(const std::string& dir) {
  ++removed_dirs;
  os::remove_tree(dir);
}

void write_file(const std::string& path, const std::string& data) {
  os::UniqueFd fd = os::open_file(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  os::write_all(fd, data);
}

void age(const std::string& path, time_t seconds) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = ::time(nullptr) - seconds;
  ts[0].tv_nsec = ts[1].tv_nsec = 0;
  BOOST_REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(image_store_layout)

BOOST_AUTO_TEST_CASE(creates_the_directories_private) {
  TempDir dir;
  Store s(dir.path + "/a/b/store/");
  BOOST_TEST(s.root() == dir.path + "/a/b/store");
  for (const char* sub : {"", "/blobs", "/blobs/sha256", "/layers", "/tmp", "/locks"})
    BOOST_TEST(mode_of(s.root() + sub) == 0700u, sub);
  BOOST_TEST(mode_of(dir.path + "/a") == 0700u);
  Store again(s.root());  // existing: fine
}

BOOST_AUTO_TEST_CASE(refuses_a_store_of_another_user) {
  if (::geteuid() != 0) return;  // needs chown
  TempDir dir;
  std::string root = dir.path + "/store";
  BOOST_REQUIRE(::mkdir(root.c_str(), 0700) == 0);
  BOOST_REQUIRE(::chown(root.c_str(), 12345, 12345) == 0);
  std::string e = error_of([&] { Store s(root); });
  BOOST_TEST(contains(e, "belongs to uid 12345"), e);
  BOOST_TEST(contains(e, "XDG_DATA_HOME"), e);
}

BOOST_AUTO_TEST_CASE(default_root_from_the_environment) {
  EnvGuard env;
  env.set("XDG_DATA_HOME", "/xdg/data/");
  env.set("HOME", "/home/u");
  BOOST_TEST(Store::default_root() == "/xdg/data/rrun");
  env.set("XDG_DATA_HOME", "relative/ignored");
  std::string expected = userns::running_rootless(::geteuid()) ? "/home/u/.local/share/rrun" : "/var/lib/rrun";
  BOOST_TEST(Store::default_root() == expected);
  env.set("XDG_DATA_HOME", nullptr);
  BOOST_TEST(Store::default_root() == expected);
}

BOOST_AUTO_TEST_CASE(default_root_of_root_in_a_user_namespace) {
  if (::geteuid() != 0) return;
  EnvGuard env;
  env.set("XDG_DATA_HOME", nullptr);
  env.set("HOME", "/home/u");
  // uid 0 in a user namespace that maps only itself: rootless Podman's case.
  int status = run_in_child([] {
    if (::unshare(CLONE_NEWUSER) < 0) return 77;
    os::write_file("/proc/self/uid_map", "0 0 1");
    if (::geteuid() != 0) return 2;
    return Store::default_root() == "/home/u/.local/share/rrun" ? 0 : 1;
  });
  if (exit_code(status) == 77) {
    BOOST_TEST_MESSAGE("no user namespaces here: skipped");
    return;
  }
  BOOST_TEST(exit_code(status) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(image_store_blobs)

BOOST_AUTO_TEST_CASE(writer_commits_a_verified_blob) {
  TempStore t;
  std::string d = sha256_of("hello world");
  BOOST_TEST(!t.store.has_blob(d));
  {
    Store::BlobWriter w = t.store.new_blob();
    w.write("hello ", 6);
    BOOST_TEST(list_dir(t.path("tmp")).size() == 1u);  // in progress under tmp/
    w.write("world", 5);
    BOOST_TEST(w.written() == 11u);
    BOOST_TEST(w.commit(d, 11) == d);
  }
  BOOST_TEST(t.store.has_blob(d));
  BOOST_TEST(t.store.blob_path(d) == t.path("blobs/sha256/" + image::digest_hex(d)));
  BOOST_TEST(t.store.read_blob(d) == "hello world");
  BOOST_TEST(list_dir(t.path("tmp")).empty());
}

BOOST_AUTO_TEST_CASE(writer_without_size) {
  TempStore t;
  Store::BlobWriter w = t.store.new_blob();
  w.write("abc", 3);
  BOOST_TEST(w.commit(sha256_of("abc")) == sha256_of("abc"));
  BOOST_CHECK_THROW(w.commit(sha256_of("abc")), os::Error);
  BOOST_CHECK_THROW(w.write("x", 1), os::Error);
}

BOOST_AUTO_TEST_CASE(digest_mismatch_leaves_nothing) {
  TempStore t;
  std::string want = sha256_of("good");
  {
    Store::BlobWriter w = t.store.new_blob();
    w.write("evil", 4);
    std::string e = error_of([&] { w.commit(want, 4); });
    BOOST_TEST(e == "blob " + want + ": digest mismatch: got " + sha256_of("evil"));
  }
  BOOST_TEST(!t.store.has_blob(want));
  BOOST_TEST(list_dir(t.path("tmp")).empty());
  BOOST_TEST(list_dir(t.path("blobs/sha256")).empty());
}

BOOST_AUTO_TEST_CASE(size_mismatch_leaves_nothing) {
  TempStore t;
  std::string want = sha256_of("good");
  {
    Store::BlobWriter w = t.store.new_blob();
    w.write("goo", 3);
    std::string e = error_of([&] { w.commit(want, 4); });
    BOOST_TEST(e == "blob " + want + ": size mismatch: expected 4 bytes, got 3");
  }
  BOOST_TEST(list_dir(t.path("tmp")).empty());
  BOOST_TEST(list_dir(t.path("blobs/sha256")).empty());
}

BOOST_AUTO_TEST_CASE(invalid_expected_digest) {
  TempStore t;
  {
    Store::BlobWriter w = t.store.new_blob();
    w.write("x", 1);
    BOOST_CHECK_THROW(w.commit("sha256:../../etc/passwd"), os::Error);
  }
  BOOST_TEST(list_dir(t.path("tmp")).empty());
  BOOST_CHECK_THROW(t.store.blob_path("md5:abc"), os::Error);
}

BOOST_AUTO_TEST_CASE(abandoned_writer_is_removed) {
  TempStore t;
  {
    Store::BlobWriter w = t.store.new_blob();
    w.write("partial", 7);
    Store::BlobWriter moved = std::move(w);  // one owner of the file
    moved.write("!", 1);
    BOOST_TEST(list_dir(t.path("tmp")).size() == 1u);
  }
  BOOST_TEST(list_dir(t.path("tmp")).empty());
  BOOST_TEST(list_dir(t.path("blobs/sha256")).empty());
}

BOOST_AUTO_TEST_CASE(put_blob_verifies) {
  TempStore t;
  std::string d = sha256_of("{}");
  t.store.put_blob(d, "{}");
  t.store.put_blob(d, "{}");  // again: fine
  BOOST_TEST(t.store.read_blob(d) == "{}");
  std::string e = error_of([&] { t.store.put_blob(sha256_of("x"), "y"); });
  BOOST_TEST(e == "blob " + sha256_of("x") + ": digest mismatch: got " + sha256_of("y"));
  BOOST_TEST(!t.store.has_blob(sha256_of("x")));
  BOOST_TEST(list_dir(t.path("tmp")).empty());
}

BOOST_AUTO_TEST_CASE(read_blob_is_bounded_and_named) {
  TempStore t;
  std::string data(1000, 'x');
  std::string d = sha256_of(data);
  t.store.put_blob(d, data);
  BOOST_TEST(t.store.read_blob(d, 1000).size() == 1000u);
  std::string e = error_of([&] { t.store.read_blob(d, 999); });
  BOOST_TEST(contains(e, "blob " + d), e);
  BOOST_TEST(contains(e, "too large (1000 bytes, the limit is 999)"), e);

  std::string missing = sha256_of("missing");
  e = error_of([&] { t.store.read_blob(missing); });
  BOOST_TEST(contains(e, "blob " + missing + " is not in the image store"), e);
}

BOOST_AUTO_TEST_CASE(read_blob_takes_regular_files_only) {
  TempStore t;
  std::string link = sha256_of("link"), fifo = sha256_of("fifo");
  BOOST_REQUIRE(::symlink("/etc/passwd", t.store.blob_path(link).c_str()) == 0);
  BOOST_REQUIRE(::mkfifo(t.store.blob_path(fifo).c_str(), 0600) == 0);
  BOOST_TEST(!t.store.has_blob(link));
  BOOST_TEST(!t.store.has_blob(fifo));
  std::string e = error_of([&] { t.store.read_blob(link); });
  BOOST_TEST(contains(e, t.store.blob_path(link)), e);  // ELOOP: not followed
  e = error_of([&] { t.store.read_blob(fifo); });       // does not hang
  BOOST_TEST(contains(e, "is not a regular file"), e);
}

BOOST_AUTO_TEST_CASE(two_processes_commit_the_same_blob) {
  TempStore t;
  std::string data(1 << 20, 'z');
  std::string d = sha256_of(data);
  Pipe go;
  auto writer = [&] {
    Store s(t.store.root());
    Store::BlobWriter w = s.new_blob();
    w.write(data.data(), data.size() / 2);
    go.get();  // both half-way before either commits
    w.write(data.data() + data.size() / 2, data.size() - data.size() / 2);
    return w.commit(d, static_cast<int64_t>(data.size())) == d ? 0 : 1;
  };
  Child a(writer), b(writer);
  go.put('1');
  go.put('2');
  BOOST_TEST(a.wait() == 0);
  BOOST_TEST(b.wait() == 0);
  BOOST_TEST(t.store.read_blob(d, data.size()) == data);
  BOOST_TEST(list_dir(t.path("tmp")).empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(image_store_locks)

BOOST_AUTO_TEST_CASE(lock_waits_and_says_so) {
  TempStore t;
  os::UniqueFd held = t.store.lock("blob-abc");
  Pipe err, got;
  Child c([&] {
    held.reset();  // the child's copy of our lock's fd would keep it held
    ::dup2(err.w, STDERR_FILENO);
    os::UniqueFd mine = t.store.lock("blob-abc");
    got.put('L');
    return 0;
  });
  // The child says it waits, and does not get the lock while we hold it.
  BOOST_TEST(err.line() == "rrun: waiting for another rrun using blob-abc");
  struct pollfd p = {got.r, POLLIN, 0};
  BOOST_TEST(::poll(&p, 1, 100) == 0);
  held.reset();
  BOOST_TEST(got.get() == 'L');
  BOOST_TEST(c.wait() == 0);
}

BOOST_AUTO_TEST_CASE(lock_without_waiting_is_silent) {
  TempStore t;
  Pipe err;
  Child c([&] {
    ::dup2(err.w, STDERR_FILENO);
    os::UniqueFd a = t.store.lock("images");
    a.reset();
    os::UniqueFd b = t.store.lock("images");
    return 0;
  });
  BOOST_TEST(c.wait() == 0);
  ::close(err.w);
  err.w = -1;
  BOOST_TEST(err.line().empty());
}

BOOST_AUTO_TEST_CASE(lock_survives_removal_of_its_file) {
  // prune removes idle lock files: a waiter that then gets the removed
  // file's lock takes the new file's lock instead.
  TempStore t;
  std::string path = t.path("locks/layer-x");
  os::UniqueFd held = t.store.lock("layer-x");
  Pipe err, got, done;
  Child c([&] {
    held.reset();
    ::dup2(err.w, STDERR_FILENO);
    os::UniqueFd mine = t.store.lock("layer-x");
    got.put('L');
    done.get();
    return 0;
  });
  BOOST_TEST(!err.line().empty());
  BOOST_REQUIRE(::unlink(path.c_str()) == 0);
  held.reset();
  BOOST_TEST(got.get() == 'L');
  // The child holds the file now at `path`.
  os::UniqueFd probe = os::open_file(path, O_RDWR);
  BOOST_TEST(::flock(probe.get(), LOCK_EX | LOCK_NB) == -1);
  done.put('x');
  BOOST_TEST(c.wait() == 0);
}

BOOST_AUTO_TEST_CASE(lock_names_are_one_component) {
  TempStore t;
  for (const char* bad : {"", ".", "..", "a/b", "../x"}) BOOST_CHECK_THROW(t.store.lock(bad), os::Error);
}

BOOST_AUTO_TEST_CASE(tmp_dirs_are_fresh_and_private) {
  TempStore t;
  std::string a = t.store.make_tmp_dir("layer");
  std::string b = t.store.make_tmp_dir("layer");
  BOOST_TEST(a != b);
  BOOST_TEST(a.rfind(t.path("tmp/layer@"), 0) == 0u, a);
  BOOST_TEST(mode_of(a) == 0700u);
  BOOST_CHECK_THROW(t.store.make_tmp_dir("a/b"), os::Error);
  BOOST_CHECK_THROW(t.store.make_tmp_dir(""), os::Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(image_store_records)

BOOST_AUTO_TEST_CASE(add_find_replace_remove) {
  TempStore t;
  BOOST_TEST(t.store.images().empty());
  BOOST_TEST(!t.store.find_image("docker://x/y:z"));

  ImageRecord a = put_image(t.store, "docker://r/a:1", "manifest a", {"l1", "l2"});
  a.layers[1].diff_id = sha256_of("uncompressed");
  a.pulled = 1000;
  a.last_used = 2000;
  t.store.record_image(a);
  ImageRecord b = put_image(t.store, "oci:/dir:b", "manifest b");
  t.store.record_image(b);

  std::vector<ImageRecord> all = t.store.images();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].name == "docker://r/a:1");
  BOOST_TEST(all[0].manifest_digest == a.manifest_digest);
  BOOST_TEST(all[0].config_digest == a.config_digest);
  BOOST_REQUIRE(all[0].layers.size() == 2u);
  BOOST_TEST(all[0].layers[1].digest == sha256_of("l2"));
  BOOST_TEST(all[0].layers[1].media_type == a.layers[1].media_type);
  BOOST_TEST(all[0].layers[1].size == 2u);
  BOOST_TEST(all[0].layers[1].diff_id == a.layers[1].diff_id);
  BOOST_TEST(all[0].layers[0].diff_id == "");
  BOOST_TEST(all[0].size == a.size);
  BOOST_TEST(all[0].pulled == 1000);
  BOOST_TEST(all[0].last_used == 2000);
  BOOST_TEST(all[1].pulled >= ::time(nullptr) - 5);  // 0 became now
  BOOST_TEST(all[1].last_used == all[1].pulled);

  // By name, by ID prefix (4 digits at least, sha256: optional).
  BOOST_TEST(t.store.find_image("oci:/dir:b")->manifest_digest == b.manifest_digest);
  std::string hex = image::digest_hex(b.manifest_digest);
  BOOST_TEST(t.store.find_image(hex.substr(0, 4))->name == "oci:/dir:b");
  BOOST_TEST(t.store.find_image(hex)->name == "oci:/dir:b");
  BOOST_TEST(t.store.find_image("sha256:" + hex.substr(0, 12))->name == "oci:/dir:b");
  BOOST_TEST(!t.store.find_image(hex.substr(0, 3)));
  BOOST_TEST(!t.store.find_image("docker://r/a:2"));

  // Replace: same name, new content, same place.
  ImageRecord a2 = put_image(t.store, "docker://r/a:1", "manifest a2");
  t.store.record_image(a2);
  all = t.store.images();
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all[0].manifest_digest == a2.manifest_digest);
  BOOST_TEST(all[0].layers.size() == 1u);

  BOOST_TEST(t.store.remove_image("docker://r/a:1"));
  BOOST_TEST(!t.store.remove_image("docker://r/a:1"));
  BOOST_TEST(t.store.remove_image(hex.substr(0, 6)));
  BOOST_TEST(t.store.images().empty());
  // The blobs stay until prune.
  BOOST_TEST(t.store.has_blob(a.manifest_digest));
}

BOOST_AUTO_TEST_CASE(one_image_under_two_names) {
  TempStore t;
  ImageRecord r = put_image(t.store, "docker://r/a:1", "same");
  t.store.record_image(r);
  r.name = "docker://r/a:latest";
  t.store.record_image(r);
  std::string hex = image::digest_hex(r.manifest_digest);
  BOOST_TEST(t.store.find_image(hex.substr(0, 8)).has_value());  // not ambiguous
  BOOST_TEST(t.store.remove_image(hex.substr(0, 8)));            // the ID: both names
  BOOST_TEST(t.store.images().empty());
}

BOOST_AUTO_TEST_CASE(ambiguous_prefix_lists_the_images) {
  TempStore t;
  // Two manifests whose digests share their first 4 hex digits (birthday:
  // a few hundred tries).
  std::map<std::string, std::string> seen;
  std::string m1, m2;
  for (int i = 0; m2.empty(); ++i) {
    std::string m = "manifest " + std::to_string(i);
    std::string p = image::digest_hex(sha256_of(m)).substr(0, 4);
    if (seen.count(p)) {
      m1 = seen[p];
      m2 = m;
    }
    seen[p] = m;
  }
  t.store.record_image(put_image(t.store, "docker://r/one:1", m1));
  t.store.record_image(put_image(t.store, "docker://r/two:1", m2));
  std::string prefix = image::digest_hex(sha256_of(m1)).substr(0, 4);
  std::string e = error_of([&] { t.store.find_image(prefix); });
  BOOST_TEST(contains(e, "image ID " + prefix + " is ambiguous"), e);
  BOOST_TEST(contains(e, "docker://r/one:1"), e);
  BOOST_TEST(contains(e, "docker://r/two:1"), e);
  BOOST_CHECK_THROW(t.store.remove_image(prefix), os::Error);
  BOOST_TEST(t.store.images().size() == 2u);
}

BOOST_AUTO_TEST_CASE(record_needs_its_blobs) {
  TempStore t;
  ImageRecord r = put_image(t.store, "docker://r/a:1", "m");
  r.layers[0].digest = sha256_of("never stored");
  std::string e = error_of([&] { t.store.record_image(r); });
  BOOST_TEST(contains(e, "blob " + r.layers[0].digest + " is not in the store"), e);
  r.layers[0].digest = "sha256:bad";
  BOOST_CHECK_THROW(t.store.record_image(r), os::Error);
  BOOST_TEST(t.store.images().empty());
}

BOOST_AUTO_TEST_CASE(touch_sets_last_used_at_most_once_a_minute) {
  TempStore t;
  ImageRecord r = put_image(t.store, "docker://r/a:1", "m");
  r.pulled = r.last_used = ::time(nullptr) - 3600;
  t.store.record_image(r);
  t.store.touch_image("docker://r/a:1");
  int64_t used = t.store.find_image("docker://r/a:1")->last_used;
  BOOST_TEST(used >= ::time(nullptr) - 5);
  BOOST_TEST(t.store.find_image("docker://r/a:1")->pulled == r.pulled);
  // Right after: images.json is not rewritten (a cached start pays nothing).
  struct stat before, after;
  BOOST_REQUIRE(::stat(t.path("images.json").c_str(), &before) == 0);
  t.store.touch_image("docker://r/a:1");
  t.store.touch_image("docker://no/such:image");
  BOOST_REQUIRE(::stat(t.path("images.json").c_str(), &after) == 0);
  BOOST_TEST(before.st_ino == after.st_ino);
}

BOOST_AUTO_TEST_CASE(bad_records_file_is_named) {
  TempStore t;
  std::string path = t.path("images.json");
  write_file(path, "{\"images\": [");
  std::string e = error_of([&] { t.store.images(); });
  BOOST_TEST(contains(e, "image records `" + path + "`"), e);
  BOOST_TEST(contains(e, "remove the file"), e);

  write_file(path, R"({"images": [{"name": "x", "manifest_digest": "sha256:../../x"}]})");
  e = error_of([&] { t.store.find_image("x"); });
  BOOST_TEST(contains(e, "images[0].manifest_digest: invalid digest"), e);

  write_file(path, R"({"images": [{"name": "x"}]})");
  e = error_of([&] { t.store.images(); });
  BOOST_TEST(contains(e, "images[0].manifest_digest: missing"), e);

  write_file(path, "[]");
  BOOST_TEST(contains(error_of([&] { t.store.images(); }), "expected an object"));

  // Bounded: a huge file is refused before it is parsed.
  write_file(path, std::string(17 << 20, ' '));
  e = error_of([&] { t.store.images(); });
  BOOST_TEST(contains(e, "too large"), e);
  BOOST_TEST(contains(e, path), e);
}

BOOST_AUTO_TEST_CASE(readers_never_see_a_partial_file) {
  TempStore t;
  std::vector<ImageRecord> rs;
  for (int i = 0; i < 40; ++i)
    rs.push_back(put_image(t.store, "docker://r/img:" + std::to_string(i), "m" + std::to_string(i)));
  Child writer([&] {
    Store s(t.store.root());
    for (int round = 0; round < 6; ++round)
      for (const ImageRecord& r : rs) {
        if (round % 2)
          s.remove_image(r.name);
        else
          s.record_image(r);
      }
    return 0;
  });
  int reads = 0;
  for (;;) {
    int status;
    pid_t done = ::waitpid(writer.pid, &status, WNOHANG);
    t.store.images();  // throws on a partial file
    ++reads;
    if (done == writer.pid) {
      writer.pid = -1;
      BOOST_TEST(exit_code(status) == 0);
      break;
    }
  }
  BOOST_TEST_MESSAGE("reads during the writes: " << reads);
}

BOOST_AUTO_TEST_CASE(concurrent_records_are_all_kept) {
  TempStore t;
  auto recorder = [&](int base) {
    return [&t, base] {
      Store s(t.store.root());
      for (int i = 0; i < 20; ++i)
        s.record_image(
            put_image(s, "docker://r/p" + std::to_string(base) + ":" + std::to_string(i), "m" + std::to_string(i)));
      return 0;
    };
  };
  Child a(recorder(1)), b(recorder(2));
  BOOST_TEST(a.wait() == 0);
  BOOST_TEST(b.wait() == 0);
  BOOST_TEST(t.store.images().size() == 40u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(image_store_prune)

BOOST_AUTO_TEST_CASE(prune_keeps_referenced_and_removes_the_rest) {
  TempStore t;
  ImageRecord keep = put_image(t.store, "docker://r/keep:1", "mk", {"shared", "only-keep"});
  ImageRecord drop = put_image(t.store, "docker://r/drop:1", "md", {"shared", "only-drop"});
  t.store.record_image(keep);
  t.store.record_image(drop);
  t.store.put_blob(sha256_of("loose"), "loose");
  // Unpacked layers: two of `keep`'s, one of `drop`'s in two variants.
  auto unpack = [&](const std::string& variant, const std::string& layer) {
    std::string dir = t.path("layers/" + variant + "/" + image::digest_hex(sha256_of(layer)));
    os::mkdir_p(dir + "/etc", 0755);
    write_file(dir + "/etc/data", "12345");
  };
  unpack("user-0:1000:1", "shared");
  unpack("user-0:1000:1", "only-keep");
  unpack("user-0:1000:1", "only-drop");
  unpack("fuse-0:1000:1", "only-drop");
  os::mkdir_p(t.path("layers/user-0:1000:1/not-a-layer"), 0755);  // not ours: left alone
  BOOST_TEST(t.store.remove_image("docker://r/drop:1"));

  // tmp/: what a killed process left (a layer dir and a blob), ours in
  // progress, and names of no process: fresh or a day old.
  Child dead([&] {
    Store s(t.store.root());
    write_file(s.make_tmp_dir("layer") + "/abc", "abc");
    Store::BlobWriter w = s.new_blob();
    w.write("partial", 7);
    ::_exit(0);  // no destructors: as if killed
    return 0;
  });
  BOOST_TEST(dead.wait() == 0);
  std::string live = t.store.make_tmp_dir("live");
  write_file(t.path("tmp/junk-old"), "junk");
  age(t.path("tmp/junk-old"), 2 * 86400);
  write_file(t.path("tmp/junk-new"), "junk");
  write_file(t.path("tmp/other@1-1-1-1x1"), "");  // another pid namespace: cannot tell, fresh
  write_file(t.path("tmp/old@1-1-1-1x1"), "");
  age(t.path("tmp/old@1-1-1-1x1"), 2 * 86400);
  BOOST_REQUIRE(list_dir(t.path("tmp")).size() == 7u);
  os::UniqueFd idle = t.store.lock("blob-idle");
  idle.reset();
  os::UniqueFd busy = t.store.lock("blob-busy");

  removed_dirs = 0;
  Store::PruneResult res = t.store.prune(remove_tree_counted);
  BOOST_TEST(res.blobs == 4u);   // drop's manifest, config, only-drop; loose
  BOOST_TEST(res.layers == 2u);  // only-drop in both variants
  BOOST_TEST(res.tmp == 4u);     // the dead process's two, junk-old, old@
  BOOST_TEST(res.bytes == 28u + 10u + 3u + 7u + 4u);
  BOOST_TEST(removed_dirs == 3);  // two layers, the dead tmp dir

  for (const std::string& d : {keep.manifest_digest, keep.config_digest, keep.layers[0].digest, keep.layers[1].digest})
    BOOST_TEST(t.store.has_blob(d), d);
  for (const std::string& d : {drop.manifest_digest, drop.config_digest, drop.layers[1].digest, sha256_of("loose")})
    BOOST_TEST(!t.store.has_blob(d), d);
  BOOST_TEST(list_dir(t.path("blobs/sha256")).size() == 4u);
  std::vector<std::string> user = list_dir(t.path("layers/user-0:1000:1"));
  BOOST_TEST(user.size() == 3u);  // shared, only-keep, not-a-layer
  BOOST_TEST(!os::path_exists(t.path("layers/fuse-0:1000:1")));
  std::vector<std::string> tmp = list_dir(t.path("tmp"));
  std::sort(tmp.begin(), tmp.end());
  BOOST_REQUIRE(tmp.size() == 3u);
  BOOST_TEST(tmp[0] == "junk-new");
  BOOST_TEST(tmp[1].rfind("live@", 0) == 0u);
  BOOST_TEST(tmp[2] == "other@1-1-1-1x1");
  BOOST_TEST(os::path_exists(live));
  BOOST_TEST(!os::path_exists(t.path("locks/blob-idle")));
  BOOST_TEST(os::path_exists(t.path("locks/blob-busy")));

  // Again: nothing more to do; the kept image is whole.
  res = t.store.prune(remove_tree_counted);
  BOOST_TEST(res.blobs + res.layers + res.tmp + res.bytes == 0u);
  BOOST_TEST(t.store.find_image("docker://r/keep:1").has_value());
}

BOOST_AUTO_TEST_CASE(prune_of_an_empty_store) {
  TempStore t;
  Store::PruneResult res = t.store.prune(nullptr);
  BOOST_TEST(res.blobs + res.layers + res.tmp + res.bytes == 0u);
}

BOOST_AUTO_TEST_CASE(prune_waits_for_a_pull_in_progress) {
  // A pull's blobs are referenced only once it records the image: a prune
  // meanwhile waits, then keeps them.
  TempStore t;
  Pipe started, proceed, err;
  Child pull([&] {
    Store s(t.store.root());
    s.put_blob(sha256_of("m"), "m");
    started.put('s');
    proceed.get();
    ImageRecord r = put_image(s, "docker://r/p:1", "m");
    s.record_image(r);
    return 0;
  });
  BOOST_REQUIRE(started.get() == 's');
  Child prune([&] {
    ::dup2(err.w, STDERR_FILENO);
    Store s(t.store.root());
    Store::PruneResult res = s.prune(nullptr);
    return res.blobs == 0 ? 0 : 1;
  });
  BOOST_TEST(err.line() == "rrun: waiting for another rrun to finish pulling");
  proceed.put('p');
  BOOST_TEST(pull.wait() == 0);
  BOOST_TEST(prune.wait() == 0);
  BOOST_TEST(t.store.find_image("docker://r/p:1").has_value());
  BOOST_TEST(t.store.has_blob(sha256_of("m")));
  BOOST_TEST(t.store.has_blob(sha256_of("layer")));
}

BOOST_AUTO_TEST_SUITE_END()
