#pragma once
// The runtime's log: warnings and errors for the user and for the caller
// (containerd and Podman read errors from the --log file). The library never
// prints to stdout; these write to stderr and/or the configured log file.
//
// Log file lines are logrus-shaped like runc's:
//   text: time="2026-11-27T23:47:30.123456789Z" level=error msg="..."
//   json: {"level":"error","msg":"...","time":"2026-11-27T23:47:30.123456789Z"}
// Each line is one write(2) to an O_APPEND fd. Not for the child after clone.

#include <string>
#include <string_view>

namespace rrun::core {

enum class LogFormat { text, json };
enum class LogLevel { debug, info, warning, error };

struct LogConfig {
  std::string path;  // --log; empty: no log file
  LogFormat format = LogFormat::text;
  bool debug = false;  // --debug
};

// Opens the log file (append, create 0644). Throws os::SystemError if it
// cannot be opened. Call once, early; without it nothing goes to a file.
void set_log(const LogConfig& config);
// "text" or "json"; throws os::Error for another value.
LogFormat parse_log_format(const std::string& name);

// With --debug: to the log file, or to stderr ("rrun: debug: ...") without one.
void log_debug(std::string_view msg);
// To the log file only (info is not shown on stderr).
void log_info(std::string_view msg);
// To the log file, or to stderr ("rrun: warning: ...") without one (runc
// too: under a shim or conmon rrun's stderr may be the container's).
void log_warn(std::string_view msg);
inline void warn(std::string_view msg) {
  log_warn(msg);
}
// To the log file only: the CLI prints the error line on stderr itself.
void log_error(std::string_view msg);

// One formatted log line (with the trailing newline), for tests.
std::string format_log_line(LogFormat format, LogLevel level, std::string_view msg, const std::string& time);

}  // namespace rrun::core
