#include "ref.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <string_view>

#include <rrun/os/error.hpp>

#include "digest.hpp"

namespace rrun::image {

namespace {

constexpr std::string_view kDockerHub = "docker.io";
constexpr std::string_view kDockerHubApi = "registry-1.docker.io";
constexpr const char* kExpected =
    "expected docker://HOST/NAME:TAG, NAME[:TAG|@DIGEST], oci:DIR[:TAG], oci-archive:FILE[:TAG] or "
    "docker-archive:FILE";

[[noreturn]] void invalid(const std::string& text, const std::string& what) {
  throw os::Error("invalid image reference \"" + text + "\": " + what + "; " + kExpected);
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A repository path component as the distribution spec has it:
// [a-z0-9]+ joined by one of `.`, `_`, `__` or a run of `-`.
bool valid_component(std::string_view c) {
  if (c.empty() || !is_lower_alnum(c.front()) || !is_lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (is_lower_alnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !is_lower_alnum(c[j])) ++j;
    std::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// HOST[:PORT]: DNS labels or an IPv4 address, or [IPv6]; PORT digits.
bool valid_host(std::string_view h) {
  std::string_view port;
  if (h.starts_with("[")) {
    size_t close = h.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : h.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    std::string_view rest = h.substr(close + 1);
    if (rest.empty()) return true;
    if (rest[0] != ':') return false;
    port = rest.substr(1);
  } else {
    size_t colon = h.find(':');
    std::string_view name = h.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = h.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (name.empty() || name.front() == '.' || name.back() == '.' || name.front() == '-') return false;
    for (char c : name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  }
  if (port.size() > 5) return false;
  for (char c : port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// A tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128 || t[0] == '.' || t[0] == '-') return false;
  for (char c : t)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// The first component is a registry when it looks like a host: it has a
// `.` or a `:`, or is `localhost` (docker's rule).
bool looks_like_host(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost" || first.starts_with("[");
}

void parse_digest(const std::string& text, std::string_view d, ImageRef& r) {
  if (!d.starts_with("sha256:")) {
    size_t colon = d.find(':');
    if (colon != std::string_view::npos && colon > 0)
      invalid(text, "digest algorithm \"" + std::string(d.substr(0, colon)) + "\" is not supported (only sha256)");
    invalid(text, "digest \"" + std::string(d) + "\" is not sha256:<64 hex digits>");
  }
  if (!valid_digest(d)) invalid(text, "digest \"" + std::string(d) + "\" is not sha256:<64 hex digits>");
  r.digest = std::string(d);
}

void parse_repository(const std::string& text, std::string_view repo, ImageRef& r) {
  if (repo.empty()) invalid(text, "the image name is empty");
  if (repo.size() > 255) invalid(text, "the image name is longer than 255 characters");
  size_t start = 0;
  while (start <= repo.size()) {
    size_t end = repo.find('/', start);
    if (end == std::string_view::npos) end = repo.size();
    std::string_view c = repo.substr(start, end - start);
    if (!valid_component(c)) {
      bool upper = false;
      for (char ch : c) upper |= std::isupper(static_cast<unsigned char>(ch)) != 0;
      invalid(text, "name component \"" + std::string(c) + "\" " +
                        (upper ? "has upper-case letters (image names are lower-case)"
                               : "is not lower-case letters and digits joined by `.`, `_`, `__` or `-`"));
    }
    start = end + 1;
  }
  r.repository = std::string(repo);
}

// [HOST[:PORT]/]NAME[:TAG|@DIGEST]
ImageRef parse_docker(const std::string& text, std::string_view s) {
  ImageRef r;
  r.transport = Transport::docker;
  if (s.empty()) invalid(text, "the image name is empty");
  size_t at = s.find('@');
  if (at != std::string_view::npos) {
    parse_digest(text, s.substr(at + 1), r);
    s = s.substr(0, at);
  }
  size_t slash = s.find('/');
  if (slash != std::string_view::npos && looks_like_host(s.substr(0, slash))) {
    std::string_view host = s.substr(0, slash);
    if (!valid_host(host)) invalid(text, "registry \"" + std::string(host) + "\" is not HOST[:PORT]");
    r.registry = std::string(host);
    s = s.substr(slash + 1);
  } else {
    r.registry = std::string(kDockerHub);
  }
  size_t last_slash = s.rfind('/');
  size_t colon = s.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    std::string_view tag = s.substr(colon + 1);
    if (!valid_tag(tag))
      invalid(text, "tag \"" + std::string(tag) + "\" is not letters, digits, `_`, `.` and `-` (at most 128)");
    if (!r.digest.empty()) invalid(text, "both a tag and a digest; give one of them");
    r.tag = std::string(tag);
    s = s.substr(0, colon);
  }
  // A host without a name ("127.0.0.1:5000") reads as a name with a tag.
  if (s.find(':') != std::string_view::npos) invalid(text, "a `:` inside the name (the tag goes last: NAME:TAG)");
  if (s.empty()) invalid(text, "the image name is empty");
  std::string name(s);
  if (r.registry == kDockerHub || r.registry == "index.docker.io") {
    r.registry = std::string(kDockerHubApi);
    if (name.find('/') == std::string::npos) name = "library/" + name;
  }
  parse_repository(text, name, r);
  if (r.tag.empty() && r.digest.empty()) r.tag = "latest";
  return r;
}

// DIR made absolute against the cwd, `.` and `..` resolved in the text.
std::string absolute_path(const std::string& text, std::string_view p) {
  if (p.empty()) invalid(text, "the path is empty");
  std::filesystem::path path(p);
  if (path.is_relative()) {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd))
      os::throw_errno("image reference \"" + text + "\": cannot get the current directory");
    path = std::filesystem::path(cwd) / path;
  }
  std::string out = path.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

// The name inside a layout or archive (org.opencontainers.image.ref.name,
// a RepoTags entry): printable, no white space.
void check_inner_name(const std::string& text, const std::string& name) {
  for (char c : name)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      invalid(text, "the name inside the layout has white space or control characters");
}

// PATH[:NAME]: the path ends at the first `:` (as the containers tools
// read it: a path with `:` cannot be named).
ImageRef parse_path_ref(const std::string& text, std::string_view rest, Transport t) {
  ImageRef r;
  r.transport = t;
  size_t colon = rest.find(':');
  r.path = absolute_path(text, rest.substr(0, colon));
  if (colon != std::string_view::npos) {
    r.tag = std::string(rest.substr(colon + 1));
    if (r.tag.empty()) invalid(text, "the name after `:` is empty");
    check_inner_name(text, r.tag);
  }
  return r;
}

const char* transport_prefix(Transport t) {
  switch (t) {
    case Transport::docker:
      return "docker://";
    case Transport::oci:
      return "oci:";
    case Transport::oci_archive:
      return "oci-archive:";
    case Transport::docker_archive:
      return "docker-archive:";
  }
  return "";
}

}  // namespace

std::string ImageRef::canonical() const {
  std::string out = transport_prefix(transport);
  if (transport != Transport::docker) return out + path + (tag.empty() ? "" : ":" + tag);
  out += registry == kDockerHubApi ? std::string(kDockerHub) : registry;
  out += "/" + repository;
  return out + (digest.empty() ? ":" + tag : "@" + digest);
}

ImageRef parse_ref(const std::string& text) {
  std::string_view s = text;
  if (s.starts_with("docker://")) return parse_docker(text, s.substr(9));
  if (s.starts_with("oci:")) return parse_path_ref(text, s.substr(4), Transport::oci);
  if (s.starts_with("oci-archive:")) return parse_path_ref(text, s.substr(12), Transport::oci_archive);
  if (s.starts_with("docker-archive:")) return parse_path_ref(text, s.substr(15), Transport::docker_archive);
  if (s.starts_with("docker:")) invalid(text, "the docker transport is written docker://");
  for (const char* other : {"docker-daemon:", "containers-storage:", "dir:", "sif:", "tarball:", "ostree:"})
    if (s.starts_with(other))
      invalid(text, "transport \"" + std::string(other) + "\" is not supported by rrun (skopeo copy it to oci:DIR)");
  return parse_docker(text, s);
}

}  // namespace rrun::image
