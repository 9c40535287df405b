#pragma once
// Keeping the rrun binary out of the container's reach (CVE-2019-5736).
// The container init is a clone of rrun and `exec` clones rrun into the
// container, so until they exec the user program, /proc/PID/exe of those
// processes (and their /proc/PID/map_files entry of the binary) is the
// binary rrun runs from. The cases, chosen by choose_exe_guard():
// - the container shares rrun's user namespace (no user namespace of its
//   own, or a joined one, which may be rrun's or an ancestor) and may hold
//   CAP_SYS_PTRACE (in any capability set of its process, or a joined user
//   namespace): such a process passes the ptrace checks over rrun's
//   processes, so "not dumpable" keeps nothing out. rrun re-executes
//   itself, before anything of the container exists, from a view of its
//   binary nothing can write: an overlayfs of lower layers only, mounted
//   nowhere (runc 1.2; no copy, the page cache is shared), else a copy in a
//   memfd sealed against writes, growth and shrinking (runc 1.1's
//   cloned_binary). Every /proc/PID/exe the container can see is then that
//   view;
// - it shares rrun's user namespace but can never hold CAP_SYS_PTRACE (the
//   default of runc, Docker and Podman): /proc/PID/exe of a process that is
//   not dumpable, or whose permitted capabilities are not a subset of the
//   opener's, is closed to it (ptrace_may_access), and the init and the
//   exec process are not dumpable until exec; the user program is executed
//   through the exec trampoline, so that a `#!/proc/self/exe` program
//   reaches the sealed trampoline, not rrun. No re-execution (~4 ms of a
//   `run` on the benchmark's machine). `exec` does the same until an exec
//   of a process that may hold CAP_SYS_PTRACE (refused while the init has
//   not started: it still runs the binary) records so in the state, under
//   a lock every exec holds until its process is executed; every exec after
//   that re-executes as in the first case (exec.cpp, ExecGuardLock);
// - the container has a user namespace of its own but the binary's owner
//   is mapped into it (rootless with a binary the user owns): the init and
//   the exec process are not dumpable until exec (container root holds no
//   capability in the user namespace their memory belongs to), and the user
//   program is executed through the exec trampoline (core/trampoline.c), a
//   freestanding program of a few hundred bytes in a sealed memfd, so that
//   a `#!/proc/self/exe` program reaches the sealed trampoline, which
//   refuses to run;
// - otherwise "not dumpable" alone suffices.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rrun/os/fd.hpp>
#include <rrun/spec/spec.hpp>

#include "caps.hpp"

namespace rrun::core {

// argv[0] the trampoline insists on.
inline constexpr const char* kTrampolineMarker = "\x01rrun-trampoline";

enum class ExeGuard { dumpable_off, trampoline, sealed_copy };

// Pure: `shares_user_ns` = the container has no user namespace of its own
// or joins one; `may_ptrace` = a process of the container may hold
// CAP_SYS_PTRACE in it (may_hold_ptrace; always for a joined one);
// `owner_mapped` = the binary's owner is mapped into the container's user
// namespace.
ExeGuard choose_exe_guard(bool shares_user_ns, bool may_ptrace, bool owner_mapped);

// Whether a process with these capabilities may hold CAP_SYS_PTRACE: in
// any of its sets (an inheritable one reaches the permitted set through a
// program's file capabilities, past the bounding set).
bool may_hold_ptrace(const CapsPlan& caps);

// Whether the owner of `binary` is one of the host ids in `uid_map` (true
// when `binary` can't be inspected).
bool binary_owner_mapped(const std::string& binary, const std::vector<spec::IdMapping>& uid_map);

// Whether rrun already runs from such a view: a memfd sealed against
// writes, or the overlay view its own re-execution announced.
bool running_from_sealed_copy();

// How much of a 64-bit ELF file of `file_size` bytes, whose first bytes are
// `head`, the kernel and the dynamic loader read: up to the end of the
// farthest segment or of the program header table. What follows (the
// .debug_* and .symtab sections, the section header table) is for
// debuggers: 48 of the 50 MB of a RelWithDebInfo rrun, which the sealed
// copy then leaves out. `file_size` when `head` is not such an ELF header
// with its program header table, or a segment lies past the end.
std::uint64_t elf_loaded_extent(std::string_view head, std::uint64_t file_size);

// Re-executes rrun from the overlay view of its binary, else from a sealed
// memfd copy of it (its loaded extent, elf_loaded_extent; always when
// RRUN_TEST_EXE_COPY=memfd, for the tests), with the same argv (/proc/self/cmdline) and
// environment, unless it already runs from one; returns only then. rrun's own fds are close-on-exec and go; the
// inherited ones (stdio, --preserve-fds, LISTEN_FDS) stay. Throws
// os::SystemError.
void run_from_sealed_copy();

// The `size` bytes of a program at `bytes` in an executable memfd named
// `name`, sealed against writes, growth and shrinking. Throws
// os::SystemError (no memfd exec: vm.memfd_noexec=2).
os::UniqueFd make_sealed_program(const char* name, const unsigned char* bytes, unsigned long size);

// The trampoline in such a memfd.
os::UniqueFd make_exec_trampoline();

}  // namespace rrun::core
