#pragma once
// Container IDs, validated before any path is built from them.

#include <cstddef>
#include <string_view>

namespace rrun::core {

// runc sets no bound; rrun keeps every name derived from an ID (the lock
// file `.lock@ID`, a systemd scope `rrun-ID.scope`, a cgroup leaf) within
// NAME_MAX (255).
inline constexpr std::size_t kMaxContainerIdLength = 200;

// runc's rule: one or more of ASCII letters, digits and `_ + - .`, not "."
// or ".."; at most kMaxContainerIdLength bytes. Throws os::Error naming the
// ID: invalid container id "a/b": only letters, digits and _ + - . are allowed
void validate_container_id(std::string_view id);
// The same rule as a predicate.
bool is_valid_container_id(std::string_view id) noexcept;

}  // namespace rrun::core
