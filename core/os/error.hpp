#pragma once
// Errors of the parent side (STYLE.md "Errors"): SystemError carries an errno,
// Error is everything else (validation, protocol). Messages read
// "what was tried `object`: errno text; hint", lower-case.

#include <cerrno>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace rrun::os {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SystemError : public std::system_error {
 public:
  SystemError(int err, const std::string& what) : std::system_error(err, std::generic_category(), what) {}
  int err() const noexcept { return code().value(); }
};

// Throws SystemError for the current errno.
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(int err, const std::string& what);

// Wraps the active exception with "context: inner" and rethrows it with the
// same type (SystemError keeps its errno).
[[noreturn]] void rethrow_with_context(const std::string& context);

// `s` with its control characters written as C escapes (\n, \t, \x1b, and
// \u009b for a C1 control in UTF-8), so that a message stays one printable
// line and a terminal shows an escape sequence from the input instead of
// acting on it (ESC ]0; ... BEL sets the window title).
std::string escape_control(std::string_view s);

// "`path`" — the house style for naming an object in a message; control
// characters escaped.
inline std::string quote(const std::string& s) {
  return "`" + escape_control(s) + "`";
}

}  // namespace rrun::os
