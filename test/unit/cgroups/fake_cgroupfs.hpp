#pragma once
// Helpers for the driver tests, which run on temp dirs laid out like
// cgroupfs: regular files stand in for the cgroup files, and WriteLog sees
// (and can fail) every write a driver makes through cgfs.

#include <functional>
#include <string>
#include <vector>

#include <rrun/cgroups/cgfs.hpp>
#include <rrun/os/file.hpp>

namespace rrun::test {

// Creates `path` (and its directory) with `text`.
inline void put(const std::string& path, const std::string& text) {
  os::mkdir_p(cgroups::cgfs::dirname(path));
  os::write_file_atomic(path, text);
}

// The content of `path` without trailing newlines.
inline std::string get(const std::string& path) {
  std::string s = os::read_file(path);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

// Records every cgroup write as "PATH=VALUE" (PATH relative to `base`) and
// fails the ones `fail` names with the errno it returns.
struct WriteLog {
  std::vector<std::string> writes;
  std::function<int(const std::string&, const std::string&)> fail;
  explicit WriteLog(const std::string& base) {
    cgroups::cgfs::set_write_hook([this, base](const std::string& path, const std::string& value) {
      std::string rel = path.compare(0, base.size(), base) == 0 ? path.substr(base.size()) : path;
      writes.push_back(rel + "=" + value);
      return fail ? fail(rel, value) : 0;
    });
  }
  ~WriteLog() { cgroups::cgfs::set_write_hook(nullptr); }
  WriteLog(const WriteLog&) = delete;
  WriteLog& operator=(const WriteLog&) = delete;
};

}  // namespace rrun::test
