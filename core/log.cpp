#include "log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <rrun/os/error.hpp>
#include <rrun/os/fd.hpp>
#include <rrun/os/file.hpp>

#include "state.hpp"

namespace rrun::core {

namespace {

struct Logger {
  os::UniqueFd fd;
  LogFormat format = LogFormat::text;
  bool debug = false;
};

Logger& logger() {
  static Logger l;
  return l;
}

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "error";
}

// logrus quotes a text value when it holds anything beyond a safe set; we
// always quote msg and time, escaping like Go's %q for the common cases.
std::string quote_text(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

void write_line(int fd, const std::string& line) {
  // Best effort: a failing log must not turn into a second error.
  ssize_t n;
  do {
    n = ::write(fd, line.data(), line.size());
  } while (n < 0 && errno == EINTR);
}

void to_file(LogLevel level, std::string_view msg) {
  Logger& l = logger();
  if (!l.fd) return;
  write_line(l.fd.get(), format_log_line(l.format, level, msg, now_rfc3339()));
}

void to_stderr(const char* prefix, std::string_view msg) {
  std::string line = "rrun: ";
  line += prefix;
  line += msg;
  line += '\n';
  write_line(STDERR_FILENO, line);
}

}  // namespace

std::string format_log_line(LogFormat format, LogLevel level, std::string_view msg, const std::string& time) {
  if (format == LogFormat::json) {
    nlohmann::ordered_json j;
    j["level"] = level_name(level);
    j["msg"] = std::string(msg);
    j["time"] = time;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  return "time=" + quote_text(time) + " level=" + level_name(level) + " msg=" + quote_text(msg) + "\n";
}

LogFormat parse_log_format(const std::string& name) {
  if (name == "text" || name.empty()) return LogFormat::text;
  if (name == "json") return LogFormat::json;
  throw os::Error("invalid --log-format \"" + name + "\": use text or json");
}

void set_log(const LogConfig& config) {
  Logger& l = logger();
  l.format = config.format;
  l.debug = config.debug;
  l.fd.reset();
  if (!config.path.empty()) l.fd = os::open_file(config.path, O_WRONLY | O_APPEND | O_CREAT, 0644);
}

void log_debug(std::string_view msg) {
  Logger& l = logger();
  if (!l.debug) return;
  if (l.fd)
    to_file(LogLevel::debug, msg);
  else
    to_stderr("debug: ", msg);
}

void log_info(std::string_view msg) {
  to_file(LogLevel::info, msg);
}

// With --log, warnings go to that file only, as runc's do: the caller (a
// containerd shim, conmon) reads it, and rrun's stderr is then often the
// container's own (create gets the container's stdio), where a warning would
// become container output.
void log_warn(std::string_view msg) {
  if (logger().fd)
    to_file(LogLevel::warning, msg);
  else
    to_stderr("warning: ", msg);
}

void log_error(std::string_view msg) {
  to_file(LogLevel::error, msg);
}

}  // namespace rrun::core
