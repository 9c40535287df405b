#include "archive_dir.hpp"

#include <fcntl.h>
#include <sys/types.h>

#include <archive.h>
#include <archive_entry.h>

#include <rrun/os/error.hpp>
#include <rrun/os/file.hpp>
#include <rrun/os/text.hpp>

#include "libs.hpp"

namespace rrun::image {

namespace {

struct ArchiveApi {
  archive* (*read_new)();
  int (*support_filter_all)(archive*);
  int (*support_format_tar)(archive*);
  int (*open_filename)(archive*, const char*, size_t);
  int (*next_header)(archive*, archive_entry**);
  la_ssize_t (*read_data)(archive*, void*, size_t);
  const char* (*error_string)(archive*);
  int (*read_free)(archive*);
  const char* (*entry_pathname)(archive_entry*);
  __LA_MODE_T (*entry_filetype)(archive_entry*);
  const char* (*entry_symlink)(archive_entry*);
  const char* (*entry_hardlink)(archive_entry*);
};

const ArchiveApi& archive_api() {
  static const ArchiveApi api = [] {
    ArchiveApi a{};
    load_symbols("libarchive.so.13", "libarchive13",
                 {{reinterpret_cast<void**>(&a.read_new), "archive_read_new"},
                  {reinterpret_cast<void**>(&a.support_filter_all), "archive_read_support_filter_all"},
                  {reinterpret_cast<void**>(&a.support_format_tar), "archive_read_support_format_tar"},
                  {reinterpret_cast<void**>(&a.open_filename), "archive_read_open_filename"},
                  {reinterpret_cast<void**>(&a.next_header), "archive_read_next_header"},
                  {reinterpret_cast<void**>(&a.read_data), "archive_read_data"},
                  {reinterpret_cast<void**>(&a.error_string), "archive_error_string"},
                  {reinterpret_cast<void**>(&a.read_free), "archive_read_free"},
                  {reinterpret_cast<void**>(&a.entry_pathname), "archive_entry_pathname"},
                  {reinterpret_cast<void**>(&a.entry_filetype), "archive_entry_filetype"},
                  {reinterpret_cast<void**>(&a.entry_symlink), "archive_entry_symlink"},
                  {reinterpret_cast<void**>(&a.entry_hardlink), "archive_entry_hardlink"}});
    return a;
  }();
  return api;
}

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
    la_ssize_t n = api.read_data(a, buf, sizeof buf);
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
  const ArchiveApi& api = archive_api();
  if (!os::path_exists(archive_path)) throw os::Error(os::quote(archive_path) + ": no such file");
  dir_ = store.make_tmp_dir("archive");
  try {
    struct Reader {
      const ArchiveApi& api;
      archive* a;
      ~Reader() { api.read_free(a); }
    } r{api, api.read_new()};
    api.support_filter_all(r.a);
    api.support_format_tar(r.a);
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
      const char* raw = api.entry_pathname(e);
      std::string name = archive_name(raw ? raw : "");
      const std::string what = os::quote(archive_path) + ": " + (raw ? raw : "?");
      if (name.empty()) {
        if (raw && archive_name(std::string(raw) + "/x") == "x") continue;  // "./" itself
        throw os::Error(what + ": the entry's name leaves the archive");
      }
      if (const char* hard = api.entry_hardlink(e)) {
        links_[name] = archive_name(hard);
        continue;
      }
      switch (api.entry_filetype(e)) {
        case AE_IFDIR:
          os::mkdir_p(dir_ + "/" + name, 0700);
          break;
        case AE_IFREG:
          os::mkdir_p(dir_ + "/" + parent_of(name), 0700);
          write_entry(api, r.a, dir_ + "/" + name, what);
          break;
        case AE_IFLNK: {
          const char* target = api.entry_symlink(e);
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
