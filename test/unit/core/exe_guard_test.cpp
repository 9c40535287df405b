#include <boost/test/unit_test.hpp>

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include <rrun/core/exe_guard.hpp>

using namespace rrun;
using core::ExeGuard;

BOOST_AUTO_TEST_SUITE(exe_guard)

// Container root in rrun's user namespace (or a joined one) that may hold
// CAP_SYS_PTRACE passes the ptrace checks over rrun's processes: only a
// view or a sealed copy keeps it out. Without it, the trampoline.
BOOST_AUTO_TEST_CASE(choice) {
  BOOST_CHECK(core::choose_exe_guard(true, true, false) == ExeGuard::sealed_copy);
  BOOST_CHECK(core::choose_exe_guard(true, true, true) == ExeGuard::sealed_copy);
  BOOST_CHECK(core::choose_exe_guard(true, false, false) == ExeGuard::trampoline);
  BOOST_CHECK(core::choose_exe_guard(true, false, true) == ExeGuard::trampoline);
  BOOST_CHECK(core::choose_exe_guard(false, true, true) == ExeGuard::trampoline);
  BOOST_CHECK(core::choose_exe_guard(false, false, true) == ExeGuard::trampoline);
  BOOST_CHECK(core::choose_exe_guard(false, true, false) == ExeGuard::dumpable_off);
}

// CAP_SYS_PTRACE (19) in any set counts: an inheritable one reaches the
// permitted set through a program's file capabilities.
BOOST_AUTO_TEST_CASE(ptrace_in_any_set) {
  const uint64_t ptrace = uint64_t{1} << 19, others = (uint64_t{1} << 21) | (uint64_t{1} << 0);
  BOOST_CHECK(!core::may_hold_ptrace({}));
  BOOST_CHECK(!core::may_hold_ptrace({others, others, others, others, others}));
  BOOST_CHECK(core::may_hold_ptrace({ptrace, 0, 0, 0, 0}));
  BOOST_CHECK(core::may_hold_ptrace({0, ptrace, 0, 0, 0}));
  BOOST_CHECK(core::may_hold_ptrace({0, 0, ptrace, 0, 0}));
  BOOST_CHECK(core::may_hold_ptrace({0, 0, 0, ptrace, 0}));
  BOOST_CHECK(core::may_hold_ptrace({0, 0, 0, 0, ptrace}));
}

BOOST_AUTO_TEST_CASE(owner_mapped) {
  char path[] = "/tmp/rrun-exe-guard-XXXXXX";
  int fd = ::mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  ::close(fd);
  uint32_t uid = ::geteuid();
  BOOST_CHECK(core::binary_owner_mapped(path, {{0, uid, 1}}));
  BOOST_CHECK(core::binary_owner_mapped(path, {{0, 100000, 65536}, {0, uid == 0 ? 0u : uid - 1, 2}}));
  BOOST_CHECK(!core::binary_owner_mapped(path, {{0, uid + 1, 65536}}));
  BOOST_CHECK(!core::binary_owner_mapped(path, {}));
  ::unlink(path);
  // What can't be inspected counts as reachable.
  BOOST_CHECK(core::binary_owner_mapped(path, {}));
}

// The test binary runs from its file, not from a sealed memfd.
BOOST_AUTO_TEST_CASE(not_sealed_here) { BOOST_CHECK(!core::running_from_sealed_copy()); }

namespace {

// An ELF header with `phdrs` right after it, as the start of a file.
std::string elf_head(const std::vector<Elf64_Phdr>& phdrs) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = static_cast<Elf64_Half>(phdrs.size());
  std::string head(reinterpret_cast<const char*>(&eh), sizeof eh);
  for (const Elf64_Phdr& ph : phdrs) head.append(reinterpret_cast<const char*>(&ph), sizeof ph);
  return head;
}

Elf64_Phdr segment(Elf64_Word type, Elf64_Off offset, Elf64_Xword filesz) {
  Elf64_Phdr ph{};
  ph.p_type = type;
  ph.p_offset = offset;
  ph.p_filesz = filesz;
  ph.p_memsz = filesz;
  return ph;
}

}  // namespace

// The sealed copy takes what the segments cover; sections past them
// (debug information) stay out.
BOOST_AUTO_TEST_CASE(loaded_extent) {
  std::string head = elf_head({segment(PT_LOAD, 0, 0x1000), segment(PT_LOAD, 0x1000, 0x2345),
                               segment(PT_GNU_STACK, 0, 0), segment(PT_NOTE, 0x200, 0x40)});
  BOOST_CHECK_EQUAL(core::elf_loaded_extent(head, 50'000'000), 0x3345u);
  // A segment past the end of the file, a truncated table, no ELF: all of it.
  BOOST_CHECK_EQUAL(core::elf_loaded_extent(head, 0x3000), 0x3000u);
  BOOST_CHECK_EQUAL(core::elf_loaded_extent(head.substr(0, head.size() - 1), 50'000'000), 50'000'000u);
  BOOST_CHECK_EQUAL(core::elf_loaded_extent("#!/bin/sh\n", 11), 11u);
  std::string no_segments = elf_head({});
  BOOST_CHECK_EQUAL(core::elf_loaded_extent(no_segments, 4096), 4096u);
}

// This test binary: its extent covers its program header table and lies
// within the file.
BOOST_AUTO_TEST_CASE(loaded_extent_of_this_binary) {
  int fd = ::open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  struct stat st;
  BOOST_REQUIRE(::fstat(fd, &st) == 0);
  std::string head(4096, '\0');
  ssize_t n = ::pread(fd, head.data(), head.size(), 0);
  ::close(fd);
  BOOST_REQUIRE(n > 0);
  head.resize(static_cast<size_t>(n));
  std::uint64_t extent = core::elf_loaded_extent(head, static_cast<std::uint64_t>(st.st_size));
  BOOST_CHECK(extent > sizeof(Elf64_Ehdr));
  BOOST_CHECK(extent <= static_cast<std::uint64_t>(st.st_size));
}

BOOST_AUTO_TEST_SUITE_END()
