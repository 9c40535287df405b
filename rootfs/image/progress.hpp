#pragma once
// Progress of a pull or an unpack on a terminal: one line rewritten in
// place (what, bytes done/total, rate); nothing when disabled (stdout not a
// terminal, or --quiet).

#include <cstdint>
#include <string>

namespace rrun::image {

class Progress {
 public:
  // enabled = !quiet && isatty(STDOUT_FILENO)
  static Progress for_stdout(bool quiet);
  static Progress none() { return Progress(false); }
  explicit Progress(bool enabled) : enabled_(enabled) {}

  // A new step: "layer 2/5 sha256:abcd1234 download", total bytes (0: unknown).
  void start(const std::string& what, uint64_t total);
  void advance(uint64_t bytes);
  // Ends the step's line ("... done, 12.3 MiB in 0.4 s, 30.1 MiB/s").
  void done();
  // A line of its own between steps ("Copying config sha256:...").
  void note(const std::string& line);
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  std::string what_;
  uint64_t total_ = 0, done_ = 0;
  int64_t start_ns_ = 0, last_draw_ns_ = 0;
};

}  // namespace rrun::image
