// config.json: spec::parse_spec, and the parsers of its parts read from
// their own files (exec --process, update --resources, a seccomp profile).
// A spec that parses must survive serialize_spec -> parse_spec unchanged.

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <rrun/spec/parse.hpp>

#include "fuzz.hpp"

namespace spec = rrun::spec;

namespace {

using rrun::fuzz::try_parse;

void check_round_trip(const spec::Spec& s) {
  std::string text = spec::serialize_spec(s);
  spec::Spec again;
  try {
    again = spec::parse_spec(text);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serialized spec refused: %s\n%s\n", e.what(), text.c_str());
    std::abort();
  }
  if (!(again == s)) {
    std::fprintf(stderr, "round trip changed the spec:\n%s\n---\n%s\n", text.c_str(),
                 spec::serialize_spec(again).c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = rrun::fuzz::as_text(data, size);
  bool parsed = false;
  spec::Spec s;
  try {
    s = spec::parse_spec(text);
    parsed = true;
  } catch (const std::exception&) {
  }
  if (parsed) check_round_trip(s);
  try_parse([&] { spec::parse_process(text); });
  try_parse([&] { spec::parse_resources(text); });
  try_parse([&] { spec::parse_seccomp(text); });
  return 0;
}
