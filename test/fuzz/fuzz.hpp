#pragma once
// Helpers shared by the libFuzzer targets of test/fuzz/ (README.md there).

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rrun::fuzz {

// Runs a parser on fuzzed input: a refusal (an exception) is the expected
// answer to most inputs; anything else (a crash, a sanitizer report) is not.
template <class F>
void try_parse(F&& f) {
  try {
    f();
  } catch (const std::exception&) {
  }
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input as named sections, for targets that read several files: a line
// "== NAME" starts the section NAME (its text up to the next such line);
// what comes before the first one is the section "". Seeds stay readable.
inline std::vector<std::pair<std::string, std::string>> sections(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> out{{"", ""}};
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t nl = in.find('\n', pos);
    std::string_view line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    if (line.substr(0, 3) == "== ") {
      out.emplace_back(std::string(line.substr(3)), "");
    } else {
      out.back().second.append(line);
      if (nl != std::string_view::npos) out.back().second += '\n';
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return out;
}

// A file name a section may be written under: one plain component.
inline bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

// Removes everything under the directory `fd` (not the directory itself),
// never crossing into another file system; directories a layer made 0000
// are opened up first. The fuzzers' own scratch directories only.
inline void clear_dir_fd(int fd) {
  struct stat top;
  if (::fstat(fd, &top) != 0) return;
  int dup = ::dup(fd);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    return;
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& n : names) {
    struct stat st;
    if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode) && st.st_dev == top.st_dev) {
      ::fchmodat(fd, n.c_str(), 0700, 0);
      int sub = ::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        clear_dir_fd(sub);
        ::close(sub);
      }
      ::unlinkat(fd, n.c_str(), AT_REMOVEDIR);
    } else if (!S_ISDIR(st.st_mode)) {
      ::unlinkat(fd, n.c_str(), 0);
    }
  }
}

// A scratch directory of this process under /dev/shm (a tmpfs: no disk
// writes), removed at exit. libFuzzer's -jobs run one process per job, so
// each has its own.
class Scratch {
 public:
  Scratch() {
    const char* base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(base) + "/rrun-fuzz-XXXXXX";
    if (!::mkdtemp(path_.data())) {
      std::perror("rrun-fuzz: mkdtemp");
      std::abort();
    }
    fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) std::abort();
  }
  ~Scratch() {
    clear();
    ::close(fd_);
    ::rmdir(path_.c_str());
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  void clear() const { clear_dir_fd(fd_); }
  void write(const std::string& name, std::string_view text) const {
    int f = ::openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f < 0) return;
    for (size_t off = 0; off < text.size();) {
      ssize_t n = ::write(f, text.data() + off, text.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(f);
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace rrun::fuzz
