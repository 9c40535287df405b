#include "extract.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/syscall.hpp>

#include "archive_lib.hpp"
#include "digest.hpp"

namespace rrun::image {

namespace {

constexpr size_t kBuf = 256 << 10;
constexpr std::string_view kWh = ".wh.";
constexpr std::string_view kOpaque = ".wh..wh..opq";

struct ArchiveFree {
  void operator()(archive* a) const { libarchive().read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

std::string archive_error(archive* a, const char* fallback) {
  const char* e = libarchive().error_string(a);
  return e && *e ? e : fallback;
}

// The layer's uncompressed bytes: `src` through libarchive's raw format
// (gzip, zstd or none, told by the data), hashed on the way for the diff_id.
// The tar reader pulls from it (read_tar), so that the hash covers the
// whole stream, the end-of-archive blocks and padding included.
class Uncompressed {
 public:
  Uncompressed(int src, const ExtractOptions& o) : src_(src), on_read_(o.on_read), in_(kBuf), out_(kBuf) {
    if (!o.diff_id.empty()) hash_.emplace();
    raw_.reset(libarchive().read_new());
    if (!raw_) throw os::Error("libarchive: out of memory");
    libarchive().filter_none(raw_.get());
    libarchive().filter_gzip(raw_.get());
    libarchive().filter_zstd(raw_.get());
    libarchive().format_raw(raw_.get());
    if (libarchive().open(raw_.get(), this, nullptr, &Uncompressed::read_src, nullptr) != ARCHIVE_OK)
      throw os::Error(o.what +
                      ": a damaged layer: " + (error_.empty() ? archive_error(raw_.get(), "cannot read") : error_));
    archive_entry* e = nullptr;
    int r = libarchive().next_header(raw_.get(), &e);
    if (r == ARCHIVE_EOF)
      at_end_ = true;  // an empty blob
    else if (r < ARCHIVE_WARN)
      throw os::Error(
          o.what + ": a damaged layer: " + (error_.empty() ? archive_error(raw_.get(), "cannot decompress") : error_));
  }

  // libarchive's read callback of the tar reader.
  static la_ssize_t read_tar(archive*, void* self, const void** buf) {
    auto* u = static_cast<Uncompressed*>(self);
    *buf = u->out_.data();
    return u->next(u->out_.data(), u->out_.size());
  }

  // The digest of everything, after reading what the tar reader left.
  std::string finish() {
    while (next(out_.data(), out_.size()) > 0) {
    }
    if (!error_.empty()) throw os::Error(error_);
    return hash_ ? hash_->finish() : "";
  }

  const std::string& error() const { return error_; }

 private:
  la_ssize_t next(char* buf, size_t n) {
    if (at_end_) return 0;
    la_ssize_t got = libarchive().data(raw_.get(), buf, n);
    if (got < 0) {
      if (error_.empty()) error_ = archive_error(raw_.get(), "cannot decompress");
      at_end_ = true;
      return ARCHIVE_FATAL;
    }
    if (got == 0) at_end_ = true;
    if (got > 0 && hash_) hash_->update(buf, static_cast<size_t>(got));
    return got;
  }

  static la_ssize_t read_src(archive*, void* self, const void** buf) {
    auto* u = static_cast<Uncompressed*>(self);
    *buf = u->in_.data();
    for (;;) {
      ssize_t n = ::read(u->src_, u->in_.data(), u->in_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        u->error_ = std::string("read the layer: ") + std::strerror(errno);
        return ARCHIVE_FATAL;
      }
      if (n > 0 && u->on_read_) u->on_read_(static_cast<uint64_t>(n));
      return n;
    }
  }

  int src_;
  std::function<void(uint64_t)> on_read_;
  std::vector<char> in_, out_;
  std::optional<Sha256> hash_;
  ArchivePtr raw_;
  bool at_end_ = false;
  std::string error_;
};

// An entry's name as a clean relative path ("" for the layer's root):
// "." and empty components dropped. nullopt, with the reason, for a name
// that would leave the layer.
std::optional<std::string> clean_path(std::string_view raw, const char** why) {
  if (!raw.empty() && raw[0] == '/') {
    *why = "refusing an absolute name (a layer writes inside the image only: a broken or malicious image)";
    return std::nullopt;
  }
  std::string out;
  size_t at = 0;
  while (at <= raw.size()) {
    size_t end = raw.find('/', at);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view c = raw.substr(at, end - at);
    at = end + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      *why = "refusing a name with `..` (a layer writes inside the image only: a broken or malicious image)";
      return std::nullopt;
    }
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// xattrs a layer may not set: overlay's own (a forged whiteout, opaque
// marker or redirect would change what the lower layers show).
bool overlay_xattr(std::string_view name) {
  return starts_with(name, "trusted.overlay.") || starts_with(name, "user.overlay.") ||
         starts_with(name, "user.fuseoverlayfs.");
}

// What the layer asked for and rrun must be able to give; other xattrs
// (security.selinux, trusted.*) are skipped where not permitted.
bool required_xattr(std::string_view name) {
  return starts_with(name, "user.") || name == "security.capability";
}

bool not_permitted(int err) {
  return err == EPERM || err == EACCES || err == ENOTSUP || err == EOPNOTSUPP;
}

struct DirTimes {
  std::string path;
  struct timespec times[2];
};

// One layer's entries made under `root_`.
class Extractor {
 public:
  Extractor(int root, const ExtractOptions& o, const Uncompressed& in) : root_(root), o_(o), in_(in) {}

  void entry(archive* a, archive_entry* e);
  void finish();

 private:
  [[noreturn]] void fail(const std::string& entry, const std::string& why) const {
    throw os::Error(o_.what + ": entry " + os::quote(entry) + ": " + why);
  }
  [[noreturn]] void fail_errno(const std::string& entry, const std::string& step, int err) const {
    throw os::SystemError(err, o_.what + ": entry " + os::quote(entry) + ": " + step);
  }

  int dir_fd(const std::string& path, const std::string& entry);
  os::UniqueFd walk_dirs(const std::string& path, const std::string& entry, bool create);
  os::UniqueFd open_existing_dir(const std::string& path, const std::string& entry);
  void remove_slot(int pfd, const std::string& name, const std::string& entry);
  template <typename Make>
  void make_replacing(int pfd, const std::string& name, const std::string& entry, const char* step, Make make);

  void make_file(int pfd, const std::string& name, const std::string& entry, archive* a, archive_entry* e);
  void make_dir(int pfd, const std::string& path, const std::string& name, const std::string& entry, archive_entry* e);
  void make_symlink(int pfd, const std::string& name, const std::string& entry, archive_entry* e);
  void make_fifo(int pfd, const std::string& name, const std::string& entry, archive_entry* e);
  void make_hardlink(int pfd, const std::string& path, const std::string& name, const std::string& entry,
                     archive_entry* e);
  void whiteout(const std::string& parent, const std::string& base, const std::string& entry);
  void mark_opaque(int pfd, const char* value, const std::string& entry);
  void mark_fuse_opaque(int pfd, const std::string& entry);
  void remove_lower(const std::string& dir, int pfd, const std::string& entry);
  void record_made(const std::string& path);

  void set_owner(int fd, const char* name, int flags, archive_entry* e, const std::string& entry);
  void set_xattrs(int fd, archive_entry* e, const std::string& entry);
  static void entry_times(archive_entry* e, struct timespec ts[2]);

  const char* xattr_prefix() const {
    return o_.whiteouts == Whiteouts::xattr_user ? "user.overlay." : "trusted.overlay.";
  }

  int root_;
  const ExtractOptions& o_;
  const Uncompressed& in_;  // its error explains a failed read
  // The last parent directory resolved: entries come grouped by directory.
  std::string cached_path_;
  os::UniqueFd cached_fd_;
  std::vector<DirTimes> dir_times_;             // set last: making entries changes them
  std::unordered_set<std::string> made_;        // Whiteouts::apply: what this layer made
  std::unordered_set<std::string> made_above_;  // and the directories above it
  uint64_t devices_ = 0;
  std::string first_device_;
  uint64_t unmapped_ = 0;
  std::string first_unmapped_;
};

// The directory `path` (relative to the root, "" is the root), its missing
// components made as directories. Never through a symlink: openat2 with
// RESOLVE_NO_SYMLINKS for the whole path, a component walk with O_NOFOLLOW
// when something is missing (or openat2 is).
int Extractor::dir_fd(const std::string& path, const std::string& entry) {
  if (path.empty()) return root_;
  if (cached_fd_ && path == cached_path_) return cached_fd_.get();
  struct open_how how {};
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  os::UniqueFd fd(os::sys::openat2(root_, path.c_str(), &how, sizeof how));
  if (!fd) fd = walk_dirs(path, entry, true);
  cached_fd_ = std::move(fd);
  cached_path_ = path;
  return cached_fd_.get();
}

os::UniqueFd Extractor::walk_dirs(const std::string& path, const std::string& entry, bool create) {
  os::UniqueFd cur(::openat(root_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!cur) fail_errno(entry, "open the layer's directory", errno);
  std::string done;
  size_t at = 0;
  while (at < path.size()) {
    size_t end = path.find('/', at);
    if (end == std::string::npos) end = path.size();
    const std::string name = path.substr(at, end - at);
    at = end + 1;
    done = join_path(done, name);
    int fd = ::openat(cur.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (::mkdirat(cur.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
        fail_errno(entry, "create the directory " + os::quote(done), errno);
      fd = ::openat(cur.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      int err = errno;
      struct stat st {};
      if (::fstatat(cur.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        fail(entry, "refusing a path through the symlink " + os::quote(done) +
                        " (a layer writes inside the image only: a broken or malicious image)");
      if (err == ENOTDIR) fail(entry, os::quote(done) + " is not a directory");
      fail_errno(entry, "open " + os::quote(done), err);
    }
    cur.reset(fd);
  }
  return cur;
}

os::UniqueFd Extractor::open_existing_dir(const std::string& path, const std::string& entry) {
  if (path.empty()) {
    os::UniqueFd fd(::openat(root_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail_errno(entry, "open the layer's directory", errno);
    return fd;
  }
  return walk_dirs(path, entry, false);
}

// Whatever `name` is now goes: a later entry of a name replaces an earlier one.
void Extractor::remove_slot(int pfd, const std::string& name, const std::string& entry) {
  struct stat st {};
  if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return;
    fail_errno(entry, "stat", errno);
  }
  if (S_ISDIR(st.st_mode)) {
    try {
      os::remove_tree_at(pfd, name);
    } catch (const std::exception& ex) {
      fail(entry, std::string("replace the directory: ") + ex.what());
    }
    cached_fd_.reset();  // it may have been the cached parent, or above it
    return;
  }
  if (::unlinkat(pfd, name.c_str(), 0) != 0 && errno != ENOENT) fail_errno(entry, "replace", errno);
}

// make() returns 0, or -1 with errno; EEXIST: the earlier entry goes first.
template <typename Make>
void Extractor::make_replacing(int pfd, const std::string& name, const std::string& entry, const char* step,
                               Make make) {
  if (make() == 0) return;
  if (errno != EEXIST) fail_errno(entry, step, errno);
  remove_slot(pfd, name, entry);
  if (make() != 0) fail_errno(entry, step, errno);
}

void Extractor::entry(archive* a, archive_entry* e) {
  const char* raw = libarchive().pathname(e);
  const std::string entry = raw ? raw : "";
  if (entry.empty()) fail(entry, "an entry without a name");
  const char* why = "";
  std::optional<std::string> path = clean_path(entry, &why);
  if (!path) fail(entry, why);
  if (libarchive().hardlink(e)) {
    // Before the root check: a hard link has no type of its own.
    if (path->empty()) fail(entry, "a hard link in place of the layer's root");
    auto [parent, base] = split_path(*path);
    make_hardlink(dir_fd(parent, entry), *path, base, entry, e);
    record_made(*path);
    return;
  }
  const mode_t type = libarchive().filetype(e);
  if (path->empty()) {
    // "./": the layer's root itself; only its metadata.
    if (type != AE_IFDIR) fail(entry, "the layer's root is not a directory");
    mode_t mode = libarchive().perm(e) & 07777;
    if (o_.own_root) {
      mode |= 0700;
    } else {
      set_owner(root_, nullptr, 0, e, entry);
    }
    if (::fchmod(root_, mode) != 0) fail_errno(entry, "chmod", errno);
    set_xattrs(root_, e, entry);
    DirTimes t{"", {}};
    entry_times(e, t.times);
    dir_times_.push_back(t);
    return;
  }
  auto [parent, base] = split_path(*path);
  if (o_.whiteouts != Whiteouts::keep && starts_with(base, kWh)) {
    whiteout(parent, base, entry);
    return;
  }
  // fuse-overlayfs (1.10) shows the lower layers' entries of a directory
  // whose `.wh..wh..opq` file is there once the directory was listed from
  // its parent; its own opaque xattr alone it always honours.
  if (base == kOpaque) {
    mark_fuse_opaque(dir_fd(parent, entry), entry);
    return;
  }
  int pfd = dir_fd(parent, entry);
  switch (type) {
    case AE_IFREG:
      make_file(pfd, base, entry, a, e);
      break;
    case AE_IFDIR:
      make_dir(pfd, *path, base, entry, e);
      break;
    case AE_IFLNK:
      make_symlink(pfd, base, entry, e);
      break;
    case AE_IFIFO:
      make_fifo(pfd, base, entry, e);
      break;
    case AE_IFCHR:
    case AE_IFBLK:
      // Rootless cannot make them, and a container gets its /dev from the
      // runtime anyway: skipped, one warning per layer (finish()).
      if (devices_++ == 0) first_device_ = *path;
      return;
    default:
      return;  // sockets: nothing a tar can carry
  }
  record_made(*path);
}

void Extractor::make_file(int pfd, const std::string& name, const std::string& entry, archive* a, archive_entry* e) {
  os::UniqueFd fd;
  make_replacing(pfd, name, entry, "create", [&] {
    fd.reset(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    return fd ? 0 : -1;
  });
  // Blocks at their offsets: a sparse file stays sparse.
  int64_t end = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    int r = libarchive().data_block(a, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN)
      fail(entry, "a damaged layer: " + (in_.error().empty() ? archive_error(a, "cannot read the data") : in_.error()));
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      ssize_t n = ::pwrite(fd.get(), p, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno(entry, "write", errno);
      p += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    end = std::max<int64_t>(end, offset);
  }
  if (end < libarchive().size(e) && ::ftruncate(fd.get(), libarchive().size(e)) != 0)
    fail_errno(entry, "truncate", errno);
  // chown clears setuid, setgid and security.capability: they come after.
  set_owner(fd.get(), nullptr, 0, e, entry);
  if (::fchmod(fd.get(), libarchive().perm(e) & 07777) != 0) fail_errno(entry, "chmod", errno);
  set_xattrs(fd.get(), e, entry);
  struct timespec ts[2];
  entry_times(e, ts);
  if (::futimens(fd.get(), ts) != 0) fail_errno(entry, "set the times", errno);
}

void Extractor::make_dir(int pfd, const std::string& path, const std::string& name, const std::string& entry,
                         archive_entry* e) {
  if (::mkdirat(pfd, name.c_str(), 0700) != 0) {
    if (errno != EEXIST) fail_errno(entry, "create", errno);
    struct stat st {};
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(entry, "stat", errno);
    if (!S_ISDIR(st.st_mode)) {
      // An earlier entry of another type; a directory there keeps its contents.
      remove_slot(pfd, name, entry);
      if (::mkdirat(pfd, name.c_str(), 0700) != 0) fail_errno(entry, "create", errno);
    }
  }
  os::UniqueFd fd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) fail_errno(entry, "open", errno);
  set_owner(fd.get(), nullptr, 0, e, entry);
  if (::fchmod(fd.get(), libarchive().perm(e) & 07777) != 0) fail_errno(entry, "chmod", errno);
  set_xattrs(fd.get(), e, entry);
  DirTimes t{path, {}};
  entry_times(e, t.times);
  dir_times_.push_back(t);
}

void Extractor::make_symlink(int pfd, const std::string& name, const std::string& entry, archive_entry* e) {
  const char* target = libarchive().symlink(e);
  if (!target || !*target) fail(entry, "a symlink without a target");
  // The target is text, resolved later inside the container: an absolute
  // or `..` target is fine here, nothing follows it while unpacking.
  make_replacing(pfd, name, entry, "create the symlink", [&] { return ::symlinkat(target, pfd, name.c_str()); });
  set_owner(pfd, name.c_str(), AT_SYMLINK_NOFOLLOW, e, entry);
  struct timespec ts[2];
  entry_times(e, ts);
  if (::utimensat(pfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(entry, "set the times", errno);
}

void Extractor::make_fifo(int pfd, const std::string& name, const std::string& entry, archive_entry* e) {
  make_replacing(pfd, name, entry, "create the fifo", [&] { return ::mkfifoat(pfd, name.c_str(), 0600); });
  set_owner(pfd, name.c_str(), AT_SYMLINK_NOFOLLOW, e, entry);
  if (::fchmodat(pfd, name.c_str(), libarchive().perm(e) & 07777, AT_SYMLINK_NOFOLLOW) != 0)
    fail_errno(entry, "chmod", errno);
  struct timespec ts[2];
  entry_times(e, ts);
  if (::utimensat(pfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) fail_errno(entry, "set the times", errno);
}

// A hard link to an earlier entry of this layer (or, flattened, of a lower
// one): its target is resolved like an entry's name, never through a
// symlink; a target that is itself a symlink is linked, not followed.
void Extractor::make_hardlink(int pfd, const std::string& path, const std::string& name, const std::string& entry,
                              archive_entry* e) {
  const std::string raw_target = libarchive().hardlink(e);
  const char* why = "";
  std::optional<std::string> target = clean_path(raw_target, &why);
  if (!target) fail(entry, "hard link to " + os::quote(raw_target) + ": " + why);
  if (target->empty()) fail(entry, "a hard link to the layer's root");
  if (*target == path) return;  // to itself: already there
  // Not a structured binding: clang 14 (the fuzz build) cannot capture one.
  const std::pair<std::string, std::string> tsplit = split_path(*target);
  const std::string& tbase = tsplit.second;
  os::UniqueFd tfd = open_existing_dir(tsplit.first, entry);
  make_replacing(pfd, name, entry, ("hard link to " + os::quote(raw_target)).c_str(),
                 [&] { return ::linkat(tfd.get(), tbase.c_str(), pfd, name.c_str(), 0); });
}

// `.wh.NAME` and `.wh..wh..opq` in the form o_.whiteouts asks for.
void Extractor::whiteout(const std::string& parent, const std::string& base, const std::string& entry) {
  int pfd = dir_fd(parent, entry);
  if (base == kOpaque) {
    if (o_.whiteouts == Whiteouts::apply)
      remove_lower(parent, pfd, entry);
    else
      mark_opaque(pfd, "y", entry);
    return;
  }
  const std::string name = base.substr(kWh.size());
  if (name.empty() || name == "." || name == "..") fail(entry, "not a whiteout of a name");
  if (o_.whiteouts == Whiteouts::apply) {
    const std::string path = join_path(parent, name);
    if (made_.count(path) || made_above_.count(path)) return;  // whiteouts hide lower layers only
    remove_slot(pfd, name, entry);
    return;
  }
  // Kernel overlay (6.7+): an empty regular file with the whiteout xattr,
  // in a directory marked as holding such files.
  os::UniqueFd fd;
  make_replacing(pfd, name, entry, "create the whiteout", [&] {
    fd.reset(::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    return fd ? 0 : -1;
  });
  const std::string attr = std::string(xattr_prefix()) + "whiteout";
  if (::fsetxattr(fd.get(), attr.c_str(), "", 0, 0) != 0) fail_errno(entry, "set " + attr, errno);
  mark_opaque(pfd, "x", entry);
}

// overlay.opaque: "y" hides the lower layers' contents of the directory;
// "x" only says that it holds xattr whiteouts, and never replaces a "y".
void Extractor::mark_opaque(int pfd, const char* value, const std::string& entry) {
  os::UniqueFd dir(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) fail_errno(entry, "open its directory", errno);
  const std::string attr = std::string(xattr_prefix()) + "opaque";
  if (value[0] == 'x') {
    char cur[2] = {};
    if (::fgetxattr(dir.get(), attr.c_str(), cur, sizeof cur) == 1 && cur[0] == 'y') return;
  }
  if (::fsetxattr(dir.get(), attr.c_str(), value, 1, 0) != 0) fail_errno(entry, "set " + attr, errno);
}

void Extractor::mark_fuse_opaque(int pfd, const std::string& entry) {
  os::UniqueFd dir(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) fail_errno(entry, "open its directory", errno);
  if (::fsetxattr(dir.get(), "user.fuseoverlayfs.opaque", "y", 1, 0) != 0)
    fail_errno(entry, "set user.fuseoverlayfs.opaque", errno);
}

// An opaque whiteout, flattened: the directory keeps only what this layer made.
void Extractor::remove_lower(const std::string& dir_path, int pfd, const std::string& entry) {
  // Its entries usually come after the marker (the OCI order); made before
  // it, they are kept, and so are the directories above them, whose lower
  // contents go all the same.
  os::UniqueFd fd(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) fail_errno(entry, "open its directory", errno);
  std::vector<std::string> names;
  {
    DIR* d = ::fdopendir(::dup(fd.get()));
    if (!d) fail_errno(entry, "list its directory", errno);
    while (struct dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  for (const std::string& n : names) {
    const std::string path = join_path(dir_path, n);
    if (made_above_.count(path)) {
      os::UniqueFd sub(::openat(fd.get(), n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) {
        remove_lower(path, sub.get(), entry);
        continue;
      }
    }
    if (!made_.count(path)) remove_slot(fd.get(), n, entry);
  }
}

void Extractor::record_made(const std::string& path) {
  if (o_.whiteouts != Whiteouts::apply) return;
  made_.insert(path);
  for (size_t slash = path.rfind('/'); slash != std::string::npos && slash > 0; slash = path.rfind('/', slash - 1))
    if (!made_above_.insert(path.substr(0, slash)).second) break;
}

void Extractor::set_owner(int fd, const char* name, int flags, archive_entry* e, const std::string& entry) {
  // A single mapping: every id is 0, which is who makes the files.
  if (o_.squash) return;
  const la_int64_t uid = libarchive().uid(e), gid = libarchive().gid(e);
  if (uid < 0 || gid < 0 || uid > UINT32_MAX - 1 || gid > UINT32_MAX - 1) fail(entry, "an owner out of range");
  auto chown = [&](uid_t u, gid_t g) { return name ? ::fchownat(fd, name, u, g, flags) : ::fchown(fd, u, g); };
  if (chown(static_cast<uid_t>(uid), static_cast<gid_t>(gid)) == 0) return;
  // EINVAL: an id the user namespace does not map (past the subordinate
  // range); the file stays 0's, and finish() says so once.
  if (errno != EINVAL) fail_errno(entry, "chown", errno);
  if (unmapped_++ == 0) first_unmapped_ = entry + " (" + std::to_string(uid) + ":" + std::to_string(gid) + ")";
  if (chown(0, 0) != 0) fail_errno(entry, "chown", errno);
}

void Extractor::set_xattrs(int fd, archive_entry* e, const std::string& entry) {
  if (libarchive().xattr_reset(e) == 0) return;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  while (libarchive().xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
    if (!name || overlay_xattr(name)) continue;
    if (::fsetxattr(fd, name, value, size, 0) == 0) continue;
    if (!required_xattr(name) && not_permitted(errno)) continue;
    fail_errno(entry, std::string("set the xattr ") + name, errno);
  }
}

void Extractor::entry_times(archive_entry* e, struct timespec ts[2]) {
  ts[1] = libarchive().mtime_is_set(e) ? timespec{libarchive().mtime(e), libarchive().mtime_nsec(e)}
                                       : timespec{0, UTIME_OMIT};
  ts[0] = libarchive().atime_is_set(e) ? timespec{libarchive().atime(e), libarchive().atime_nsec(e)} : ts[1];
}

void Extractor::finish() {
  // Directories last, as they were listed (a later entry of one wins).
  for (const DirTimes& t : dir_times_) {
    os::UniqueFd fd;
    if (t.path.empty()) {
      fd.reset(::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    } else {
      struct open_how how {};
      how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
      how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
      fd.reset(os::sys::openat2(root_, t.path.c_str(), &how, sizeof how));
      if (!fd && errno == ENOSYS) fd = walk_dirs(t.path, t.path, false);
    }
    if (!fd) continue;  // replaced or removed by a later entry
    if (::futimens(fd.get(), t.times) != 0) fail_errno(t.path, "set the times", errno);
  }
  if (devices_ > 0)
    warn(o_.what + ": skipped " + std::to_string(devices_) + " device node" + (devices_ > 1 ? "s" : "") + " (" +
         os::quote(first_device_) + (devices_ > 1 ? ", ..." : "") +
         "): they cannot be made without privileges; a container gets its /dev from the runtime");
  if (unmapped_ > 0)
    warn(o_.what + ": " + std::to_string(unmapped_) + " entr" + (unmapped_ > 1 ? "ies are" : "y is") +
         " owned by ids the user namespace does not map (" + first_unmapped_ + "): owned by 0 instead");
}

}  // namespace

void load_libarchive() {
  libarchive();
}

void extract_layer(int src, int root, const ExtractOptions& o) {
  load_libarchive();
  // Modes are set explicitly; the parents a tar leaves out are 0755.
  mode_t old_umask = ::umask(0);
  struct RestoreUmask {
    mode_t m;
    ~RestoreUmask() { ::umask(m); }
  } restore{old_umask};

  Uncompressed in(src, o);
  ArchivePtr tar(libarchive().read_new());
  if (!tar) throw os::Error("libarchive: out of memory");
  libarchive().format_tar(tar.get());
  libarchive().format_empty(tar.get());
  // A decompression error is a damaged layer; a tar error at the first
  // header, not a layer at all.
  auto read_error = [&](bool first) {
    if (!in.error().empty()) return os::Error(o.what + ": a damaged layer: " + in.error());
    return os::Error(o.what + (first ? ": not a tar archive (tar, tar+gzip or tar+zstd): " : ": a damaged layer: ") +
                     archive_error(tar.get(), "cannot read"));
  };
  if (libarchive().open(tar.get(), &in, nullptr, &Uncompressed::read_tar, nullptr) != ARCHIVE_OK)
    throw read_error(true);
  Extractor x(root, o, in);
  for (bool first = true;; first = false) {
    archive_entry* e = nullptr;
    int r = libarchive().next_header(tar.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) throw read_error(first);
    x.entry(tar.get(), e);
  }
  x.finish();
  std::string got;
  try {
    got = in.finish();
  } catch (const std::exception& e) {
    throw os::Error(o.what + ": a damaged layer: " + e.what());
  }
  if (!o.diff_id.empty() && got != o.diff_id)
    throw os::Error(o.what + ": the uncompressed layer is " + got + ", the image config says " + o.diff_id +
                    " (diff_id): a corrupt or altered layer");
}

void warn(const std::string& msg) {
  std::string line = "rrun: warning: " + msg + "\n";
  os::write_all(STDERR_FILENO, line);
}

}  // namespace rrun::image
