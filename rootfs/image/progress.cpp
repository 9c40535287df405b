#include "progress.hpp"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

namespace rrun::image {

namespace {

// At most 10 redraws a second: a terminal redrawn per 16 KiB read would
// cost more than the download.
constexpr int64_t kRedrawNs = 100'000'000;

int64_t now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// "812 B", "12.3 KiB", "4.0 MiB", "1.2 GiB"
std::string human_bytes(double n) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (n >= 1024 && u < 4) n /= 1024, ++u;
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%.0f %s", n, kUnits[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", n, kUnits[u]);
  return buf;
}

std::string seconds(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

std::string rate(uint64_t bytes, int64_t ns) {
  if (ns <= 0) return "";
  return human_bytes(static_cast<double>(bytes) * 1e9 / static_cast<double>(ns)) + "/s";
}

// Writes the whole text to stdout; progress is best effort, a failed write
// (a closed terminal) is dropped.
void put(std::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// "\r" back to the start of the line, the text, and ESC[K clearing what a
// longer previous line left.
void redraw(const std::string& line) {
  put("\r" + line + "\x1b[K");
}

}  // namespace

Progress Progress::for_stdout(bool quiet) {
  return Progress(!quiet && ::isatty(STDOUT_FILENO) == 1);
}

void Progress::start(const std::string& what, uint64_t total) {
  if (!enabled_) return;
  what_ = what;
  total_ = total;
  done_ = 0;
  start_ns_ = now_ns();
  last_draw_ns_ = start_ns_;
  redraw(what_);
}

void Progress::advance(uint64_t bytes) {
  if (!enabled_) return;
  done_ += bytes;
  int64_t now = now_ns();
  if (now - last_draw_ns_ < kRedrawNs) return;
  last_draw_ns_ = now;
  std::string line = what_ + " " + human_bytes(static_cast<double>(done_));
  if (total_) line += " / " + human_bytes(static_cast<double>(total_));
  std::string r = rate(done_, now - start_ns_);
  if (!r.empty()) line += ", " + r;
  redraw(line);
}

void Progress::done() {
  if (!enabled_) return;
  int64_t ns = now_ns() - start_ns_;
  std::string line = what_ + " done, " + human_bytes(static_cast<double>(done_)) + " in " + seconds(ns);
  std::string r = rate(done_, ns);
  if (!r.empty() && done_) line += ", " + r;
  redraw(line);
  put("\n");
  what_.clear();
}

void Progress::note(const std::string& line) {
  if (!enabled_) return;
  redraw(line);
  put("\n");
}

}  // namespace rrun::image
