// Linked into the Release rrun only (RRUN_STATIC_LIBS), with
// -Wl,--wrap for std::ios_base::Init and the eight standard streams.
//
// Debian's yaml-cpp headers include <iostream>, so each of yaml-cpp's
// translation units (linked statically) constructs a std::ios_base::Init
// before main: the standard streams and, with them, the classic locale and
// its 28 char and wchar_t facets. That ran on every rrun command, a plain
// `run` too (11% of the instructions of `rrun state`, and the pages of that
// code and of the C library's wide-character functions it calls). Nothing
// in rrun writes to std::cout, std::cerr or the others (rrun writes its
// output with write(2)); string streams build their locale when they need
// it. So the constructor is a no-op here, and any use of a standard stream
// object fails the link (`undefined symbol: __wrap__ZSt4cout`) instead of
// touching an unconstructed object.

extern "C" {
void __wrap__ZNSt8ios_base4InitC1Ev(void*) {}
void __wrap__ZNSt8ios_base4InitD1Ev(void*) {}
}
