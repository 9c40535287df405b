#include "archive_dir.hpp"

#include <fcntl.h>
#include <sys/types.h>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "archive_lib.hpp"

namespace rrun::image {

namespace {

std::string parent_of(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? "" : name.substr(0, slash);
}

// Writes the current entry's data to `path` (a new file).
void write_entry(const ArchiveApi& api, archive* a, const std::string& path, const std::string& what) {
  ::unlink(path.c_str());  // a later entry of the same name replaces an earlier one
  os::UniqueFd fd = os::open_file(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
  char buf[1 << 16];
  for (;;) {
    la_ssize_t n = api.data(a, buf, sizeof buf);
    if (n < 0) throw os::Error(what + ": " + (api.error_string(a) ? api.error_string(a) : "read error"));
    if (n == 0) break;
    os::write_all(fd, std::string_view(buf, static_cast<size_t>(n)));
  }
}

}  // namespace

std::string archive_name(const std::string& name) {
  if (name.starts_with("/")) return "";
  std::vector<std::string> parts;
  for (const std::string& p : os::split(name, '/')) {
    if (p == ".") continue;
    if (p == "..") {
      if (parts.empty()) return "";
      parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

ExtractedArchive::ExtractedArchive(const Store& store, const std::string& archive_path) : archive_(archive_path) {
  const ArchiveApi& api = libarchive();
  if (!os::path_exists(archive_path)) throw os::Error(os::quote(archive_path) + ": no such file");
  dir_ = store.make_tmp_dir("archive");
  try {
    struct Reader {
      const ArchiveApi& api;
      archive* a;
      ~Reader() { api.read_free(a); }
    } r{api, api.read_new()};
    api.filter_all(r.a);
    api.format_tar(r.a);
    auto bad_tar = [&] {
      const char* detail = api.error_string(r.a);
      return os::Error(os::quote(archive_path) + ": not a tar archive, or a damaged one (" + (detail ? detail : "?") +
                       ")");
    };
    if (api.open_filename(r.a, archive_path.c_str(), 1 << 16) != ARCHIVE_OK) throw bad_tar();
    archive_entry* e = nullptr;
    for (;;) {
      int rc = api.next_header(r.a, &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) throw bad_tar();
      const char* raw = api.pathname(e);
      std::string name = archive_name(raw ? raw : "");
      const std::string what = os::quote(archive_path) + ": " + (raw ? raw : "?");
      if (name.empty()) {
        if (raw && archive_name(std::string(raw) + "/x") == "x") continue;  // "./" itself
        throw os::Error(what + ": the entry's name leaves the archive");
      }
      if (const char* hard = api.hardlink(e)) {
        links_[name] = archive_name(hard);
        continue;
      }
      switch (api.filetype(e)) {
        case AE_IFDIR:
          os::mkdir_p(dir_ + "/" + name, 0700);
          break;
        case AE_IFREG:
          os::mkdir_p(dir_ + "/" + parent_of(name), 0700);
          write_entry(api, r.a, dir_ + "/" + name, what);
          break;
        case AE_IFLNK: {
          const char* target = api.symlink(e);
          std::string t = target ? std::string(target) : "";
          links_[name] = t.starts_with("/") ? "" : archive_name(parent_of(name) + "/" + t);
          break;
        }
        default:
          break;  // devices, fifos: nothing an image archive holds
      }
    }
  } catch (...) {
    os::remove_tree(dir_);
    throw;
  }
}

ExtractedArchive::~ExtractedArchive() {
  try {
    os::remove_tree(dir_);
  } catch (...) {
    // prune removes what is left in tmp/
  }
}

std::string ExtractedArchive::resolve(const std::string& name) const {
  std::string n = archive_name(name);
  for (int hops = 0; hops < 16 && !n.empty(); ++hops) {
    auto it = links_.find(n);
    if (it == links_.end()) {
      std::string path = dir_ + "/" + n;
      return os::path_exists(path) ? path : "";
    }
    n = it->second;
  }
  return "";
}

}  // namespace rrun::image
