#pragma once
// Keeping the rrun binary out of the container's reach (CVE-2019-5736)
// without copying it. rrun never re-executes itself: the container init is
// a clone of rrun, so until it execs the user program its /proc/self/exe is
// the host's rrun binary. Two defences:
// - the init is not dumpable until exec, so no other process of the
//   container can open /proc/INIT/exe or ptrace it;
// - when container root could write the rrun binary (no user namespace, or
//   the binary's owner is mapped into it), the init execs the user program
//   through the exec trampoline (core/trampoline.c), a freestanding program
//   of a few hundred bytes held in a sealed memfd. A `#!/proc/self/exe`
//   program then reaches the sealed trampoline, which refuses to run.

#include <string>
#include <vector>

#include <rrun/os/fd.hpp>
#include <rrun/spec/spec.hpp>

namespace rrun::core {

// argv[0] the trampoline insists on.
inline constexpr const char* kTrampolineMarker = "\x01rrun-trampoline";

// Whether container root could open `binary` for writing: the container has
// no user namespace of its own (or joins one we can't see into), or the
// binary's owner is one of the host ids in `uid_map`.
bool container_can_write_binary(const std::string& binary, bool new_user_ns, bool joined_user_ns,
                                const std::vector<spec::IdMapping>& uid_map);

// The trampoline in a memfd sealed against writes, growth and shrinking.
// Throws os::SystemError (no memfd exec: vm.memfd_noexec=2).
os::UniqueFd make_exec_trampoline();

}  // namespace rrun::core
